"""Margin calls on SQLite and PostgreSQL: a call is recorded as an account event when the status
changes (never on every sweep), with the equity and requirement of that moment; in a call only
risk-reducing orders pass and nothing can be withdrawn; the events are served by
``GET /api/v1/account/events`` and ``hashedge account events``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.errors import InsufficientCollateral
from hashedge.services import accounts, ledger, margin_calls, risk, trading
from hashedge.web import create_app

SYMBOL = "HP-2026-12"  # 31 PH-days a contract
HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def mark(runtime, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


def sweep_events(runtime):
    return margin_calls.record_status_changes(runtime.uow(), risk.sweep(runtime.uow(), runtime.clock))


@pytest.fixture
def pair(runtime):
    """A long with 10 contracts at 50,000 on 2,500,000 sats (IM 2,325,000, MM 1,550,000) and a rich short."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50000)
    ids = {}
    for name, sats in (("long", 2_500_000), ("short", 100_000_000)):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        ids[name] = (account.id, key)
    for name, side in (("short", "sell"), ("long", "buy")):
        trading.place_order(runtime.uow(), runtime.clock, ids[name][0], instrument=SYMBOL, side=side,
                            order_type="limit", quantity=10, price=50000)
    return ids


def test_a_margin_call_is_one_event_with_the_figures_of_the_moment(runtime, pair):
    long_id = pair["long"][0]
    assert sweep_events(runtime) == []
    mark(runtime, 49500)  # equity 2,500,000 - 7,750 taker fee - 155,000 = 2,337,250 >= IM 2,301,750
    assert sweep_events(runtime) == []
    mark(runtime, 49000)
    [call] = sweep_events(runtime)
    equity = 2_500_000 - 7_750 - 1_000 * 10 * 31
    assert (call.account_id, call.kind.value) == (str(long_id), "margin_call")
    assert (call.standing.equity_sats, call.standing.initial_margin_sats,
            call.standing.maintenance_margin_sats) == (equity, 2_278_500, 1_519_000)
    mark(runtime, 48900)
    assert sweep_events(runtime) == []  # still in the call: nothing new
    mark(runtime, 50500)
    [met] = sweep_events(runtime)
    assert met.kind.value == "healthy"
    with runtime.uow() as uow:
        assert [s.event.kind.value for s in uow.account_events.of_account(long_id)] == ["healthy", "margin_call"]


def test_in_a_margin_call_only_reductions_pass_and_nothing_can_be_withdrawn(runtime, pair):
    long_id = pair["long"][0]
    mark(runtime, 49000)
    sweep_events(runtime)

    def place(side, quantity, price):
        return trading.place_order(runtime.uow(), runtime.clock, long_id, instrument=SYMBOL, side=side,
                                   order_type="limit", quantity=quantity, price=price)

    with pytest.raises(trading.InsufficientMargin):
        place("buy", 1, 48000)  # adds risk, even far below the mark
    with pytest.raises(trading.InsufficientMargin):
        place("sell", 11, 52000)  # flips through zero: not a reduction
    with pytest.raises(InsufficientCollateral):
        ledger.withdraw(runtime.uow(), runtime.clock, long_id, 1, "one-sat")
    reduced = place("sell", 4, 52000)  # rests: it only reduces the long
    assert reduced.order.is_resting
    with pytest.raises(trading.InsufficientMargin):
        place("sell", 7, 52000)  # with the resting 4, more than the position
    assert ledger.check_balances(runtime.uow()).ok


def test_events_are_served_to_their_account_and_printed_by_the_cli(runtime, pair, database_url):
    (long_id, long_key), (_, short_key) = pair["long"], pair["short"]
    mark(runtime, 49000)
    sweep_events(runtime)
    client = create_app(runtime).test_client()
    mine = client.get("/api/v1/account/events", headers={"Authorization": f"Bearer {long_key}"})
    assert mine.status_code == 200 and (mine.json["total"], mine.json["page"]) == (1, 1)
    [event] = mine.json["items"]
    assert (event["kind"], event["equity_sats"], event["liquidation_id"], event["detail"]) == (
        "margin_call", 2_500_000 - 7_750 - 1_000 * 10 * 31, None, {})
    assert client.get("/api/v1/account/events", headers={"Authorization": f"Bearer {short_key}"}).json["items"] == []
    assert client.get("/api/v1/account/events").status_code == 401
    bad = client.get("/api/v1/account/events?page_size=0", headers={"Authorization": f"Bearer {long_key}"})
    assert bad.status_code == 400 and "page_size" in bad.json["error"]["fields"]
    later = client.get("/api/v1/account/events", query_string={"start": "2030-01-01T00:00:00Z"},
                       headers={"Authorization": f"Bearer {long_key}"})
    assert later.json["total"] == 0

    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}
    printed = subprocess.run([HASHEDGE, "account", "events", "long", "--json"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == [{**event, "occurred_at": event["occurred_at"].replace("Z", "+00:00")}]
    missing = subprocess.run([HASHEDGE, "account", "events", "nobody"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")

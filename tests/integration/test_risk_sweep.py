"""The risk sweep over stored state on SQLite and PostgreSQL: every account's figures equal the
per-account margin engine's to the sat, margin calls and liquidatable accounts come first, and
``hashedge risk --json`` prints them."""

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
from hashedge.errors import DataUnavailable
from hashedge.services import accounts, ledger, risk, trading
from hashedge.services.margin import margin_of

DECEMBER, JANUARY = "HP-2026-12", "HP-2027-01"
HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def mark(runtime, symbol: str, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))  # a newer mark than the last
    with runtime.uow() as uow:
        uow.marks.add(symbol, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


@pytest.fixture
def book(runtime):
    """Four accounts: a thin short, a well-funded long, a spread trader and one with no position."""
    with runtime.uow() as uow:
        for year, month in ((2026, 12), (2027, 1)):
            uow.instruments.add(hashprice_monthly(year, month), runtime.clock.now())
        uow.commit()
    mark(runtime, DECEMBER, 50000)
    mark(runtime, JANUARY, 48000)
    ids = {}
    for name, deposit in (("thin", 2_000_000), ("rich", 100_000_000), ("spread", 20_000_000), ("idle", 5)):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, deposit, f"seed-{name}")
        ids[name] = account.id

    def cross(seller, buyer, symbol, quantity, price):
        trading.place_order(runtime.uow(), runtime.clock, ids[seller], instrument=symbol, side="sell",
                            order_type="limit", quantity=quantity, price=price)
        trading.place_order(runtime.uow(), runtime.clock, ids[buyer], instrument=symbol, side="buy",
                            order_type="limit", quantity=quantity, price=price)

    cross("thin", "rich", DECEMBER, 1, 50000)  # IM 232,500 on 1,550,000 notional
    cross("spread", "rich", JANUARY, 3, 48000)
    cross("rich", "spread", DECEMBER, 2, 50000)
    return ids


def test_the_sweep_equals_the_per_account_engine_to_the_sat(runtime, book):
    mark(runtime, DECEMBER, 51234)  # the short loses 1,234 x 31 a contract
    result = risk.sweep(runtime.uow(), runtime.clock)
    assert set(result.accounts.index) == {str(i) for i in book.values()}
    for name, account_id in book.items():
        with runtime.uow() as uow:
            one = margin_of(uow, account_id)
        row = result.accounts.loc[str(account_id)]
        assert row["name"] == name
        assert (row["equity_sats"], row["initial_margin_sats"], row["maintenance_margin_sats"], row["status"]) == (
            one.equity_sats, one.initial_margin_sats, one.maintenance_margin_sats, one.status.value), name
    assert result.counts() == {"healthy": 4, "margin_call": 0, "liquidatable": 0}


def test_accounts_at_risk_come_first_and_the_cli_prints_them(runtime, book, database_url):
    mark(runtime, DECEMBER, 105000)  # thin: equity 2,000,000 - 310 fee - 55,000 x 31 < MM of 325,500
    mark(runtime, JANUARY, 60000)   # spread: short 3 Jan loses 12,000 x 31 x 3, long Dec gains
    result = risk.sweep(runtime.uow(), runtime.clock)
    at_risk = result.at_risk()
    assert list(at_risk["name"]) == ["thin"]
    thin = at_risk.iloc[0]
    assert thin["equity_sats"] == 2_000_000 - 310 - 55_000 * 31 == 294_690
    assert thin["maintenance_margin_sats"] == 325_500 and thin["status"] == "liquidatable"

    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}
    printed = subprocess.run([HASHEDGE, "risk", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    report = json.loads(printed.stdout)
    assert report["counts"] == {"healthy": 3, "margin_call": 0, "liquidatable": 1}
    assert [(a["id"], a["status"], a["equity_sats"]) for a in report["accounts"]] == [
        (book["thin"], "liquidatable", 294_690)]


def test_an_unmarked_instrument_takes_no_orders_and_the_sweep_is_unaffected(runtime, book):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2027, 2), runtime.clock.now())
        uow.commit()
    with pytest.raises(DataUnavailable):  # no position yet: nothing to mark, nothing refused
        trading.place_order(runtime.uow(), runtime.clock, book["rich"], instrument="HP-2027-02", side="buy",
                            order_type="limit", quantity=1, price=47000)
    assert risk.sweep(runtime.uow(), runtime.clock).counts()["healthy"] == 4

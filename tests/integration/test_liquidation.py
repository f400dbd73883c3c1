"""The liquidation engine through the services on SQLite and PostgreSQL: partial liquidation against
the book, takeover by auto-deleveraging, a bankrupt account covered by the insurance fund, every
record replaying, the ledger balanced and positions netting to zero."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hashedge.domain import ledger as journal
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger, liquidation, liquidation_records, trading

SYMBOL = "HP-2026-12"  # 31 PH-days a contract
HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def mark(runtime, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def order(runtime, account_id: int, side: str, quantity: int, price: int):
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                               order_type="limit", quantity=quantity, price=price)


def balances(runtime) -> dict:
    with runtime.uow() as uow:
        return {a.key: v for a, v in uow.ledger.balances().items()}


def contribute_to_insurance(runtime, sats: int) -> None:
    from hashedge.services.ledger import post

    with runtime.uow() as uow:
        post(uow, journal.contribution(journal.INSURANCE_FUND, sats, idempotency_key="seed-fund",
                                       occurred_at=runtime.clock.now()), runtime.clock.now())
        uow.commit()


@pytest.fixture
def market(runtime):
    """A long with 10 contracts at 50,000 on 2,000,000 sats (IM 2,325,000 at entry: it deposits more
    first), a rich short, a maker."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50000)
    ids = {"long": funded(runtime, "long", 2_400_000), "short": funded(runtime, "short", 100_000_000),
           "maker": funded(runtime, "maker", 100_000_000)}
    order(runtime, ids["short"], "sell", 10, 50000)
    order(runtime, ids["long"], "buy", 10, 50000)  # pays the 7,750 taker fee
    return ids


def test_a_solvent_account_is_reduced_against_the_book_and_the_record_replays(runtime, market):
    bid = order(runtime, market["maker"], "buy", 20, 46500)
    mark(runtime, 47000)  # equity 2,392,250 - 930,000 = 1,462,250 >= MM 1,457,000: a margin call only
    assert liquidation.sweep(runtime.uow, runtime.clock).liquidations == []
    mark(runtime, 46800)  # equity 2,392,250 - 992,000 = 1,400,250 < MM 1,450,800
    report = liquidation.sweep(runtime.uow, runtime.clock)
    [result] = report.liquidations
    outcome = result.outcome
    assert result.liquidation_id == f"L{market['long']}-1"
    assert outcome.trigger.equity_sats < outcome.trigger.maintenance_margin_sats
    assert {f.stage for f in outcome.fills} == {"book"} and outcome.penalty_sats > 0
    with runtime.uow() as uow:
        trades = uow.trades.of_account(market["long"], limit=50)
        position = uow.positions.get(market["long"], hashprice_monthly(2026, 12))
        maker_order = uow.orders.get(bid.order.order_id).order
        events = [s.event.kind.value for s in uow.account_events.of_account(market["long"])]
    liquidation_fills = [t for t in trades if t.kind == "liquidation"]
    assert sum(t.fill.quantity for t in liquidation_fills) == 10 - position.quantity
    assert all(t.fill.price == Decimal(46500) and t.seller_fee_sats == 0 and t.buyer_fee_sats > 0
               for t in liquidation_fills)
    assert maker_order.filled_quantity == 10 - position.quantity
    assert events[:2] == ["liquidation", "liquidatable"]
    after = balances(runtime)
    assert after["collateral:%d" % market["long"]] == outcome.collateral_after_sats
    assert after["penalty_escrow"] == outcome.penalty_sats
    assert ledger.check_balances(runtime.uow()).ok
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).ok
    assert liquidation.sweep(runtime.uow, runtime.clock).liquidations == []  # done: not liquidated again


def test_without_a_book_the_opposite_positions_take_the_rest_at_the_mark(runtime, market):
    mark(runtime, 46800)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    outcome = result.outcome
    assert {f.stage for f in outcome.fills} == {"adl"} and {f.fill.price for f in outcome.fills} == {Decimal(46800)}
    [event] = outcome.adl_events
    assert event.account_id == str(market["short"])
    with runtime.uow() as uow:
        adl = [t for t in uow.trades.of_account(market["short"], limit=50) if t.kind == "adl"]
        short_events = [s.event for s in uow.account_events.of_account(market["short"])]
        assert uow.positions.net_quantity(SYMBOL) == 0
    assert sum(t.fill.quantity for t in adl) == event.quantity and all(t.buyer_fee_sats == 0 for t in adl)
    assert [(e.kind.value, e.liquidation_id, e.detail["quantity"]) for e in short_events] == [
        ("adl", result.liquidation_id, event.quantity)]
    assert ledger.check_balances(runtime.uow()).ok
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).ok


def test_a_bankrupt_account_is_closed_and_its_loss_paid_by_the_insurance_fund(runtime, market):
    contribute_to_insurance(runtime, 5_000_000)
    mark(runtime, 40000)  # equity 2,392,250 - 3,100,000 = -707,750
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    outcome = result.outcome
    assert outcome.trigger.equity_sats == -707_750
    assert (outcome.covered_by("insurance_fund"), outcome.uncovered_sats, outcome.penalty_sats) == (707_750, 0, 0)
    after = balances(runtime)
    assert after["insurance_fund"] == 5_000_000 - 707_750 and after[f"collateral:{market['long']}"] == 0
    with runtime.uow() as uow:
        assert uow.positions.net_quantity(SYMBOL) == 0
        assert uow.positions.of_account(market["long"]) == []
        [record] = uow.liquidations.listing(account_id=market["long"])
    assert (record.insurance_fund_sats, record.shortfall_sats, record.adl_contracts) == (707_750, 707_750, 10)
    assert ledger.check_balances(runtime.uow()).ok
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).ok


def test_a_tampered_record_does_not_replay(runtime, market):
    mark(runtime, 46800)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    with runtime.engine.begin() as connection:
        from sqlalchemy import text

        stored = connection.execute(text("SELECT outcome FROM liquidations")).scalar()
        connection.execute(text("UPDATE liquidations SET outcome = :o"),
                           {"o": stored.replace('"penalty_sats":', '"penalty_sats":1', 1)})
    replayed = liquidation_records.replay(runtime.uow(), result.liquidation_id)
    assert not replayed.ok and any(line.startswith("penalty_sats:") for line in replayed.differences)


def test_the_cli_lists_shows_and_replays_records(runtime, market, database_url):
    mark(runtime, 46800)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}

    def run(*args):
        return subprocess.run([HASHEDGE, *args], env=env, capture_output=True, text=True, timeout=120)

    listed = run("liquidations", "list", "--account", "long", "--json")
    assert listed.returncode == 0, listed.stderr
    [record] = json.loads(listed.stdout)
    assert (record["id"], record["penalty_sats"]) == (result.liquidation_id, result.outcome.penalty_sats)
    shown = run("liquidations", "show", result.liquidation_id)
    assert shown.returncode == 0 and "step 1: sell" in shown.stdout and "adl" in shown.stdout
    full = json.loads(run("liquidations", "show", result.liquidation_id, "--json").stdout)
    assert full["inputs"]["account"]["account_id"] == str(market["long"])
    assert full["inputs"]["parameters"]["liquidation.penalty_ratio"] == "0.01"
    replayed = run("liquidations", "replay", result.liquidation_id)
    assert replayed.returncode == 0 and "replays exactly" in replayed.stdout
    missing = run("liquidations", "replay", "L999-1")
    assert missing.returncode == 1 and missing.stderr.startswith("error: no liquidation")

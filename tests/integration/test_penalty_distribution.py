"""The nightly penalty distribution on SQLite and PostgreSQL: a date's penalties wait in escrow until
the date has closed, then one journal entry shares them out (takers of the liquidation fills pro rata
to the notional they took, the defaulted account's OTC counterparty pro rata to its open exposure,
the insurance and community funds, rounding remainders to the insurance fund), once: settlement runs
again, a second distribution, or a crash before the commit never pay twice."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from hashedge.domain import ledger as journal
from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.liquidation.penalties import split
from hashedge.errors import InvalidInput
from hashedge.services import accounts, block_trades, ledger, liquidation, penalties, settlement, trading
from hashedge.services.margin import risk_parameters

SYMBOL = "HP-2026-12"
DAY = date(2026, 11, 1)
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


def entries(runtime, kind: str):
    with runtime.uow() as uow:
        return [e.entry for e in uow.ledger.entries() if e.entry.kind.value == kind]


@pytest.fixture
def liquidated_day(runtime):
    """On 1 November: a long of 12 (10 from the book, 2 in a block trade with ``otc``) liquidated,
    partly against a maker's bids, partly by deleveraging the shorts."""
    runtime.clock.set(datetime(2026, 11, 1, 10, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50000)
    ids = {name: funded(runtime, name, sats) for name, sats in (
        ("long", 2_900_000), ("short", 100_000_000), ("otc", 100_000_000), ("maker", 100_000_000))}
    trading.place_order(runtime.uow(), runtime.clock, ids["short"], instrument=SYMBOL, side="sell",
                        order_type="limit", quantity=10, price=50000)
    trading.place_order(runtime.uow(), runtime.clock, ids["long"], instrument=SYMBOL, side="buy",
                        order_type="limit", quantity=10, price=50000)
    block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=ids["long"], seller_id=ids["otc"],
                                  instrument=SYMBOL, quantity=2, price=50000)
    trading.place_order(runtime.uow(), runtime.clock, ids["maker"], instrument=SYMBOL, side="buy",
                        order_type="limit", quantity=2, price=45500)
    mark(runtime, 46000)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    assert {f.stage for f in result.outcome.fills} == {"book", "adl"} and result.outcome.penalty_sats > 0
    return ids, result


def test_penalties_wait_for_the_close_then_are_shared_out_once(runtime, liquidated_day):
    ids, result = liquidated_day
    outcome = result.outcome
    with pytest.raises(InvalidInput, match="closed"):
        penalties.distribute_penalties(runtime.uow(), runtime.clock, DAY)
    early = settlement.run_daily_settlement(runtime.uow(), runtime.clock, DAY)  # today: provisional
    assert early.provisional and early.penalties_sats == {} and entries(runtime, "penalty_distribution") == []

    runtime.clock.set(datetime(2026, 11, 2, 0, 5, tzinfo=timezone.utc))
    nightly = settlement.run_daily_settlement(runtime.uow(), runtime.clock, DAY)  # the date's final run
    assert not nightly.provisional and nightly.penalties_sats == {DAY.isoformat(): outcome.penalty_sats}
    [entry] = entries(runtime, "penalty_distribution")
    # expected from the record: notional each counterparty took, and the OTC exposure it recorded
    takers: dict[str, int] = {}
    for item in outcome.fills:
        takers[item.counterparty] = takers.get(item.counterparty, 0) + int(item.fill.price * item.fill.quantity * 31)
    with runtime.uow() as uow:
        [record] = uow.liquidations.on_date(DAY)
    assert record.inputs["otc_exposure_sats"] == {str(ids["otc"]): 2 * 46000 * 31}
    shares = split(outcome.penalty_sats, takers_notional_sats=takers,
                   otc_exposure_sats=record.inputs["otc_exposure_sats"], params=risk_parameters())
    paid = {p.account.key: p.amount_sats for p in entry.postings}
    assert paid.pop("penalty_escrow") == -outcome.penalty_sats
    assert paid == {**{f"collateral:{a}": v for a, v in shares.by_recipient().items()},
                    "insurance_fund": shares.insurance_fund_sats, "community_fund": shares.community_fund_sats}
    assert str(ids["maker"]) in shares.takers_sats and str(ids["otc"]) in shares.otc_sats
    assert str(ids["long"]) not in shares.by_recipient()
    statement = ledger.statement(runtime.uow(), ids["maker"])
    [line] = [line for line in statement.lines if line.kind == "penalty_distribution"]
    assert line.amount_sats == shares.by_recipient()[str(ids["maker"])]

    again = penalties.distribute_penalties(runtime.uow(), runtime.clock, DAY)
    assert again.already_done and again.total_sats == outcome.penalty_sats
    assert settlement.run_daily_settlement(runtime.uow(), runtime.clock, DAY).already_done
    assert len(entries(runtime, "penalty_distribution")) == 1
    with runtime.uow() as uow:
        assert uow.ledger.balances().get(journal.PENALTY_ESCROW) == 0
    assert ledger.check_balances(runtime.uow()).ok


def test_a_distribution_killed_before_its_commit_pays_nothing_and_then_exactly_once(runtime, liquidated_day,
                                                                                      database_url):
    _, result = liquidated_day
    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}  # the real clock: 1 November has closed
    killed = subprocess.run([HASHEDGE, "penalties", "distribute", "--date", DAY.isoformat()],
                            env={**env, "HASHEDGE_FAULT": "penalties.before_commit"}, capture_output=True,
                            text=True, timeout=120)
    assert killed.returncode == -9
    assert entries(runtime, "penalty_distribution") == []
    for _ in range(2):
        done = subprocess.run([HASHEDGE, "penalties", "distribute", "--date", DAY.isoformat()], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert "already distributed" in done.stdout
    [entry] = entries(runtime, "penalty_distribution")
    assert entry.amount_for(journal.PENALTY_ESCROW) == (
        -result.outcome.penalty_sats)
    assert ledger.check_balances(runtime.uow()).ok

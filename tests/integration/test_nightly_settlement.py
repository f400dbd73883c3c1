"""Settlement by date as the nightly job runs it, on SQLite and PostgreSQL: closed dates caught up
in order, a date not begun or before the first listing refused, today settled early only
provisionally (nothing expires, and the real close still settles after midnight)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.parameters import RiskParameters
from hashedge.errors import InvalidInput
from hashedge.jobs.scheduler import JobContext, settle_daily_job, slot_of
from hashedge.services import accounts, ledger, settlement, trading

UTC = timezone.utc
SYMBOL = "HP-2026-11"  # November: last trading at the end of 30 November


@pytest.fixture
def hedged(runtime):
    """HP-2026-11 marked at 50,000 and a short/long pair of 2 contracts, on 1 November."""
    clock = runtime.clock
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 11), clock.now())
        uow.marks.add(SYMBOL, clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    ids = []
    for name in ("short", "long"):
        account, _ = accounts.create_account(runtime.uow(), clock, name)
        ledger.deposit(runtime.uow(), clock, account.id, 50_000_000, f"seed-{name}")
        ids.append(account.id)
    for account_id, side in zip(ids, ("sell", "buy")):
        trading.place_order(runtime.uow(), clock, account_id, instrument=SYMBOL, side=side, order_type="limit",
                            quantity=2, price=50000)
    return ids


def mark(runtime, at: datetime, price: int) -> None:
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, at, Decimal(price), "model", Decimal(price))
        uow.commit()


def collateral(runtime, account_id: int) -> int:
    return accounts.account_summary(runtime.uow(), account_id).collateral_sats


def fee_rebates(runtime, day: date) -> dict[int, int]:
    """What the night's fee distribution paid each maker (the makers' share of the date's fees)."""
    with runtime.uow() as uow:
        run = uow.settlement_runs.get(day, "fees")
    return {int(a): v for a, v in run.summary["makers_sats"].items()} if run else {}


def test_the_job_settles_every_closed_date_since_the_last_one_in_order(runtime, hedged):
    short, _long = hedged
    clock = runtime.clock
    mark(runtime, datetime(2026, 11, 1, 18, tzinfo=UTC), 50100)
    mark(runtime, datetime(2026, 11, 3, 18, tzinfo=UTC), 49900)
    clock.set(datetime(2026, 11, 2, 1, tzinfo=UTC))
    first = settle_daily_job(JobContext(runtime, None), slot_of(clock.now(), 3600))
    assert first["settled_dates"] == ["2026-11-01"]  # no history: yesterday only
    # maker fee (2 bps), then VM; the night shares the date's fees out (maker 2 bps + taker 5 bps),
    # the makers' share of it to the only maker
    rebate = int((600 + 1500) * RiskParameters().fee_split_makers)
    assert collateral(runtime, short) == 50_000_000 - 600 + rebate - 100 * 2 * 30

    clock.set(datetime(2026, 11, 5, 2, tzinfo=UTC))  # the scheduler was down for three days
    caught_up = settle_daily_job(JobContext(runtime, None), slot_of(clock.now(), 3600))
    assert caught_up["settled_dates"] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    # 1 Nov re-marked to 50,100; 3 Nov to 49,900: the short is back to +100 over its entry
    assert collateral(runtime, short) == 50_000_000 - 600 + rebate + 100 * 2 * 30
    assert settle_daily_job(JobContext(runtime, None), slot_of(clock.now(), 3600)) is None  # same slot
    clock.advance(timedelta(hours=1))
    assert settle_daily_job(JobContext(runtime, None), slot_of(clock.now(), 3600))["settled_dates"] == []
    assert ledger.check_balances(runtime.uow()).ok


def test_a_date_that_has_not_begun_is_refused_and_changes_nothing(runtime, hedged):
    with pytest.raises(InvalidInput, match="has not begun") as refused:
        settlement.run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 11, 2))
    assert "date" in refused.value.fields
    with runtime.uow() as uow:
        assert uow.settlement_runs.get(date(2026, 11, 2), "daily") is None


def test_settling_today_early_never_expires_a_contract_still_trading(runtime, hedged):
    clock = runtime.clock
    clock.set(datetime(2026, 11, 30, 12, tzinfo=UTC))  # the contract trades until midnight
    mark(runtime, clock.now(), 50050)
    early = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 11, 30))
    assert early.provisional and early.marks_as_of == clock.now()
    assert SYMBOL not in early.pending and SYMBOL not in early.final_settlements
    assert early.variation_margin_sats[SYMBOL] == {str(hedged[0]): -3_000, str(hedged[1]): 3_000}
    with runtime.uow() as uow:
        assert uow.instruments.get(SYMBOL).status == "listed"
    trading.place_order(runtime.uow(), clock, hedged[1], instrument=SYMBOL, side="sell", order_type="limit",
                        quantity=1, price=50100)  # still open for trading


def test_an_early_run_is_provisional_and_the_close_still_settles_after_midnight(runtime, hedged):
    """Intraday at 50,050, close at 50,020: the short pays 3,000 at noon and gets 1,800 back at the
    close, 1,200 in all: what one run at the close would have moved ((50,020 - 50,000) x 2 x 30)."""
    short, long = hedged
    clock = runtime.clock
    start = {a: collateral(runtime, a) for a in hedged}
    clock.set(datetime(2026, 11, 1, 12, tzinfo=UTC))
    mark(runtime, datetime(2026, 11, 1, 11, tzinfo=UTC), 50050)
    early = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 11, 1))
    assert (early.provisional, early.already_done) == (True, False)
    assert early.variation_margin_sats[SYMBOL] == {str(short): -3_000, str(long): 3_000}
    again = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 11, 1))
    assert again.already_done and again.provisional and again.variation_margin_sats == early.variation_margin_sats
    assert {a: collateral(runtime, a) for a in hedged} == {short: start[short] - 3_000, long: start[long] + 3_000}

    mark(runtime, datetime(2026, 11, 1, 20, tzinfo=UTC), 50020)
    clock.set(datetime(2026, 11, 2, 1, tzinfo=UTC))
    job = settle_daily_job(JobContext(runtime, None), slot_of(clock.now(), 3600))
    assert job["settled_dates"] == ["2026-11-01"]  # the provisional run did not consume the close
    close = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 11, 1))
    assert close.already_done and not close.provisional
    assert close.variation_margin_sats[SYMBOL] == {str(short): 1_800, str(long): -1_800}
    assert close.marks_as_of == datetime(2026, 11, 2, tzinfo=UTC)
    rebate = fee_rebates(runtime, date(2026, 11, 1))
    assert rebate and set(rebate) == {short}  # the short made the market
    assert {a: collateral(runtime, a) for a in hedged} == {short: start[short] - 1_200 + rebate[short],
                                                           long: start[long] + 1_200}
    with runtime.uow() as uow:
        [position] = [p for p in uow.positions.open_in(SYMBOL, Decimal(30)) if p.account_id == str(short)]
        runs = [uow.settlement_runs.get(date(2026, 11, 1), kind) for kind in ("provisional", "daily")]
    assert position.open_value == Decimal(-2 * 50020)  # re-marked at the close
    assert [run.kind for run in runs] == ["provisional", "daily"]
    assert ledger.check_balances(runtime.uow()).ok


def test_a_date_before_the_first_listing_is_refused_and_stores_nothing(runtime, hedged):
    for day in (date(1970, 1, 1), date(2026, 10, 31)):
        with pytest.raises(InvalidInput, match=r"before the platform's first listing \(2026-11-01\)") as refused:
            settlement.run_daily_settlement(runtime.uow(), runtime.clock, day)
        assert refused.value.fields == {"date": ["must be 2026-11-01 or later"]}
        with runtime.uow() as uow:
            assert uow.settlement_runs.get(day, "daily") is None


def test_nothing_settles_before_anything_is_listed(runtime):
    runtime.clock.set(datetime(2026, 11, 3, 1, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="no contract has been listed yet"):
        settlement.run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 11, 2))
    assert settle_daily_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 3600))["settled_dates"] == []
    with runtime.uow() as uow:
        assert uow.settlement_runs.latest_date("daily") is None


def test_variation_margin_for_many_accounts_moves_each_balance_exactly(runtime):
    """Enough accounts for the bulk paths (PostgreSQL updates positions and balances from arrays)."""
    clock = runtime.clock
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 11), clock.now())
        uow.commit()
    mark(runtime, clock.now(), 50000)
    shorts, longs = [], []
    for i in range(36):
        account, _ = accounts.create_account(runtime.uow(), clock, f"acct-{i}")
        ledger.deposit(runtime.uow(), clock, account.id, 50_000_000, f"seed-{i}")
        (shorts if i % 2 == 0 else longs).append(account.id)
    for short, long in zip(shorts, longs):  # each pair trades 1 + its index contracts
        quantity = 1 + shorts.index(short)
        for account_id, side in ((short, "sell"), (long, "buy")):
            trading.place_order(runtime.uow(), clock, account_id, instrument=SYMBOL, side=side,
                                order_type="limit", quantity=quantity, price=50000)
    before = {a: collateral(runtime, a) for a in shorts + longs}
    mark(runtime, datetime(2026, 11, 1, 20, tzinfo=UTC), 50017)
    clock.set(datetime(2026, 11, 2, 0, 30, tzinfo=UTC))
    summary = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 11, 1))
    assert len(summary.variation_margin_sats[SYMBOL]) == 36
    rebates = fee_rebates(runtime, date(2026, 11, 1))  # the shorts made the market
    for i, (short, long) in enumerate(zip(shorts, longs)):
        moved = 17 * 30 * (1 + i)
        assert collateral(runtime, short) == before[short] - moved + rebates[short]
        assert collateral(runtime, long) == before[long] + moved
    with runtime.uow() as uow:
        positions = {p.account_id: p for p in uow.positions.open_in(SYMBOL, Decimal(30))}
    assert positions[str(shorts[3])].open_value == Decimal(-4 * 50017)  # re-marked at the settlement price
    assert ledger.check_balances(runtime.uow()).ok

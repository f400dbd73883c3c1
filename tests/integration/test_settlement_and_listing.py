"""Final settlement at the fixings, pending expiries, and listing + marking from stored chain
data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.jobs.scheduler import JobContext, refresh_instruments_job, slot_of
from hashedge.services import accounts, instruments, ledger, settlement, trading
from tests.builders import daily_hashprice

OCTOBER = "HP-2026-10"


def test_an_expired_contract_settles_once_at_the_average_of_its_fixings(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 10), clock.now())
        uow.marks.add(OCTOBER, clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    ids = []
    for name in ("miner", "trader"):
        account, _ = accounts.create_account(runtime.uow(), clock, name)
        ledger.deposit(runtime.uow(), clock, account.id, 100_000_000, f"seed-{name}")
        ids.append(account.id)
    miner, trader = ids
    trading.place_order(runtime.uow(), clock, miner, instrument=OCTOBER, side="sell", order_type="limit",
                        quantity=4, price=50000)
    trading.place_order(runtime.uow(), clock, trader, instrument=OCTOBER, side="buy", order_type="limit",
                        quantity=4, price=50000)
    trading.place_order(runtime.uow(), clock, trader, instrument=OCTOBER, side="buy", order_type="limit",
                        quantity=1, price=40000)  # still resting at expiry
    clock.set(datetime(2026, 11, 1, 1, tzinfo=timezone.utc))

    pending = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 10, 30))
    assert OCTOBER not in pending.final_settlements  # its window is not over on the 30th

    days = [datetime(2026, 10, 2, tzinfo=timezone.utc) + timedelta(days=d) for d in range(31)]
    with runtime.uow() as uow:  # 30 days at 49,000 and one at 49,031: average 49,001
        uow.fixings.add([daily_hashprice(d, Decimal(49000) + (31 if i == 0 else 0)) for i, d in enumerate(days)],
                        clock.now())
        uow.commit()
    before = {a: accounts.account_summary(runtime.uow(), a).collateral_sats for a in ids}
    summary = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 10, 31))
    assert summary.settlement_prices[OCTOBER] == "49001"
    # variation margin at the last mark (50,000: nothing), then expiry at 49,001: 999 x 4 x 31
    assert summary.final_settlements[OCTOBER] == {str(miner): 123_876, str(trader): -123_876}
    after = {a: accounts.account_summary(runtime.uow(), a).collateral_sats for a in ids}
    assert after == {miner: before[miner] + 123_876, trader: before[trader] - 123_876}
    assert trading.list_positions(runtime.uow(), miner) == []
    assert trading.list_orders(runtime.uow(), trader, open_only=True) == []
    with runtime.uow() as uow:
        assert uow.instruments.get(OCTOBER).status == "settled"
    again = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 10, 31))
    assert again.already_done
    assert {a: accounts.account_summary(runtime.uow(), a).collateral_sats for a in ids} == after
    assert ledger.check_balances(runtime.uow()).ok


def test_listing_and_marks_come_from_the_stored_chain_and_fixings(populated_runtime):
    runtime = populated_runtime
    first = instruments.run_listing(runtime.uow(), runtime.clock)
    assert "HP-2026-12" in first.listed and any(s.startswith("DIFF-E") for s in first.listed)
    assert instruments.run_listing(runtime.uow(), runtime.clock).listed == []
    marks = instruments.update_marks(runtime.uow(), runtime.clock)
    assert not marks.unmarked and set(marks.marked) == set(first.listed)
    listed = {v.record.symbol: v for v in instruments.list_instruments(runtime.uow(), runtime.clock)}
    assert listed["HP-2026-12"].mark_price > 0 and listed["HP-2026-12"].trading_open

    # The scheduler's job runs the same cycle: nothing new to list, every contract re-marked.
    job = refresh_instruments_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 300))
    swept = job.pop("liquidation_sweep")  # and, right after the re-marking, a liquidation sweep
    assert job == {"listed": [], "expired": [], "marked": len(first.listed), "unmarked": []}
    assert (swept["liquidations"], swept["left_liquidatable"]) == (0, [])

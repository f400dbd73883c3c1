"""The nightly fee distribution on SQLite and PostgreSQL: a closed date's fees shared out by the
governed split in one journal entry (makers pro rata to that date's maker notional, the insurance
fund, the community fund, the backstop pool), inside the nightly settlement, once per date."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain import ledger as journal
from hashedge.domain.instruments import hashprice_monthly
from hashedge.errors import InvalidInput
from hashedge.services import accounts, fee_distribution, ledger, pool, settlement, trading
from hashedge.services.margin import risk_parameters

SYMBOL = "HP-2026-12"
DAY = date(2026, 11, 1)


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def balances(runtime, *accounts_):
    with runtime.uow() as uow:
        return uow.ledger.balances(list(accounts_))


@pytest.fixture
def traded_day(runtime):
    """On 1 November: ``maker_a`` makes 3 contracts and ``maker_b`` 1, both taken by ``taker``."""
    runtime.clock.set(datetime(2026, 11, 1, 10, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    ids = {name: funded(runtime, name, 100_000_000) for name in ("maker_a", "maker_b", "taker", "lp")}
    pool.deposit(runtime.uow(), runtime.clock, ids["lp"], 50_000_000, "lp-in")  # the backstop pool exists
    trading.place_order(runtime.uow(), runtime.clock, ids["maker_a"], instrument=SYMBOL, side="sell",
                        order_type="limit", quantity=3, price=50000)
    trading.place_order(runtime.uow(), runtime.clock, ids["maker_b"], instrument=SYMBOL, side="sell",
                        order_type="limit", quantity=1, price=50000)
    placed = trading.place_order(runtime.uow(), runtime.clock, ids["taker"], instrument=SYMBOL, side="buy",
                                 order_type="market", quantity=4, price=None)
    assert sum(f.quantity for f in placed.fills) == 4
    return ids


def test_a_closed_dates_fees_are_shared_out_once_by_the_governed_split(runtime, traded_day):
    ids = traded_day
    with pytest.raises(InvalidInput, match="closed"):
        fee_distribution.distribute_fees(runtime.uow(), runtime.clock, DAY)
    fees = balances(runtime, journal.FEES)[journal.FEES]
    assert fees > 0
    with runtime.uow() as uow:
        pool_account = journal.collateral(str(uow.pool.account_id()))
    before = balances(runtime, *(journal.collateral(str(i)) for i in ids.values()), pool_account)
    runtime.clock.set(datetime(2026, 11, 2, 0, 5, tzinfo=timezone.utc))
    summary = settlement.run_daily_settlement(runtime.uow(), runtime.clock, DAY)
    assert summary.fees_sats == {DAY.isoformat(): fees}
    params = risk_parameters(runtime.uow())
    makers_share = int(fees * params.fee_split_makers)  # whole here: fees of 4 equal contracts
    after = balances(runtime, *(journal.collateral(str(i)) for i in ids.values()), journal.FEES,
                     journal.INSURANCE_FUND, journal.COMMUNITY_FUND, pool_account)
    gained = {name: after[journal.collateral(str(i))] - before[journal.collateral(str(i))] for name, i in ids.items()}
    vm = summary.variation_margin_sats.get(SYMBOL, {})
    gained = {name: g - vm.get(str(ids[name]), 0) for name, g in gained.items()}
    assert gained == {"maker_a": makers_share * 3 // 4, "maker_b": makers_share // 4, "taker": 0, "lp": 0}
    assert after[journal.FEES] == 0
    assert after[journal.COMMUNITY_FUND] == int(fees * params.fee_split_community_fund)
    pool_share = after[pool_account] - before[pool_account]  # into the pool's capital: its NAV
    assert pool_share == int(fees * params.fee_split_backstop_pool)
    assert sum(gained.values()) + after[journal.INSURANCE_FUND] + after[journal.COMMUNITY_FUND] + pool_share == fees
    with runtime.uow() as uow:
        [entry] = [e.entry for e in uow.ledger.entries() if e.entry.kind.value == "fee_distribution"]
        assert entry.idempotency_key == f"fees:{DAY.isoformat()}"
    again = fee_distribution.distribute_fees(runtime.uow(), runtime.clock, DAY)
    assert again.already_done and again.total_sats == fees and again.parameters_version == 1
    runtime.clock.advance(timedelta(days=1))
    settlement.run_daily_settlement(runtime.uow(), runtime.clock, DAY + timedelta(days=1))
    assert balances(runtime, journal.FEES)[journal.FEES] == 0  # the distribution is never counted as fees
    with runtime.uow() as uow:
        assert len([e for e in uow.ledger.entries() if e.entry.kind.value == "fee_distribution"]) == 1
        assert uow.settlement_runs.get(DAY + timedelta(days=1), "fees").summary["total_sats"] == 0


def test_without_a_backstop_pool_its_share_goes_to_the_insurance_fund(runtime):
    runtime.clock.set(datetime(2026, 11, 1, 10, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    maker, taker = funded(runtime, "maker", 100_000_000), funded(runtime, "taker", 100_000_000)
    trading.place_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell", order_type="limit",
                        quantity=2, price=50000)
    trading.place_order(runtime.uow(), runtime.clock, taker, instrument=SYMBOL, side="buy", order_type="limit",
                        quantity=2, price=50000)
    fees = balances(runtime, journal.FEES)[journal.FEES]
    runtime.clock.set(datetime(2026, 11, 2, 0, 5, tzinfo=timezone.utc))
    shared = fee_distribution.distribute_fees(runtime.uow(), runtime.clock, DAY)
    params = risk_parameters(runtime.uow())
    assert shared.backstop_pool_sats == 0
    assert shared.insurance_fund_sats == fees - sum(shared.makers_sats.values()) - shared.community_fund_sats
    assert shared.remainder_sats >= int(fees * params.fee_split_backstop_pool)
    assert balances(runtime, journal.BACKSTOP_POOL).get(journal.BACKSTOP_POOL, 0) == 0  # nothing posts there
    assert balances(runtime, journal.INSURANCE_FUND)[journal.INSURANCE_FUND] == shared.insurance_fund_sats

"""The README's protection example, number for number, on SQLite and PostgreSQL.

A miner sells December 2026's hashprice to a trader (10 HP-2026-12 at 50,000 sats/PH/day, a block
trade) and buys 16,000,000 sats of protection on the trader from a third party at 20 bps. On
3 November the mark falls to 40,000: the trader's long loses 3,100,000 sats against 2,992,250 of
equity and it is liquidated with a shortfall of 107,750 sats; the book is empty and the insurance
fund too. With **novation** the miner's short is reopened against the protection seller at the
price auto-deleveraging closed it and settles in January exactly as if nothing had happened; with
**cash** the seller pays the trader's 107,750 sats shortfall, so the miner is deleveraged at the
mark instead of at the bankruptcy price: it receives the 107,750 sats auto-deleveraging would
otherwise have taken from it. If these figures change, the README must change with them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hashedge.domain import ledger as journal
from hashedge.services import ledger, liquidation, protection, settlement
from indices.fixings import FixingValue
from protection_setup import SYMBOL, mark, market

UTC = timezone.utc
MINER_DEPOSIT = 20_000_000
BLOCK_FEE = 7_750  # 5 bps of 10 x 50,000 x 31
FINAL_PRICE = 42_000  # December's fixings average
PREMIUM_SATS = 177  # 2 and 3 November at 20 bps on 16,000,000: floor(16,000,000 x 20 x 2 / 3,600,000)
# with novation ADL's rounding (up, a tick per fill) absorbs 107,756 of the 107,750: the trader keeps 6 sats,
# pays them as its penalty, and the miner gets 2 of them as its OTC counterparty at the night's split
PENALTY_SHARE_SATS = 2


def fixing(day: datetime, value: int) -> FixingValue:
    return FixingValue(index="HASHPRICE", kind="daily", as_of=day, value=Decimal(value), unit="sats/PH/day",
                       methodology_version="1", start_height=1, end_height=2, confirmations=6, input_digest="0" * 64)


def collateral(runtime, account_id: int) -> int:
    key = journal.collateral(str(account_id))
    with runtime.uow() as uow:
        return uow.ledger.balances([key])[key]


def blow_up(runtime, settlement_method: str):
    m = market(runtime)
    stored = protection.book_protection(runtime.uow(), runtime.clock, buyer_id=m.ids["miner"],
                                        seller_id=m.ids["seller"], reference_id=m.ids["trader"],
                                        notional_sats=16_000_000, premium_bps="20", maturity=date(2027, 3, 20),
                                        settlement=settlement_method)
    runtime.clock.set(datetime(2026, 11, 3, 12, tzinfo=UTC))
    mark(runtime, 40_000)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    return m, stored, result.outcome


def settle_december(runtime) -> None:
    days = [datetime(2026, 12, 2, tzinfo=UTC) + timedelta(days=d) for d in range(31)]
    with runtime.uow() as uow:
        uow.fixings.add([fixing(day, FINAL_PRICE + 100 * (d - 15)) for d, day in enumerate(days)],
                        datetime(2027, 1, 1, 0, 10, tzinfo=UTC))
        uow.commit()
    runtime.clock.set(datetime(2027, 1, 1, 1, tzinfo=UTC))
    final = settlement.run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 12, 31))
    assert final.settlement_prices[SYMBOL] == str(FINAL_PRICE)


def test_with_novation_the_miner_hedge_continues_with_the_seller_and_settles_as_if_nothing_happened(runtime):
    m, stored, outcome = blow_up(runtime, "novation")
    adl = [f for f in outcome.fills if f.stage == "adl"]
    # no cover: the miner's short is bought back beyond the mark, at the bankruptcy price
    # (40,000 + 107,750 / 310 = 40,347.58, each fill re-priced on what is left: 6 at 40,348, 4 at 40,347)
    assert [f.fill.price for f in adl] == [Decimal(40_348)] * 6 + [Decimal(40_347)] * 4
    with runtime.uow() as uow:
        spec = uow.instruments.get(SYMBOL).spec
        miner_position = uow.positions.get(m.ids["miner"], spec)
        seller_position = uow.positions.get(m.ids["seller"], spec)
    assert (miner_position.quantity, seller_position.quantity) == (-10, 10)  # the hedge continues
    settle_december(runtime)
    # exactly as if nothing had happened: the deposit, less the block's fee and the premium, plus the
    # hedge's gain from 50,000 to 42,000 on 310 PH-days (and its 2 sats of the trader's penalty)
    hedge_gain = (50_000 - FINAL_PRICE) * 310
    assert collateral(runtime, m.ids["miner"]) == (MINER_DEPOSIT - BLOCK_FEE - PREMIUM_SATS + hedge_gain
                                                   + PENALTY_SHARE_SATS) == 22_472_075
    # the seller took over the trader's long at 40,348/40,347 (107,756 sats above the 40,000 mark: the
    # trader's loss it covered) and held it to 42,000
    seller_gain = (FINAL_PRICE * 10 - (6 * 40_348 + 4 * 40_347)) * 31
    assert collateral(runtime, m.ids["seller"]) == 200_000_000 + PREMIUM_SATS + seller_gain == 200_512_421
    assert collateral(runtime, m.ids["trader"]) == 0
    assert ledger.check_balances(runtime.uow()).ok


def test_with_cash_the_seller_pays_the_trader_shortfall_and_the_miner_keeps_what_adl_would_take(runtime):
    m, stored, outcome = blow_up(runtime, "cash")
    assert outcome.covered_by("protection") == 107_750
    adl = [f for f in outcome.fills if f.stage == "adl"]
    assert {f.fill.price for f in adl} == {Decimal(40_000)}  # at the mark: covered
    # the miner's short is closed at the mark: it has its whole gain, 10,000 x 310
    assert collateral(runtime, m.ids["miner"]) == MINER_DEPOSIT - BLOCK_FEE - PREMIUM_SATS + 3_100_000 == 23_092_073
    # what the bankruptcy price would have taken from it, the seller paid: 107,750 sats
    assert collateral(runtime, m.ids["seller"]) == 200_000_000 + PREMIUM_SATS - 107_750
    with runtime.uow() as uow:
        assert uow.ledger.balances([journal.INSURANCE_FUND])[journal.INSURANCE_FUND] == 0
    assert ledger.check_balances(runtime.uow()).ok

from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from hashedge.domain.fills import Fill
from hashedge.domain.liquidation.penalties import otc_exposure, penalty_sats, split
from hashedge.domain.parameters import ParameterOutOfBounds, RiskParameters
from liquidation_builders import HP, SPECS

D = Decimal
AT = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("notional, equity, collateral, penalty", [
    (Fraction(14_880_000), 1_000_000, 1_000_000, 148_800),  # 1%
    (Fraction(14_880_001), 1_000_000, 1_000_000, 148_801),  # rounded up
    (Fraction(14_880_000), 30_000, 1_000_000, 30_000),  # never more than the equity left
    (Fraction(14_880_000), 1_000_000, 12_000, 12_000),  # nor than the collateral
    (Fraction(14_880_000), -5, 1_000_000, 0),  # an account at or below zero pays none
])
def test_the_penalty_is_a_ratio_of_the_notional_capped_at_what_is_left(notional, equity, collateral, penalty):
    assert penalty_sats(notional, D("0.01"), equity_sats=equity, collateral_sats=collateral) == penalty


def test_a_dates_penalties_are_split_by_the_governed_shares_rounding_down_with_the_rest_to_the_fund():
    shares = split(1_001, takers_notional_sats={"5": 300, "7": 700, "8": 0}, otc_exposure_sats={"9": 50, "10": 25},
                   params=RiskParameters())
    # takers 40% = 400: 120 / 280; OTC 10% = 100: 66 / 33 (1 left); community 10% = 100
    assert (shares.takers_sats, shares.otc_sats, shares.community_fund_sats) == (
        {"5": 120, "7": 280}, {"10": 33, "9": 66}, 100)
    assert shares.insurance_fund_sats == 1_001 - 400 - 99 - 100 == 402  # its 400 + the 1 + 1 left over
    assert shares.remainder_sats == 2
    assert shares.by_recipient() == {"5": 120, "7": 280, "9": 66, "10": 33}


def test_a_share_without_recipients_goes_to_the_insurance_fund():
    shares = split(1_000, takers_notional_sats={"5": 1}, otc_exposure_sats={}, params=RiskParameters())
    assert (shares.insurance_fund_sats, shares.remainder_sats) == (500, 100)
    both = split(100, takers_notional_sats={"5": 1}, otc_exposure_sats={"5": 9}, params=RiskParameters())
    assert both.by_recipient() == {"5": 50}  # a taker that is also a counterparty: one line


def test_the_split_must_sum_to_one():
    with pytest.raises(ParameterOutOfBounds, match="sum to 1"):
        RiskParameters().with_changes({"penalty.split.takers": D("0.5")})
    moved = RiskParameters().with_changes({"penalty.split.takers": D("0.5"), "penalty.split.insurance_fund": D("0.3")})
    assert split(10, takers_notional_sats={"1": 1}, otc_exposure_sats={}, params=moved).takers_sats == {"1": 5}


def block(buyer: str, seller: str, quantity: int, price="50000", symbol=HP.symbol) -> Fill:
    return Fill.block_trade(fill_id=f"B{buyer}{seller}{quantity}", instrument_id=symbol, buyer_account_id=buyer,
                            seller_account_id=seller, quantity=quantity, price=D(price), occurred_at=AT)


def test_otc_exposure_is_what_the_counterparty_still_holds_of_its_block_trades_at_the_mark():
    trades = [block("1", "2", 10), block("2", "1", 4), block("3", "1", 5), block("4", "1", 2), block("5", "6", 9)]
    positions = {("2", HP.symbol): -8, ("3", HP.symbol): 3, ("4", HP.symbol): -2}
    exposure = otc_exposure("1", trades, positions, {HP.symbol: D(48_000)}, SPECS)
    # 2 sold 6 net to 1 and still is short 8: 6; 3 bought 5 and holds 3: 3; 4 bought 2 but is short now: 0
    assert exposure == {"2": 6 * 48_000 * 31, "3": 3 * 48_000 * 31}

"""The nightly fee split on plain values: makers pro rata to maker notional, the funds' shares,
rounding remainders and a date without makers to the insurance fund; every sat paid out."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.fee_distribution import split_fees
from hashedge.domain.parameters import RiskParameters

DEFAULTS = RiskParameters()  # makers 0.2, insurance 0.4, community 0.1, backstop pool 0.3


def test_makers_share_pro_rata_and_the_funds_take_theirs():
    shares = split_fees(1000, maker_notional_sats={"1": 3, "2": 1}, params=DEFAULTS)
    assert shares.makers_sats == {"1": 150, "2": 50}
    assert (shares.insurance_fund_sats, shares.community_fund_sats, shares.backstop_pool_sats) == (400, 100, 300)
    assert shares.remainder_sats == 0


def test_rounding_and_a_date_without_makers_go_to_the_insurance_fund():
    shares = split_fees(1001, maker_notional_sats={"1": 1, "2": 1, "3": 1}, params=DEFAULTS)
    assert shares.makers_sats == {"1": 66, "2": 66, "3": 66}  # 200 of 1001 three ways, rounded down
    assert (shares.community_fund_sats, shares.backstop_pool_sats) == (100, 300)
    assert shares.insurance_fund_sats == 1001 - 198 - 400 and shares.remainder_sats == 3
    nobody = split_fees(1000, maker_notional_sats={}, params=DEFAULTS)
    assert nobody.makers_sats == {} and nobody.insurance_fund_sats == 600 and nobody.remainder_sats == 200


def test_a_governed_split_is_applied():
    params = DEFAULTS.with_changes({"fees.split.makers": Decimal("0.5"), "fees.split.backstop_pool": Decimal("0")})
    shares = split_fees(1000, maker_notional_sats={"7": 10}, params=params)
    assert shares.makers_sats == {"7": 500} and shares.backstop_pool_sats == 0 and shares.insurance_fund_sats == 400


@given(st.integers(0, 10**12), st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 10**9), max_size=6))
def test_every_sat_is_paid_out_and_nobody_gets_less_than_zero(total, notional):
    shares = split_fees(total, maker_notional_sats=notional, params=DEFAULTS)
    paid = sum(shares.makers_sats.values()) + shares.insurance_fund_sats + shares.community_fund_sats \
        + shares.backstop_pool_sats
    assert paid == total
    assert min([shares.insurance_fund_sats, shares.community_fund_sats, shares.backstop_pool_sats,
                *shares.makers_sats.values()]) >= 0

"""Property-based checks of the CDS pricer: bootstrap round trips and upfront/side symmetry."""

import datetime as dt

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pricing import price_cds
from tests.hypothesis_profiles import examples

TENORS = ("6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y")
trade_dates = st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2035, 12, 31))


@settings(max_examples=examples(30), deadline=None)
@given(
    trade_date=trade_dates,
    first=st.floats(min_value=0.0005, max_value=0.05),
    steps=st.lists(st.floats(min_value=0.0, max_value=0.004), min_size=len(TENORS) - 1,
                   max_size=len(TENORS) - 1),
    recovery=st.floats(min_value=0.0, max_value=0.9),
    rate=st.floats(min_value=-0.01, max_value=0.08),
    engine=st.sampled_from(["isda", "midpoint"]),
)
def test_every_bootstrapped_tenor_reprices_to_its_quote(trade_date, first, steps, recovery, rate, engine):
    spreads = [first]
    for step in steps:
        spreads.append(spreads[-1] + step)
    # Quotes must be attainable: at 90% recovery a 5% spread is already ~50% a year of default
    # intensity, and a further step can need a forward intensity no curve can reach (those
    # inputs raise PricingInputError, tested in test_bad_inputs). Keep to credible credit.
    assume(spreads[-1] / (1 - recovery) <= 0.25)
    quotes = dict(zip(TENORS, spreads))
    for tenor, spread in quotes.items():
        result = price_cds(trade_date=trade_date, maturity=tenor, notional=1e7, running_spread=spread,
                           recovery=recovery, par_spreads=quotes, discount_rate=rate, engine=engine)
        assert result.fair_spread == pytest.approx(spread, abs=1e-8)


@settings(max_examples=examples(60), deadline=None)
@given(
    trade_date=trade_dates,
    tenor=st.sampled_from(TENORS),
    hazard=st.floats(min_value=0.0, max_value=0.5),
    recovery=st.floats(min_value=0.0, max_value=0.95),
    coupon=st.sampled_from([0.0025, 0.01, 0.05, 0.10]),
    engine=st.sampled_from(["isda", "midpoint"]),
)
def test_the_fair_upfront_zeroes_both_sides(trade_date, tenor, hazard, recovery, coupon, engine):
    common = dict(trade_date=trade_date, maturity=tenor, notional=1e7, running_spread=coupon,
                  recovery=recovery, hazard_rate=hazard, discount_rate=0.02, engine=engine)
    fair = price_cds(**common).fair_upfront
    buyer = price_cds(side="buy", upfront=fair, **common)
    seller = price_cds(side="sell", upfront=fair, **common)
    assert buyer.npv == pytest.approx(0.0, abs=1e-4)
    assert seller.npv == pytest.approx(0.0, abs=1e-4)
    assert 0.0 <= buyer.survival_probability <= 1.0

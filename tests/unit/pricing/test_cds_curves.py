"""Hazard and discount curves: bootstrap round trips and the ISDA standard model's published values."""

import datetime as dt

import pytest

from pricing import (
    bootstrap_discount_curve,
    bootstrap_hazard_curve,
    flat_discount_curve,
    price_cds,
)
from pricing.cds import implied_hazard_rate, standard_upfront

TRADE = dt.date(2024, 11, 15)
PAR_SPREADS = {"6M": 0.0050, "1Y": 0.0070, "2Y": 0.0085, "3Y": 0.0100, "5Y": 0.0130,
               "7Y": 0.0145, "10Y": 0.0160}


@pytest.mark.parametrize("engine", ["isda", "midpoint"])
@pytest.mark.parametrize("tenor", list(PAR_SPREADS))
def test_each_quoted_tenor_reprices_to_its_par_spread(engine, tenor):
    result = price_cds(
        trade_date=TRADE, maturity=tenor, notional=1e7, running_spread=PAR_SPREADS[tenor],
        par_spreads=PAR_SPREADS, discount_rate=0.03, engine=engine,
    )
    assert result.fair_spread == pytest.approx(PAR_SPREADS[tenor], abs=1e-8)


def test_upfront_quotes_at_a_standard_coupon_reprice_to_their_upfronts():
    upfronts = {"1Y": -0.004, "3Y": 0.012, "5Y": 0.035}
    discount = flat_discount_curve(TRADE, 0.03)
    curve = bootstrap_hazard_curve(TRADE, recovery=0.4, discount=discount,
                                   upfront_quotes=upfronts, coupon=0.01)
    for tenor, upfront in upfronts.items():
        result = price_cds(trade_date=TRADE, maturity=tenor, notional=1e7, running_spread=0.01,
                           hazard_curve=curve, discount_curve=discount)
        assert result.fair_upfront == pytest.approx(upfront, abs=1e-8)


def test_a_bootstrapped_curve_is_plain_data_that_prices_like_the_quotes():
    discount = flat_discount_curve(TRADE, 0.03)
    curve = bootstrap_hazard_curve(TRADE, recovery=0.4, discount=discount, par_spreads=PAR_SPREADS)
    assert curve.dates[0] == TRADE and len(curve.hazard_rates) == len(PAR_SPREADS) + 1
    assert all(h > 0 for h in curve.hazard_rates)
    direct = price_cds(trade_date=TRADE, maturity="3Y", notional=1e7, running_spread=0.01,
                       par_spreads=PAR_SPREADS, discount_rate=0.03)
    reused = price_cds(trade_date=TRADE, maturity="3Y", notional=1e7, running_spread=0.01,
                       hazard_curve=curve, discount_curve=discount)
    assert reused == direct


def test_a_discount_curve_bootstrapped_from_deposits_and_swaps_reprices_a_deposit():
    curve = bootstrap_discount_curve(TRADE, {"3M": 0.045}, {"2Y": 0.042, "5Y": 0.040})
    assert curve.nodes[0] == (TRADE, 1.0)
    assert all(later[1] < earlier[1] for earlier, later in zip(curve.nodes, curve.nodes[1:]))


# QuantLib test-suite creditdefaultswap.cpp, testIsdaEngine: Markit's published upfronts for
# standard 1% contracts traded 21 May 2009, on Markit's USD curve of that day.
MARKIT_DEPOSITS = {"1M": 0.003081, "2M": 0.005525, "3M": 0.007163, "6M": 0.012413, "9M": 0.014,
                   "12M": 0.015488}
MARKIT_SWAPS = dict(zip(
    ["2Y", "3Y", "4Y", "5Y", "6Y", "7Y", "8Y", "9Y", "10Y", "12Y", "15Y", "20Y", "25Y", "30Y"],
    [0.011907, 0.01699, 0.021198, 0.02444, 0.026937, 0.028967, 0.030504, 0.031719, 0.03279,
     0.034535, 0.036217, 0.036981, 0.037246, 0.037605],
))
MARKIT_UPFRONTS = [  # (maturity, quoted spread, recovery, upfront on 10mm)
    (dt.date(2010, 6, 20), 0.001, 0.2, -97798.29358), (dt.date(2010, 6, 20), 0.001, 0.4, -97776.11889),
    (dt.date(2010, 6, 20), 0.1, 0.2, 914971.5977), (dt.date(2010, 6, 20), 0.1, 0.4, 894985.6298),
    (dt.date(2011, 6, 20), 0.001, 0.2, -186921.3594), (dt.date(2011, 6, 20), 0.001, 0.4, -186839.8148),
    (dt.date(2011, 6, 20), 0.1, 0.2, 1646623.672), (dt.date(2011, 6, 20), 0.1, 0.4, 1579803.626),
    (dt.date(2012, 6, 20), 0.001, 0.2, -274298.9203), (dt.date(2012, 6, 20), 0.001, 0.4, -274122.4725),
    (dt.date(2012, 6, 20), 0.1, 0.2, 2279730.93), (dt.date(2012, 6, 20), 0.1, 0.4, 2147972.527),
    (dt.date(2016, 6, 20), 0.001, 0.2, -592420.2297), (dt.date(2016, 6, 20), 0.001, 0.4, -591571.2294),
    (dt.date(2016, 6, 20), 0.1, 0.2, 3993550.206), (dt.date(2016, 6, 20), 0.1, 0.4, 3545843.418),
    (dt.date(2019, 6, 20), 0.001, 0.2, -797501.1422), (dt.date(2019, 6, 20), 0.001, 0.4, -795915.9787),
    (dt.date(2019, 6, 20), 0.1, 0.2, 4702034.688), (dt.date(2019, 6, 20), 0.1, 0.4, 4042340.999),
]


@pytest.fixture(scope="module")
def markit_curve():
    return bootstrap_discount_curve(dt.date(2009, 5, 21), MARKIT_DEPOSITS, MARKIT_SWAPS)


@pytest.mark.parametrize(("maturity", "quoted_spread", "recovery", "markit_upfront"), MARKIT_UPFRONTS)
def test_isda_engine_reproduces_markits_published_upfronts(
    markit_curve, maturity, quoted_spread, recovery, markit_upfront
):
    upfront = standard_upfront(trade_date=dt.date(2009, 5, 21), maturity=maturity,
                               quoted_spread=quoted_spread, coupon=0.01, recovery=recovery,
                               discount_curve=markit_curve)
    assert upfront * 1e7 == pytest.approx(markit_upfront, abs=0.01)


def test_a_contract_at_its_implied_hazard_rate_is_at_par():
    hazard = implied_hazard_rate(trade_date=TRADE, maturity="5Y", running_spread=0.013, recovery=0.4,
                                 discount_rate=0.03)
    result = price_cds(trade_date=TRADE, maturity="5Y", notional=1e7, running_spread=0.013,
                       hazard_rate=hazard, discount_rate=0.03)
    assert result.fair_spread == pytest.approx(0.013, abs=1e-10)

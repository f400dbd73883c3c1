"""Every bad input raises a ValueError that names the offending field."""

import datetime as dt
import math

import numpy as np
import pytest

from pricing import (
    BmeFuturesQuote,
    CappedFlooredContract,
    DiscountCurve,
    HazardCurve,
    EpochForecast,
    InstrumentRisk,
    PricingInputError,
    bootstrap_hazard_curve,
    default_probability,
    flat_discount_curve,
    flat_hazard_curve,
    historical_scenarios,
    implied_difficulty,
    implied_growth_rate,
    margin_ratio,
    price_cds,
    protection_premium,
    scenario_margin,
    simulate_default,
    value_futures,
)

TRADE = dt.date(2024, 11, 15)


def cds(**overrides):
    inputs = dict(trade_date=TRADE, maturity="5Y", notional=1e7, running_spread=0.01,
                  hazard_rate=0.02)
    inputs.update(overrides)
    return price_cds(**inputs)


CDS_CASES = {
    "negative notional": (dict(notional=-1e6), "notional"),
    "zero notional": (dict(notional=0.0), "notional"),
    "nan notional": (dict(notional=math.nan), "notional"),
    "boolean notional": (dict(notional=True), "notional"),
    "recovery of one": (dict(recovery=1.0), "recovery"),
    "negative recovery": (dict(recovery=-0.1), "recovery"),
    "maturity before trade date": (dict(maturity=dt.date(2024, 1, 1)), "maturity"),
    "maturity on the trade date": (dict(maturity=TRADE), "maturity"),
    "unknown tenor unit": (dict(maturity="5X"), "maturity"),
    "zero tenor": (dict(maturity="0Y"), "maturity"),
    "trade date as text": (dict(trade_date="2024-11-15"), "trade_date"),
    "unknown side": (dict(side="long"), "side"),
    "unknown engine": (dict(engine="bloomberg"), "engine"),
    "negative spread": (dict(running_spread=-0.01), "running_spread"),
    "negative hazard rate": (dict(hazard_rate=-0.01), "hazard_rate"),
    "infinite upfront": (dict(upfront=math.inf), "upfront"),
    "hazard rate and par spreads": (dict(par_spreads={"5Y": 0.01}), "exactly one"),
    "neither hazard rate nor par spreads": (dict(hazard_rate=None), "exactly one"),
    "negative par spread": (dict(hazard_rate=None, par_spreads={"5Y": -0.01}), "par_spreads"),
    "the same tenor twice": (dict(hazard_rate=None, par_spreads={"1Y": 0.01, "12M": 0.01}), "twice"),
    "empty par spreads": (dict(hazard_rate=None, par_spreads={}), "par_spreads"),
    "discount curve of another day": (
        dict(discount_curve=DiscountCurve(dt.date(2024, 1, 2), 0.03)), "discount_curve"
    ),
    "hazard curve of another day": (
        dict(hazard_rate=None, hazard_curve=flat_hazard_curve(dt.date(2024, 1, 2), 0.02)),
        "hazard_curve",
    ),
}


@pytest.mark.parametrize(("overrides", "mentions"), CDS_CASES.values(), ids=CDS_CASES.keys())
def test_bad_cds_inputs_raise(overrides, mentions):
    with pytest.raises(ValueError, match=mentions):
        cds(**overrides)


def test_bad_input_errors_carry_field_value_and_rule():
    with pytest.raises(PricingInputError) as info:
        cds(recovery=1.2)
    assert (info.value.field, info.value.value, info.value.rule) == ("recovery", 1.2, "must be in [0, 1)")


OTHER_CASES = {
    "unsolvable idgr": (lambda: implied_growth_rate(1e14, 1e16, 2), "no solution"),
    "negative d0": (lambda: implied_growth_rate(-1e14, 1e14, 2), "d0"),
    "zero implied difficulty": (lambda: implied_growth_rate(1e14, 0.0, 2), "implied_difficulty"),
    "zero epochs": (lambda: implied_growth_rate(1e14, 1e14, 0), "epochs"),
    "fractional epochs": (lambda: implied_growth_rate(1e14, 1e14, 2.5), "epochs"),
    "zero index price": (lambda: implied_difficulty(0.0, 3.125), "index_btc_per_th_day"),
    "negative subsidy": (lambda: implied_difficulty(1e-7, -1.0), "subsidy_btc"),
    "zero equity": (lambda: default_probability(0, 1e7, 0.02, 5), "equity_sats"),
    "negative notional sats": (lambda: default_probability(1e6, -1e7, 0.02, 5), "notional_sats"),
    "zero volatility": (lambda: default_probability(1e6, 1e7, 0.0, 5), "daily_vol"),
    "zero horizon": (lambda: default_probability(1e6, 1e7, 0.02, 0), "horizon_days"),
    "negative cure days": (lambda: default_probability(1e6, 1e7, 0.02, 5, -1), "cure_days"),
    "one monte carlo path": (lambda: simulate_default(1e6, 1e7, 0.02, 5, paths=1), "paths"),
    "unknown margin index": (lambda: margin_ratio("XYZ", 14, 0.99), "index"),
    "bme days not a multiple of 14": (lambda: margin_ratio("BME15", 14, 0.99), "index"),
    "zero margin horizon": (lambda: margin_ratio("DIFF", 0, 0.99), "horizon_days"),
    "certain confidence": (lambda: margin_ratio("DIFF", 14, 1.0), "confidence"),
    "unknown margin method": (lambda: margin_ratio("DIFF", 14, 0.99, method="magic"), "method"),
    "bad protection tenor": (
        lambda: protection_premium(equity_sats=1e6, notional_sats=1e7, daily_vol=0.02,
                                   trade_date=TRADE, tenor="soon"),
        "maturity",
    ),
    "spreads and upfronts together": (
        lambda: bootstrap_hazard_curve(TRADE, recovery=0.4, discount=flat_discount_curve(TRADE, 0.0),
                                       par_spreads={"5Y": 0.01}, upfront_quotes={"5Y": 0.01}),
        "exactly one",
    ),
    "zero standard coupon": (
        lambda: bootstrap_hazard_curve(TRADE, recovery=0.4, discount=flat_discount_curve(TRADE, 0.0),
                                       upfront_quotes={"5Y": 0.01}, coupon=0.0),
        "coupon",
    ),
    "hazard curve dates out of order": (
        lambda: HazardCurve(TRADE, (TRADE, dt.date(2026, 1, 1), dt.date(2025, 1, 1)), (0.01, 0.01, 0.01)),
        "dates",
    ),
    "negative hazard on a curve": (lambda: HazardCurve(TRADE, (TRADE,), (-0.01,)), "hazard_rates"),
    "discount nodes not starting at one": (
        lambda: DiscountCurve(TRADE, None, ((TRADE, 0.99), (dt.date(2026, 1, 1), 0.95))), "nodes"
    ),
    "negative forecast difficulty": (lambda: EpochForecast(420, -1.0), "difficulty"),
    "cap below floor": (lambda: CappedFlooredContract(10.0, 5.0, 1.0), "cap"),
    "trade price outside the band": (
        lambda: CappedFlooredContract(10.0, 20.0, 1.0).implied_leverage(25.0), "trade_price"
    ),
    "unknown futures side": (lambda: value_futures(1.0, 1.0, 1.0, "buy"), "side"),
    "zero quoted window": (lambda: BmeFuturesQuote(430, 0, 1e-7), "window_epochs"),
    "zero instrument mark": (lambda: InstrumentRisk("X", 0.0, 1.0, -1.0), "mark"),
    "positions of unequal length": (
        lambda: scenario_margin([InstrumentRisk("X", 1.0, 1.0, -1.0)], np.array([1, 2]), np.array([0]),
                                np.array([1.0]), historical_scenarios(np.ones(5), 14), 0.99),
        "positions",
    ),
    "position on an unknown instrument": (
        lambda: scenario_margin([InstrumentRisk("X", 1.0, 1.0, -1.0)], np.array([1]), np.array([3]),
                                np.array([1.0]), historical_scenarios(np.ones(5), 14), 0.99),
        "instrument_index",
    ),
}


@pytest.mark.parametrize(("call", "mentions"), OTHER_CASES.values(), ids=OTHER_CASES.keys())
def test_bad_inputs_elsewhere_raise(call, mentions):
    with pytest.raises(ValueError, match=mentions):
        call()


def test_par_spreads_no_hazard_curve_can_reach_are_a_clear_error():
    import datetime as dt

    from pricing import price_cds
    from pricing.errors import PricingInputError

    tenors = ("6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y")
    quotes = dict(zip(tenors, [0.046875] * 6 + [0.05078125]))  # found by hypothesis at 90% recovery
    with pytest.raises(PricingInputError, match="not arbitrage-free"):
        price_cds(trade_date=dt.date(2020, 1, 1), maturity="10Y", notional=1e7, running_spread=0.05,
                  recovery=0.9, par_spreads=quotes)

"""Standard CDS pricing on QuantLib: conventions, leg identities, engines and the credit triangle."""

import datetime as dt
import math

import pytest

from pricing import CdsTrade, price_cds, price_cds_book, standard_maturity

TRADE = dt.date(2024, 11, 15)


def flat(**overrides):
    inputs = dict(
        trade_date=TRADE, maturity="5Y", notional=10_000_000.0, running_spread=0.01,
        hazard_rate=0.02, discount_rate=0.03,
    )
    inputs.update(overrides)
    return price_cds(**inputs)


def test_standard_maturities_roll_on_the_twentieth_of_march_and_september():
    assert standard_maturity(dt.date(2024, 11, 15), "5Y") == dt.date(2029, 12, 20)
    assert standard_maturity(dt.date(2024, 9, 19), "5Y") == dt.date(2029, 6, 20)
    assert standard_maturity(dt.date(2024, 9, 20), "5Y") == dt.date(2029, 12, 20)
    assert standard_maturity(dt.date(2024, 11, 15), "1Y") == dt.date(2025, 12, 20)


def test_a_maturity_off_the_standard_dates_rolls_to_the_next_one():
    assert flat(maturity=dt.date(2026, 2, 15)).maturity == dt.date(2026, 3, 20)


def test_accrued_premium_runs_from_the_last_twentieth_through_the_step_in_date():
    # Sep 20 -> Nov 16 (trade date + 1) is 57 days, Act/360
    assert flat().accrued == pytest.approx(10_000_000 * 0.01 * 57 / 360, abs=1e-6)


def test_npv_is_the_sum_of_the_legs():
    for side in ("buy", "sell"):
        result = flat(side=side, upfront=0.02)
        legs = (result.protection_leg_npv + result.premium_leg_npv + result.upfront_npv
                + result.accrual_rebate_npv)
        assert result.npv == pytest.approx(legs, abs=1e-6)


def test_buyer_and_seller_values_are_opposite():
    buyer, seller = flat(side="buy", upfront=0.01), flat(side="sell", upfront=0.01)
    assert seller.npv == pytest.approx(-buyer.npv, abs=1e-6)
    assert seller.fair_spread == pytest.approx(buyer.fair_spread, rel=1e-12)
    assert buyer.protection_leg_npv > 0 > buyer.premium_leg_npv


def test_a_contract_at_its_fair_spread_is_worth_nothing():
    fair = flat().fair_spread
    assert flat(running_spread=fair).npv == pytest.approx(0.0, abs=1e-6)


def test_paying_the_fair_upfront_makes_the_contract_worth_nothing():
    fair_upfront = flat().fair_upfront
    for side in ("buy", "sell"):
        assert flat(side=side, upfront=fair_upfront).npv == pytest.approx(0.0, abs=1e-5)


def test_risky_pv01_prices_one_basis_point_of_running_premium():
    result = flat()
    clean_premium = -(result.premium_leg_npv + result.accrual_rebate_npv)
    assert result.risky_pv01 == pytest.approx(clean_premium / 100, rel=1e-12)
    assert result.fair_spread == pytest.approx(
        result.protection_leg_npv / (result.risky_pv01 * 1e4), rel=1e-12
    )


def test_survival_to_maturity_is_the_flat_hazard_exponential():
    result = flat()
    years = (dt.date(2029, 12, 20) - TRADE).days / 365
    assert result.survival_probability == pytest.approx(math.exp(-0.02 * years), rel=1e-12)
    assert result.default_probability == pytest.approx(1 - result.survival_probability, abs=1e-15)


@pytest.mark.parametrize("hazard", [0.001, 0.01, 0.05, 0.2])
@pytest.mark.parametrize("recovery", [0.0, 0.4, 0.8])
def test_fair_spread_follows_the_credit_triangle(hazard, recovery):
    result = flat(hazard_rate=hazard, recovery=recovery, discount_rate=0.0)
    assert result.fair_spread == pytest.approx(hazard * (1 - recovery), rel=0.02)


@pytest.mark.parametrize("hazard", [0.001, 0.01, 0.05, 0.2])
@pytest.mark.parametrize("tenor", ["1Y", "5Y", "10Y"])
def test_isda_and_midpoint_engines_agree_to_a_few_bps_on_flat_curves(hazard, tenor):
    isda = flat(hazard_rate=hazard, maturity=tenor, engine="isda")
    midpoint = flat(hazard_rate=hazard, maturity=tenor, engine="midpoint")
    assert abs(isda.fair_spread - midpoint.fair_spread) < 3e-4
    assert abs(isda.npv - midpoint.npv) / isda.notional < 3e-4


def test_a_book_prices_each_trade_as_a_single_call_would():
    trades = [
        CdsTrade("1Y", 5e6, 0.01, "buy"),
        CdsTrade("5Y", 1e7, 0.05, "sell", upfront=-0.03),
        CdsTrade(dt.date(2027, 6, 20), 2e6, 0.0025, "buy", upfront=0.01),
        # trades maturing together share a coupon schedule inside the book
        CdsTrade("5Y", 3e6, 0.01, "buy", upfront=0.02),
        CdsTrade(standard_maturity(TRADE, "5Y"), 4e6, 0.0025, "sell"),
        CdsTrade(dt.date(2027, 6, 1), 1e6, 0.01, "buy"),  # rolls to 2027-06-20
    ]
    book = price_cds_book(trades, trade_date=TRADE, hazard_rate=0.02, discount_rate=0.03)
    for trade, result in zip(trades, book):
        single = flat(maturity=trade.maturity, notional=trade.notional,
                      running_spread=trade.running_spread, side=trade.side, upfront=trade.upfront)
        assert result == single

"""The quote is the pricing library's: premium x risky PV01 = protection leg, monotone in leverage and
volatility (real QuantLib, real first-passage model)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.margin import AccountState
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from hashedge.services.protection_pricing import daily_vol, fair_quote, mark_to_market_sats, reference_risk
from pricing.protection import protection_premium

TRADE = date(2026, 12, 1)
# premium_bps is published to 1e-6 bps: the identity holds to half of that times the PV01
TOLERANCE_BPS = 0.5e-6


def test_the_daily_volatility_is_the_one_the_governed_margin_implies():
    # initial margin 15% = the 99% loss over 7 days: 0.15 / (2.3263 x sqrt 7) = 2.437% a day
    assert daily_vol(hashprice_monthly(2026, 12), RiskParameters()) == pytest.approx(0.024370, abs=1e-6)


def test_the_reference_exposure_is_its_margined_notional_at_the_marks():
    spec = hashprice_monthly(2026, 12)
    state = AccountState(account_id="7", collateral_sats=20_000_000, positions=(
        Position(account_id="7", instrument_id=spec.symbol, multiplier=spec.multiplier, quantity=-10,
                 open_value=Decimal(-500_000)),))
    risk = reference_risk(state, {spec.symbol: Decimal(48_000)}, {spec.symbol: spec}, RiskParameters())
    # short 10 from 50,000 at 48,000: +620,000 of profit; exposure 10 x 48,000 x 31
    assert (risk.equity_sats, risk.exposure_sats) == (20_620_000, 14_880_000)
    assert risk.leverage == pytest.approx(14_880_000 / 20_620_000)


@pytest.mark.parametrize("equity", [15_000_000, 10_000_000, 5_000_000, 2_000_000])
def test_fair_premium_times_risky_pv01_is_the_protection_leg(equity):
    quote = fair_quote(equity, 100_000_000, 0.0244, notional_sats=50_000_000, trade_date=TRADE, tenor="3M")
    assert quote.maturity == date(2027, 3, 20)
    gap = abs(float(quote.premium_bps) * quote.risky_pv01_sats - quote.protection_leg_sats)
    assert gap <= TOLERANCE_BPS * quote.risky_pv01_sats + 1e-9 * quote.protection_leg_sats
    assert quote.protection_leg_sats > 0 and 0 < quote.recovery < 1


def test_the_quote_is_the_pricing_library_protection_premium():
    quote = fair_quote(5_000_000, 100_000_000, 0.0244, notional_sats=50_000_000, trade_date=TRADE, tenor="1Y")
    library = protection_premium(equity_sats=5_000_000, notional_sats=100_000_000, daily_vol=0.0244, trade_date=TRADE,
                                 tenor="1Y", horizon_days=1, cure_days=2, protected_sats=50_000_000)
    assert float(quote.premium_bps) == pytest.approx(library.premium_bps_per_year, abs=1e-6)
    assert quote.maturity == library.maturity == date(2027, 12, 20)
    dated = fair_quote(5_000_000, 100_000_000, 0.0244, notional_sats=50_000_000, trade_date=TRADE,
                       maturity=date(2027, 12, 20))
    assert dated.premium_bps == quote.premium_bps


def test_an_account_without_exposure_cannot_default_and_costs_nothing():
    quote = fair_quote(10_000_000, 0, 0.0, notional_sats=50_000_000, trade_date=TRADE, tenor="1Y")
    assert (quote.premium_bps, quote.protection_leg_sats, quote.default_probability) == (0, 0.0, 0.0)
    assert quote.upfront_sats < 0  # the standard 100 bps coupon overpays: the seller pays the buyer back


@settings(max_examples=40, deadline=None)
@given(equity=st.integers(4_000_000, 40_000_000), more=st.integers(1, 2_000_000),
       vol=st.floats(0.005, 0.05), bump=st.floats(1.01, 2.0))
def test_the_premium_rises_with_leverage_and_with_volatility(equity, more, vol, bump):
    def premium(equity_sats, exposure_sats, daily):
        return fair_quote(equity_sats, exposure_sats, daily, notional_sats=10_000_000, trade_date=TRADE,
                          tenor="6M").premium_bps

    base = premium(equity, 100_000_000, vol)
    assert premium(equity - more, 100_000_000, vol) >= base  # less equity: more leverage
    assert premium(equity, 100_000_000 + more * 10, vol) >= base  # more exposure: more leverage
    assert premium(equity, 100_000_000, vol * bump) >= base


def test_a_contract_below_the_fair_premium_is_a_liability_of_its_seller():
    spec = hashprice_monthly(2026, 12)
    state = AccountState(account_id="7", collateral_sats=10_000_000, positions=(
        Position(account_id="7", instrument_id=spec.symbol, multiplier=spec.multiplier, quantity=60,
                 open_value=Decimal(3_000_000)),))
    risk = reference_risk(state, {spec.symbol: Decimal(50_000)}, {spec.symbol: spec}, RiskParameters())
    fair = fair_quote(risk.equity_sats, risk.exposure_sats, risk.daily_vol, notional_sats=50_000_000,
                      trade_date=TRADE, tenor="3M")
    cheap = mark_to_market_sats(risk, notional_sats=50_000_000, premium_bps=fair.premium_bps / 2, valued_on=TRADE,
                                maturity=fair.maturity)
    dear = mark_to_market_sats(risk, notional_sats=50_000_000, premium_bps=fair.premium_bps * 2, valued_on=TRADE,
                               maturity=fair.maturity)
    # at half the fair premium the buyer holds half the protection leg's value for free
    assert float(cheap) == pytest.approx(fair.protection_leg_sats / 2, rel=1e-3)
    assert dear == 0

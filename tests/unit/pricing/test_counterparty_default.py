"""First-passage default of a margined account, its Monte Carlo check, and the protection premium."""

import datetime as dt
import math

import pytest

from pricing import default_probability, default_risk, protection_premium, simulate_default

# 2 * (1 - Phi(1.959963984540054)) = 0.05
Z_975 = 1.959963984540054


def test_equity_at_1_96_sigma_defaults_with_five_percent_probability():
    notional, vol, days = 10_000_000.0, 0.02, 9.0
    equity = Z_975 * notional * vol * math.sqrt(days)
    assert default_probability(equity, notional, vol, days) == pytest.approx(0.05, abs=1e-12)


def test_cure_days_extend_the_window_losses_run_unchecked():
    assert default_probability(1e6, 1e7, 0.03, 3, cure_days=2) == pytest.approx(
        default_probability(1e6, 1e7, 0.03, 5), rel=1e-15
    )


def test_more_equity_means_less_default():
    probabilities = [default_probability(e, 1e7, 0.03, 5) for e in (2e5, 5e5, 1e6, 2e6)]
    assert probabilities == sorted(probabilities, reverse=True)


def test_hazard_rate_reproduces_the_window_default_probability():
    risk = default_risk(1e6, 1e7, 0.03, 5, 2)
    assert math.exp(-risk.hazard_rate_per_year * 7 / 365) == pytest.approx(1 - risk.probability, rel=1e-12)


def test_expected_shortfall_is_the_bachelier_call_over_the_default_probability():
    equity, notional, vol, days = 1e6, 1e7, 0.03, 4
    scale = notional * vol * math.sqrt(days)
    a = equity / scale
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(a / math.sqrt(2))
    call = scale * phi - equity * tail
    risk = default_risk(equity, notional, vol, days, protected_sats=1e12)
    assert risk.expected_shortfall_sats == pytest.approx(call / (2 * tail), rel=1e-9)


@pytest.mark.parametrize(
    ("equity", "notional", "vol", "horizon", "cure", "seed"),
    [(1e6, 1e7, 0.03, 5, 2, 1), (3e5, 1e7, 0.01, 2, 0, 2), (5e6, 2e7, 0.05, 10, 3, 3)],
)
def test_closed_form_agrees_with_monte_carlo_within_its_standard_error(
    equity, notional, vol, horizon, cure, seed
):
    closed = default_risk(equity, notional, vol, horizon, cure, protected_sats=notional / 10)
    simulated = simulate_default(equity, notional, vol, horizon, cure, protected_sats=notional / 10,
                                 paths=20_000, steps=24, seed=seed)
    assert abs(simulated.probability - closed.probability) < 4 * simulated.probability_standard_error
    covered = closed.expected_shortfall_sats * closed.probability
    assert abs(simulated.covered_shortfall_sats - covered) < 4 * simulated.covered_shortfall_standard_error


def test_protection_premium_follows_hazard_times_loss_given_default():
    quote = protection_premium(equity_sats=1e6, notional_sats=1e7, daily_vol=0.02,
                               trade_date=dt.date(2024, 11, 15), tenor="1Y", cure_days=2)
    assert quote.maturity == dt.date(2025, 12, 20)
    triangle = quote.hazard_rate_per_year * (1 - quote.recovery) * 1e4
    assert quote.premium_bps_per_year == pytest.approx(triangle, rel=0.03)
    assert quote.cds is not None and quote.cds.npv != 0


def test_thinner_equity_costs_more_protection():
    premiums = [
        protection_premium(equity_sats=e, notional_sats=1e7, daily_vol=0.02,
                           trade_date=dt.date(2024, 11, 15), cure_days=2).premium_bps_per_year
        for e in (2e6, 1.5e6, 1e6, 5e5)
    ]
    assert premiums == sorted(premiums)


def test_an_account_that_cannot_default_gets_free_protection():
    quote = protection_premium(equity_sats=1e9, notional_sats=1e7, daily_vol=0.01,
                               trade_date=dt.date(2024, 11, 15))
    assert quote.premium_bps_per_year == 0.0 and quote.cds is None

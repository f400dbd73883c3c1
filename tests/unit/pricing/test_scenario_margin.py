"""Scenario generation and the portfolio worst loss at a confidence level."""

import math

import numpy as np
import pytest

from pricing import (
    InstrumentRisk,
    ScenarioSet,
    bootstrap_scenarios,
    historical_scenarios,
    parametric_scenarios,
    portfolio_worst_loss,
    scenario_margin,
    with_btc_usd,
)

BME = InstrumentRisk("BME14-430", mark=1.0, multiplier=100.0, difficulty_exposure=-1.0)
DIFF = InstrumentRisk("DIFF-430", mark=2.0, multiplier=10.0, difficulty_exposure=1.0)


def three_scenarios():
    return ScenarioSet(np.array([[-0.1, 0.0], [0.0, 0.0], [0.1, 0.0]]), 14, "hand")


def test_a_long_bme_loses_when_difficulty_rises():
    worst, shortfall = portfolio_worst_loss([BME], [1.0], three_scenarios(), 0.99)
    assert worst == pytest.approx(100 * (1 - math.exp(-0.1)))
    assert shortfall == pytest.approx(worst)


def test_offsetting_positions_need_no_margin():
    worst, _ = portfolio_worst_loss([BME, BME], [3.0, -3.0], three_scenarios(), 0.99)
    assert worst == pytest.approx(0.0, abs=1e-9)


def test_difficulty_and_bme_positions_hedge_each_other():
    alone, _ = portfolio_worst_loss([BME, DIFF], [1.0, 0.0], three_scenarios(), 0.99)
    hedged, _ = portfolio_worst_loss([BME, DIFF], [1.0, 5.0], three_scenarios(), 0.99)
    assert hedged < alone


def test_accounts_are_margined_on_their_own_netted_positions():
    scenarios = historical_scenarios(np.linspace(-0.2, 0.2, 41), 14)
    accounts = np.array(["a", "b", "a", "c", "b"])
    which = np.array([0, 0, 1, 0, 1])
    size = np.array([2.0, -1.0, 3.0, 1.0, 1.0])
    result = scenario_margin([BME, DIFF], accounts, which, size, scenarios, 0.95)
    for account in ("a", "b", "c"):
        mine = accounts == account
        quantities = [size[mine & (which == i)].sum() for i in (0, 1)]
        alone, _ = portfolio_worst_loss([BME, DIFF], quantities, scenarios, 0.95)
        assert result.worst_loss[list(result.accounts).index(account)] == pytest.approx(alone)


def test_historical_scenarios_are_every_overlapping_window():
    scenarios = historical_scenarios(np.array([0.1, -0.1, 0.2, 0.0]), 28, centre=False)
    assert scenarios.log_changes[:, 0].tolist() == pytest.approx([0.0, 0.1, 0.2])
    assert not scenarios.log_changes[:, 1].any()


def test_bootstrap_is_reproducible_from_its_seed():
    changes = np.random.default_rng(0).normal(0, 0.05, 100)
    first = bootstrap_scenarios(changes, 42, 1000, seed=7)
    again = bootstrap_scenarios(changes, 42, 1000, seed=7)
    other = bootstrap_scenarios(changes, 42, 1000, seed=8)
    assert np.array_equal(first.log_changes, again.log_changes)
    assert not np.array_equal(first.log_changes, other.log_changes)


def test_bootstrap_draws_only_resampled_history():
    changes = np.array([0.1, -0.2, 0.3])
    scenarios = bootstrap_scenarios(changes, 14, 200, seed=1, centre=False)
    assert set(np.round(scenarios.log_changes[:, 0], 12)) <= {0.1, -0.2, 0.3}


@pytest.mark.parametrize("tail_dof", [None, 5.0])
def test_parametric_horizon_volatility_scales_with_the_square_root_of_epochs(tail_dof):
    count = 40_000
    scenarios = parametric_scenarios(0.05, 56, count, seed=3, tail_dof=tail_dof)
    sample_sd = float(np.std(scenarios.log_changes[:, 0], ddof=1))
    expected = 0.05 * math.sqrt(4)
    # the sample sd of n draws has a standard error of about sd * sqrt((kurtosis + 2) / (4n))
    excess = 0.0 if tail_dof is None else 6.0 / (tail_dof - 4.0) / 4  # sum of 4 i.i.d. draws
    standard_error = expected * math.sqrt((excess + 2) / (4 * count))
    assert abs(sample_sd - expected) < 4 * standard_error


def test_btc_usd_strata_cross_every_difficulty_scenario_deterministically():
    base = historical_scenarios(np.array([0.05, -0.05, 0.02, 0.01]), 14)
    crossed = with_btc_usd(base, 0.035, strata=200)
    assert len(crossed) == len(base) * 200
    btc = crossed.log_changes[:200, 1]
    assert btc.mean() == pytest.approx(0.0, abs=1e-12)
    assert btc.std() == pytest.approx(0.035 * math.sqrt(14), rel=0.02)
    assert np.array_equal(crossed.log_changes, with_btc_usd(base, 0.035, strata=200).log_changes)

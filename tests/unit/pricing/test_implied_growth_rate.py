"""Implied difficulty and the implied difficulty growth rate (IDGR)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indices.bme import bme
from indices.chain import bits_to_difficulty
from pricing import NoSolutionError, implied_difficulty, implied_growth_rate
from pricing.difficulty_curve import (
    BTC_PER_TH_DAY_PER_SUBSIDY_BTC,
    difficulty_from_growth,
    mean_discount,
)
from tests.hypothesis_profiles import examples

D0 = 8.6e13


def test_revenue_factor_is_a_th_day_of_hashes_over_two_to_the_32():
    assert BTC_PER_TH_DAY_PER_SUBSIDY_BTC == 10**12 * 600 * 144 / 2**32 == 20116567.611694336


def test_implied_difficulty_inverts_the_bme_term_exactly():
    assert implied_difficulty(2e-7, 3.125) == BTC_PER_TH_DAY_PER_SUBSIDY_BTC * 3.125 / 2e-7


def test_bme14_of_a_mainnet_epoch_implies_that_epochs_difficulty(real_epochs):
    # Epoch 290 (heights 584640-586655) has bits 0x171f0d9b and a 12.5 BTC subsidy.
    index = bme(real_epochs, 585000, 14)
    assert implied_difficulty(index, 12.5) == pytest.approx(bits_to_difficulty(0x171F0D9B), rel=1e-14)


def test_mean_discount_matches_the_hand_sum():
    # (1/2) * (1/2 + 1/4) at g = 100% over two epochs
    assert mean_discount(1.0, 2) == pytest.approx(0.375, rel=1e-15)
    assert mean_discount(0.0, 7) == 1.0


def test_doubling_each_epoch_is_recovered_from_its_implied_difficulty():
    assert implied_growth_rate(D0, D0 / 0.375, 2) == pytest.approx(1.0, abs=1e-12)


def test_an_implied_difficulty_equal_to_today_means_zero_growth():
    assert implied_growth_rate(D0, D0, 26) == pytest.approx(0.0, abs=1e-13)


def test_one_epoch_growth_is_the_plain_ratio():
    assert implied_growth_rate(D0, D0 * 1.05, 1) == pytest.approx(0.05, abs=1e-13)


@settings(max_examples=examples(300), deadline=None)
@given(
    epochs=st.integers(min_value=1, max_value=5000),
    growth=st.floats(min_value=-0.74, max_value=2.99),
    subsidy_btc=st.sampled_from([50.0, 6.25, 3.125, 0.78125]),
)
def test_price_to_growth_to_price_round_trips(epochs, growth, subsidy_btc):
    implied = difficulty_from_growth(D0, growth, epochs)
    if not 1e-300 < implied < 1e300:
        return  # outside the float range, no price exists to round-trip
    price = BTC_PER_TH_DAY_PER_SUBSIDY_BTC * subsidy_btc / implied
    solved = implied_growth_rate(D0, implied_difficulty(price, subsidy_btc), epochs)
    repriced = BTC_PER_TH_DAY_PER_SUBSIDY_BTC * subsidy_btc / difficulty_from_growth(D0, solved, epochs)
    assert repriced == pytest.approx(price, rel=1e-10)
    assert solved == pytest.approx(growth, abs=1e-9 * (1 + abs(growth)) * max(1.0, 1.0 / epochs**0.5))


def test_large_windows_solve_without_overflow():
    for growth in (-0.74, -0.3, 0.02, 2.9):
        implied = difficulty_from_growth(1.0, growth, 400)
        assert implied_growth_rate(1.0, implied, 400) == pytest.approx(growth, abs=1e-10)


def test_a_price_beyond_the_retarget_clamp_has_no_solution():
    with pytest.raises(NoSolutionError, match="retarget clamp") as info:
        implied_growth_rate(D0, D0 * 5, 1)  # one epoch cannot rise more than 4x
    assert isinstance(info.value, ValueError)
    assert info.value.field == "implied_difficulty"


def test_a_price_below_the_retarget_clamp_has_no_solution():
    with pytest.raises(NoSolutionError, match=r"\[8.6e\+12, 5.504e\+14\]"):
        implied_growth_rate(D0, D0 / 20, 2)


def test_the_bracket_edges_are_reachable():
    assert implied_growth_rate(D0, D0 * 4, 1) == pytest.approx(3.0, abs=1e-12)
    assert implied_growth_rate(D0, D0 / 4, 1) == pytest.approx(-0.75, abs=1e-12)


def test_growth_solutions_are_finite_numbers():
    assert math.isfinite(implied_growth_rate(D0, 1.2 * D0, 13))

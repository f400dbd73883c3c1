"""Next-difficulty forecast: the real retarget rule, its clamps, and the Poisson band."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index_builders import build_blocks, random_chain
from indices.chain import TARGET_TIMESPAN_SECONDS, difficulty_fraction, next_work_required
from indices.forecast import CURRENT_EPOCH, TRAILING_2016, forecast_next_difficulty
from tests.hypothesis_profiles import examples

D256_BITS = 0x1C00FFFF
EPOCH_1 = 2016


def _epoch_at_pace(seconds_per_block: int, *, bits: int = D256_BITS, blocks: int = 2016):
    """Epoch 1 (heights 2016..) mined at a steady pace, after a full epoch 0 at 600 s."""
    steps = [600] * 2016 + [seconds_per_block] * (blocks - 1)
    return build_blocks(2016 + blocks, interval_seconds=steps, bits=bits)


def test_at_the_last_block_of_an_epoch_the_forecast_is_the_actual_retarget():
    chain = random_chain(5000, seed=8, start_height=0)
    last = 2 * 2016 - 1
    forecast = forecast_next_difficulty(chain, last)
    times = chain.set_index("height")["time"]
    actual = next_work_required(int(chain["bits"].iloc[last]), int(times[2016]), int(times[last]))
    assert forecast.next_bits == actual == int(chain["bits"].iloc[last + 1])
    assert forecast.low_95 == forecast.next_difficulty == forecast.high_95
    assert forecast.blocks_remaining == 1 and forecast.blocks_mined_in_epoch == 2016


def test_an_epoch_at_exactly_ten_minutes_keeps_the_difficulty_using_2015_intervals():
    # 2015 intervals of 600 s are 1,209,000 s, 600 s short of two weeks: the rule (and so the
    # forecast) lowers the target by 600 / 1,209,600, a difficulty up by 0.0496%.
    chain = _epoch_at_pace(600, blocks=1000)
    forecast = forecast_next_difficulty(chain)
    assert forecast.method == CURRENT_EPOCH
    assert forecast.estimated_timespan_seconds == pytest.approx(2015 * 600)
    expected = next_work_required(D256_BITS, 0, 2015 * 600)
    assert forecast.next_bits == expected
    assert forecast.change_pct == pytest.approx(100 * (1209600 / 1209000 - 1), abs=1e-3)


def test_a_very_fast_epoch_is_clamped_to_four_times_the_difficulty():
    chain = _epoch_at_pace(60, blocks=1500)
    forecast = forecast_next_difficulty(chain)
    clamp = float(difficulty_fraction(next_work_required(D256_BITS, 0, TARGET_TIMESPAN_SECONDS // 4)))
    assert forecast.next_difficulty == clamp == pytest.approx(4 * 256, rel=1e-4)
    assert forecast.high_95 == clamp  # the band cannot leave the clamp either


def test_a_very_slow_epoch_is_clamped_to_a_quarter_of_the_difficulty():
    chain = _epoch_at_pace(6000, blocks=1500)
    forecast = forecast_next_difficulty(chain)
    assert forecast.next_difficulty == pytest.approx(256 / 4, rel=1e-4)
    assert forecast.low_95 == forecast.next_difficulty


def test_a_slow_epoch_at_minimum_difficulty_stays_at_the_proof_of_work_limit():
    chain = _epoch_at_pace(1200, bits=0x1D00FFFF, blocks=1500)
    forecast = forecast_next_difficulty(chain)
    assert forecast.next_bits == 0x1D00FFFF and forecast.next_difficulty == 1.0


def test_at_the_first_block_of_an_epoch_the_trailing_2016_blocks_carry_the_forecast():
    chain = _epoch_at_pace(300, blocks=1)
    forecast = forecast_next_difficulty(chain)
    assert forecast.method == TRAILING_2016 and forecast.blocks_mined_in_epoch == 1
    assert forecast.next_difficulty_current_epoch is None
    # The trailing blocks came at 600 s at difficulty 256 (and the retarget block itself).
    assert forecast.next_difficulty == forecast.next_difficulty_trailing_2016
    assert forecast.next_difficulty == pytest.approx(256, rel=2e-3)
    assert forecast.blocks_remaining == 2016


def test_the_two_projections_differ_when_the_pace_changed_within_the_epoch():
    chain = _epoch_at_pace(300, blocks=1000)
    forecast = forecast_next_difficulty(chain)
    assert forecast.next_difficulty_current_epoch == forecast.next_difficulty
    assert forecast.next_difficulty > forecast.next_difficulty_trailing_2016 > 256


def test_the_expected_retarget_time_projects_the_remaining_blocks_at_the_observed_pace():
    chain = _epoch_at_pace(500, blocks=1001)
    forecast = forecast_next_difficulty(chain)
    assert forecast.blocks_remaining == 1016
    assert forecast.expected_retarget_time - forecast.as_of_time == timedelta(seconds=1016 * 500)
    assert forecast.retarget_time_low_95 < forecast.expected_retarget_time < forecast.retarget_time_high_95


def test_the_band_narrows_as_the_epoch_fills():
    chain = _epoch_at_pace(550, blocks=2000)
    early, late = forecast_next_difficulty(chain, EPOCH_1 + 100), forecast_next_difficulty(chain, EPOCH_1 + 1900)
    assert (late.high_95 - late.low_95) < (early.high_95 - early.low_95)
    assert (late.high_68 - late.low_68) < (late.high_95 - late.low_95)


def test_a_forecast_needs_the_first_block_of_its_epoch():
    chain = build_blocks(100, start_height=EPOCH_1 + 10)
    with pytest.raises(ValueError, match="needs blocks 2016"):
        forecast_next_difficulty(chain)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), into_epoch=st.integers(0, 2015),
       interval=st.sampled_from([100.0, 500.0, 600.0, 700.0, 3000.0]))
def test_the_band_is_ordered_around_the_headline_forecast(seed, into_epoch, interval):
    chain = random_chain(2016 + into_epoch + 1, seed=seed, mean_interval_seconds=interval,
                         start_bits=D256_BITS, jitter_seconds=300)
    forecast = forecast_next_difficulty(chain)
    assert forecast.low_95 <= forecast.low_68 <= forecast.next_difficulty <= forecast.high_68 <= forecast.high_95
    assert forecast.current_difficulty / 4 * 0.999 <= forecast.low_95
    assert forecast.high_95 <= forecast.current_difficulty * 4 * 1.001
    assert forecast.retarget_time_low_95 <= forecast.expected_retarget_time <= forecast.retarget_time_high_95

"""The forward difficulty path behind marks: trend estimator, fees, known epochs, path, predictions."""

import math
from datetime import datetime, timedelta, timezone

import pytest

from indices.chain import target_to_bits
from pricing import PricingInputError
from pricing.forward import (
    ChainObservation,
    forward_path,
    known_epochs,
    mean_fees_per_block_sats,
    trend_growth_per_epoch,
)
from pricing.futures import hashprice_sats_per_phd

K = 20116567.611694336  # BTC per TH/s per day at difficulty 1, per BTC of subsidy
UTC = timezone.utc
T0 = datetime(2026, 11, 1, tzinfo=UTC)
TWO_WEEKS = timedelta(days=14)


# --- trend estimator --------------------------------------------------------------------------

def test_the_trend_is_the_mean_log_change_over_the_window():
    history = {10: 100.0, 11: 110.0, 12: 99.0, 13: 121.0}
    # three changes: ln 1.1 + ln 0.9 + ln(121/99) = ln 1.21
    trend = trend_growth_per_epoch(history, 13, window_epochs=3)
    assert (trend.changes, trend.first_epoch, trend.last_epoch) == (3, 11, 13)
    assert trend.mean_log_change == pytest.approx(math.log(1.21) / 3, rel=1e-14)
    assert trend.growth_per_epoch == pytest.approx(1.21 ** (1 / 3) - 1, rel=1e-13)
    # the last two only: ln 0.9 + ln(121/99) = ln 1.1
    assert trend_growth_per_epoch(history, 13, window_epochs=2).growth_per_epoch == pytest.approx(
        math.sqrt(1.1) - 1, rel=1e-13)


def test_the_default_window_is_26_epochs_about_a_year():
    history = {e: 1e14 * 1.02**e for e in range(41)}
    history[10] = 5e13  # outside the window: ignored
    trend = trend_growth_per_epoch(history, 40)
    assert (trend.changes, trend.first_epoch) == (26, 15)
    assert trend.growth_per_epoch == pytest.approx(0.02, rel=1e-12)


def test_gaps_leave_out_the_changes_they_break_and_no_change_means_flat():
    history = {10: 100.0, 11: 110.0, 13: 121.0, 14: 133.1}
    trend = trend_growth_per_epoch(history, 14, window_epochs=4)  # changes into 11 and 14 only
    assert trend.changes == 2
    assert trend.growth_per_epoch == pytest.approx(0.1, rel=1e-13)
    flat = trend_growth_per_epoch({5: 1e14}, 5)
    assert (flat.growth_per_epoch, flat.changes) == (0.0, 0)


def test_the_trend_stays_inside_the_retarget_clamp():
    assert trend_growth_per_epoch({1: 1.0, 2: 100.0}, 2).growth_per_epoch == pytest.approx(3.0)
    assert trend_growth_per_epoch({1: 100.0, 2: 1.0}, 2).growth_per_epoch == pytest.approx(-0.75)


@pytest.mark.parametrize("history, last, window", [
    ({1: 1.0, 2: 0.0}, 2, 26), ({1: 1.0, 2: float("nan")}, 2, 26), ({}, -1, 26), ({}, 5, 0),
])
def test_bad_trend_inputs_are_refused(history, last, window):
    with pytest.raises(PricingInputError):
        trend_growth_per_epoch(history, last, window)


def test_fees_are_the_mean_of_the_trailing_window():
    assert mean_fees_per_block_sats([1, 2, 3, 4, 5], window_blocks=2) == 4.5
    assert mean_fees_per_block_sats(list(range(3000))) == pytest.approx(sum(range(984, 3000)) / 2016)
    assert mean_fees_per_block_sats([]) == 0.0
    with pytest.raises(PricingInputError):
        mean_fees_per_block_sats([1, -1])


# --- known epochs ------------------------------------------------------------------------------

def test_known_epochs_take_difficulty_from_bits_and_start_from_retarget_blocks():
    a, b = target_to_bits(2**200), target_to_bits(2**199)  # difficulty 16,776,960 and twice that
    seen = known_epochs([
        ChainObservation(2 * 2016, a),  # an epoch-history row: no time
        ChainObservation(3 * 2016, a, T0),
        ChainObservation(3 * 2016 + 5, b, T0 + TWO_WEEKS),  # later wins; not a start
        ChainObservation(4 * 2016 + 7, b, T0),  # a block inside epoch 4: difficulty, no start
    ])
    assert seen.difficulty == {2: 16776960.0, 3: 33553920.0, 4: 33553920.0}
    assert seen.starts == {3: T0}


# --- the path -------------------------------------------------------------------------------------

def path_490(**overrides):
    arguments = dict(known_difficulty={489: 4.8e14, 490: 5e14}, current_epoch=490, next_difficulty=5.2e14,
                     next_retarget_time=T0 + TWO_WEEKS, growth_per_epoch=0.04, fees_per_block_sats=2e6,
                     last_epoch=494, known_starts={490: T0})
    arguments.update(overrides)
    return forward_path(**arguments)


def test_the_path_is_known_then_forecast_then_trend():
    path = path_490()
    assert [(f.epoch, f.known) for f in path.path] == [(489, True), (490, True), (491, False), (492, False),
                                                        (493, False), (494, False)]
    assert [path.difficulty(e) for e in (489, 490, 491)] == [4.8e14, 5e14, 5.2e14]
    assert path.difficulty(494) == pytest.approx(5.2e14 * 1.04**3, rel=1e-15)
    assert all(f.fees_per_block_sats == 2e6 for f in path.path)


def test_without_a_forecast_the_next_epoch_grows_from_the_current_one():
    path = path_490(next_difficulty=None)
    assert path.difficulty(491) == pytest.approx(5e14 * 1.04, rel=1e-15)
    assert path.difficulty(492) == pytest.approx(5e14 * 1.04**2, rel=1e-15)


def test_predicted_retarget_fixings_diff_and_bme():
    path = path_490()
    assert path.retarget_fixing("DIFF", 493) == pytest.approx(5.2e14 * 1.04**2, rel=1e-15)
    # BME14 at the first block of epoch k: epoch k alone (3.125 BTC after the 2024 halving)
    assert path.retarget_fixing("BME14", 493) == pytest.approx(K * 3.125 / (5.2e14 * 1.04**2), rel=1e-14)
    assert path.retarget_fixing("BME14", 490) == pytest.approx(K * 3.125 / 5e14, rel=1e-14)
    # BME28 at the first block of epoch 491: epochs 490 (known) and 491 (forecast)
    assert path.retarget_fixing("BME28", 491) == pytest.approx((K * 3.125 / 5e14 + K * 3.125 / 5.2e14) / 2,
                                                                rel=1e-14)


@pytest.mark.parametrize("index, epoch", [("HASHPRICE", 491), ("BME15", 491), ("DIFF", 495), ("DIFF", 480)])
def test_predictions_outside_the_path_or_for_other_indices_are_refused(index, epoch):
    with pytest.raises(PricingInputError):
        path_490().retarget_fixing(index, epoch)


def test_epochs_start_at_their_first_block_then_every_two_weeks_over_one_plus_g():
    path = path_490()
    step = TWO_WEEKS / 1.04
    assert path.starts == ((490, T0), (491, T0 + TWO_WEEKS), (492, T0 + TWO_WEEKS + step),
                           (493, T0 + TWO_WEEKS + 2 * step), (494, T0 + TWO_WEEKS + 3 * step))
    assert path.epoch_at(T0 - timedelta(hours=1)) == 489  # before the current epoch: the one before
    assert path.epoch_at(T0) == 489  # the last block stamped *before* the midnight
    assert path.epoch_at(T0 + timedelta(seconds=1)) == 490
    assert path.epoch_at(T0 + TWO_WEEKS) == 490
    assert path.epoch_at(T0 + TWO_WEEKS + step + timedelta(days=1)) == 492


def test_the_path_reaches_the_epoch_in_force_at_until():
    path = path_490(last_epoch=None, until=T0 + timedelta(days=100))
    assert path.epoch_at(T0 + timedelta(days=100)) == path.last_epoch
    assert path.last_epoch == 497  # 491 starts on day 14, each later one 14 / 1.04 days on: 497 on day 94.8
    assert path_490(last_epoch=None).last_epoch == 491  # at least the next epoch


def test_hashprice_averages_the_epochs_of_the_fixing_days():
    path = path_490()
    days = [T0 + timedelta(days=12), T0 + timedelta(days=13), T0 + timedelta(days=15)]  # 490, 490, 491
    expected = (2 * hashprice_sats_per_phd(490, 5e14, 2e6) + hashprice_sats_per_phd(491, 5.2e14, 2e6)) / 3
    assert path.hashprice_mean_sats_per_phd(days) == pytest.approx(expected, rel=1e-14)
    with pytest.raises(PricingInputError):
        path.hashprice_mean_sats_per_phd([])


@pytest.mark.parametrize("overrides", [
    {"current_epoch": 491}, {"growth_per_epoch": 3.5}, {"growth_per_epoch": float("nan")},
    {"next_retarget_time": datetime(2026, 11, 15)}, {"next_difficulty": 0.0}, {"fees_per_block_sats": -1.0},
    {"known_difficulty": {490: -5.0}}, {"last_epoch": 20_000}, {"until": T0 + timedelta(days=14 * 20_000)},
])
def test_bad_path_inputs_are_refused(overrides):
    with pytest.raises(PricingInputError):
        path_490(**overrides)

"""Replaying mainnet's epoch history: real bits, the retarget rule reproduced, the real calendar."""

import numpy as np
import pandas as pd
import pytest

from indices.chain import TARGET_TIMESPAN_SECONDS, difficulty_fraction, next_work_required
from indices.sources.csv_import import read_epoch_history
from indices.sources.replay import MAX_TIMESPAN_SECONDS, MIN_TIMESPAN_SECONDS, timespan_range
from indices.sources.simulator import (
    DEFAULT_HASHRATE_MODEL,
    GENESIS_TIME,
    HALVING_840000_TIME,
    calibrate_hashrate_model,
    replay_history,
    simulate_chain,
    simulate_demo_chain,
)

REAL_HALVING_TIMES = {210_000: 1354116278, 420_000: 1468082773, 630_000: 1589225023}
NOVEMBER_2026 = 1_793_491_200


@pytest.fixture(scope="module")
def epochs(shared_data):
    return read_epoch_history(shared_data / "btc_difficulty_epochs.csv")


@pytest.fixture(scope="module")
def replayed(epochs):
    return replay_history(epochs, seed=7)


def test_every_replayed_block_carries_its_epochs_real_bits(epochs, replayed):
    sizes = (epochs["end_height"] - epochs["start_height"] + 1).to_numpy()
    assert len(replayed) == int(epochs["end_height"].iloc[-1]) + 1
    assert np.array_equal(replayed["bits"].to_numpy(), np.repeat(epochs["bits"].to_numpy(), sizes))


def test_every_real_retarget_is_reproduced_exactly_from_replayed_timestamps(epochs, replayed):
    bits, times = replayed["bits"].to_numpy(), replayed["time"].to_numpy()
    reproduced = [
        next_work_required(int(bits[e * 2016]), int(times[e * 2016]), int(times[e * 2016 + 2015]))
        for e in range(len(epochs) - 1)
    ]
    assert reproduced == epochs["bits"].tolist()[1:]


def test_genesis_and_block_840000_fall_on_their_real_dates_to_the_second(replayed):
    assert replayed["time"].iloc[0] == GENESIS_TIME == 1231006505
    assert replayed["time"].iloc[840_000] == HALVING_840000_TIME == 1713571767


def test_the_earlier_halvings_land_within_two_days_of_their_real_dates(replayed):
    for height, real_time in REAL_HALVING_TIMES.items():
        assert abs(int(replayed["time"].iloc[height]) - real_time) < 2 * 86_400


def test_the_difficulty_one_epochs_of_2009_share_the_calendar_and_stay_at_least_two_weeks(replayed):
    times = replayed["time"].to_numpy()
    spans = [int(times[e * 2016 + 2015] - times[e * 2016]) for e in range(15)]
    assert min(spans) >= TARGET_TIMESPAN_SECONDS
    assert int(times[30_240]) < 1261130161 + 86_400 * 3  # epoch 15 began about 2009-12-18


def test_replay_is_deterministic_by_seed_and_the_seed_only_moves_times(epochs, replayed):
    again = replay_history(epochs, seed=7)
    pd.testing.assert_frame_equal(again, replayed)
    other = replay_history(epochs, seed=8)
    assert np.array_equal(other["bits"].to_numpy(), replayed["bits"].to_numpy())
    assert not np.array_equal(other["time"].to_numpy(), replayed["time"].to_numpy())


def test_the_first_real_retarget_accepts_the_real_timespan_from_bitcoin_core_tests():
    low, high = timespan_range(0x1D00FFFF, 0x1D00D86A)
    assert low <= 1262152739 - 1261130161 <= high  # pow_tests.cpp get_next_work


def test_an_epoch_staying_at_the_proof_of_work_limit_accepts_any_timespan_from_two_weeks():
    assert timespan_range(0x1D00FFFF, 0x1D00FFFF) == (TARGET_TIMESPAN_SECONDS, None)


def test_a_change_beyond_the_four_times_clamp_has_no_timespan():
    with pytest.raises(ValueError, match="no epoch timespan turns bits 0x1b0404cb into 0x1a0404cb"):
        timespan_range(0x1B0404CB, 0x1A0404CB)


def test_every_timespan_of_a_range_reproduces_the_next_bits():
    low, high = timespan_range(0x17034219, 0x17033F3D)
    assert MIN_TIMESPAN_SECONDS <= low <= high <= MAX_TIMESPAN_SECONDS
    assert {next_work_required(0x17034219, 0, t) for t in (low, (low + high) // 2, high)} == {0x17033F3D}
    assert next_work_required(0x17034219, 0, low - 1) != 0x17033F3D
    assert next_work_required(0x17034219, 0, high + 1) != 0x17033F3D


def test_the_calibration_of_the_last_two_years_matches_the_documented_defaults(epochs):
    model = calibrate_hashrate_model(epochs)
    assert round(model.log_drift_per_epoch, 5) == DEFAULT_HASHRATE_MODEL.log_drift_per_epoch
    assert round(model.log_volatility_per_epoch, 5) == DEFAULT_HASHRATE_MODEL.log_volatility_per_epoch


def test_the_calibration_reads_the_last_52_epoch_changes_and_takes_out_block_luck(epochs):
    difficulty = np.array([float(difficulty_fraction(int(b))) for b in epochs["bits"]])
    changes = np.diff(np.log(difficulty))[-52:]
    model = calibrate_hashrate_model(epochs)
    assert model.log_drift_per_epoch == pytest.approx(changes.mean(), rel=1e-12)
    assert model.log_volatility_per_epoch**2 == pytest.approx(changes.var(ddof=1) - 2 / 2015, rel=1e-9)
    shorter = calibrate_hashrate_model(epochs.iloc[:-1])  # one epoch less: the window moves with the data
    assert shorter.log_drift_per_epoch == pytest.approx(np.diff(np.log(difficulty[:-1]))[-52:].mean(), rel=1e-12)


@pytest.fixture(scope="module")
def demo_chain(epochs):
    return simulate_demo_chain(epochs, seed=7, end_time=NOVEMBER_2026)


def test_the_demo_chain_continues_the_history_up_to_the_given_time(epochs, replayed, demo_chain):
    chain = demo_chain
    pd.testing.assert_frame_equal(chain.iloc[:len(replayed)], replayed)
    assert int(chain["time"].iloc[-1]) <= NOVEMBER_2026
    assert 960_000 < len(chain) < 1_000_000
    bits, times = chain["bits"].to_numpy(), chain["time"].to_numpy()
    for epoch in range(len(epochs) - 1, len(chain) // 2016 - 1):  # from the history's last epoch on
        first, last = epoch * 2016, epoch * 2016 + 2015
        assert bits[last + 1] == next_work_required(int(bits[first]), int(times[first]), int(times[last]))


def _month(chain: pd.DataFrame, height: int) -> str:
    return pd.Timestamp(int(chain["time"].iloc[height]), unit="s", tz="UTC").strftime("%Y-%m")


def test_the_demo_chain_is_real_history_to_its_last_epoch_on_the_real_calendar(epochs, demo_chain):
    covered = int(epochs["end_height"].iloc[-1]) + 1
    sizes = (epochs["end_height"] - epochs["start_height"] + 1).to_numpy()
    assert np.array_equal(demo_chain["bits"].to_numpy()[:covered], np.repeat(epochs["bits"].to_numpy(), sizes))
    # the data README's dates: epoch 468 in April 2026, epoch 481 (heights 969696-971711) in October 2026
    assert _month(demo_chain, 468 * 2016) == _month(demo_chain, 469 * 2016 - 1) == "2026-04"
    assert _month(demo_chain, 969_696) == _month(demo_chain, 971_711) == "2026-10"
    # only what follows the history is simulated: from October to the demo's end, a few epochs
    assert 0 < len(demo_chain) - covered < 3 * 2016


def test_the_demos_two_stored_years_are_mostly_replayed_real_epochs(epochs, demo_chain):
    end = int(demo_chain["time"].iloc[-1])
    stored = demo_chain[demo_chain["time"] >= end - 730 * 86_400]  # ``hashedge demo --days 730``
    real = stored["height"] <= int(epochs["end_height"].iloc[-1])
    assert real.mean() > 0.9


def test_a_later_demo_run_keeps_every_block_of_an_earlier_one(epochs, demo_chain):
    earlier = simulate_chain(seed=7, end_time=1_750_000_000, history=epochs)
    pd.testing.assert_frame_equal(demo_chain.iloc[:len(earlier)], earlier)
    assert len(demo_chain) > len(earlier)


def test_a_history_not_starting_at_genesis_is_refused(epochs):
    with pytest.raises(ValueError, match="must start at epoch 0"):
        replay_history(epochs.iloc[5:])


def test_a_short_history_replays_without_the_2024_calendar(epochs):
    chain = replay_history(epochs.iloc[:20], seed=1)
    assert len(chain) == 20 * 2016
    assert chain["time"].iloc[0] == GENESIS_TIME
    bits, times = chain["bits"].to_numpy(), chain["time"].to_numpy()
    assert [next_work_required(int(bits[e * 2016]), int(times[e * 2016]), int(times[e * 2016 + 2015]))
            for e in range(19)] == epochs["bits"].tolist()[1:20]

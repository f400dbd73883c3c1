"""The synthetic chain simulator: deterministic, prefix-stable, and faithful to consensus rules."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from indices.blocks import BLOCK_COLUMNS, normalize_block_frame
from indices.chain import bits_to_difficulty, block_subsidy_sats, next_work_required
from indices.sources.base import BlockNotFound, BlockSource
from indices.sources.fee_model import DEFAULT_FEE_MODEL, FeeModel
from indices.sources.simulator import (
    DEFAULT_HASHRATE_MODEL,
    GENESIS_TIME,
    ChainSimulator,
    HashrateModel,
    simulate_chain,
    subsidies_sats,
)

START_OF_2025 = 1_735_689_600


@pytest.fixture(scope="module")
def long_chain():
    return simulate_chain(120_000, seed=11)


def test_the_same_seed_gives_the_same_chain_and_another_seed_another(long_chain):
    pd.testing.assert_frame_equal(simulate_chain(120_000, seed=11), long_chain)
    other = simulate_chain(120_000, seed=12)
    assert other["hash"].iloc[-1] != long_chain["hash"].iloc[-1]
    assert other["time"].iloc[-1] != long_chain["time"].iloc[-1]


def test_a_longer_simulation_starts_with_exactly_the_shorter_one(long_chain):
    pd.testing.assert_frame_equal(simulate_chain(5_000, seed=11), long_chain.iloc[:5_000])
    end_time = int(long_chain["time"].iloc[70_000])
    until = simulate_chain(seed=11, end_time=end_time)
    pd.testing.assert_frame_equal(until, long_chain.iloc[:len(until)])
    assert int(until["time"].iloc[-1]) <= end_time < int(long_chain["time"].iloc[len(until)])


def test_the_output_is_a_normalized_block_frame_from_genesis(long_chain):
    assert list(long_chain.columns) == list(BLOCK_COLUMNS)
    pd.testing.assert_frame_equal(normalize_block_frame(long_chain), long_chain)
    assert long_chain["height"].tolist() == list(range(120_000))
    assert long_chain["time"].iloc[0] == GENESIS_TIME
    assert (np.diff(long_chain["time"].to_numpy()) >= 0).all()


def test_hashes_chain_from_an_all_zero_genesis_parent_and_can_be_recomputed(long_chain):
    assert long_chain["prev_hash"].iloc[0] == "0" * 64
    assert (long_chain["prev_hash"].to_numpy()[1:] == long_chain["hash"].to_numpy()[:-1]).all()
    row = long_chain.iloc[1234]
    text = f"{row['prev_hash']}|1234|{row['time']}|{row['bits']}|11"
    assert row["hash"] == hashlib.sha256(text.encode()).hexdigest()
    assert long_chain["hash"].nunique() == len(long_chain)


def test_every_simulated_retarget_follows_the_consensus_rule(long_chain):
    bits, times = long_chain["bits"].to_numpy(), long_chain["time"].to_numpy()
    epochs = len(long_chain) // 2016
    for epoch in range(epochs - 1):
        first, last = epoch * 2016, epoch * 2016 + 2015
        assert (bits[first:last + 1] == bits[first]).all()
        assert bits[last + 1] == next_work_required(int(bits[first]), int(times[first]), int(times[last]))
    assert len(set(bits.tolist())) > 20  # the difficulty did move


def test_subsidies_follow_the_halving_schedule():
    heights = np.array([0, 209_999, 210_000, 419_999, 420_000, 840_000, 6_929_999, 6_930_000,
                        64 * 210_000 - 1, 64 * 210_000, 10**9])
    assert subsidies_sats(heights).tolist() == [block_subsidy_sats(int(h)) for h in heights]
    assert subsidies_sats(heights)[:6].tolist() == [5_000_000_000, 5_000_000_000, 2_500_000_000,
                                                    2_500_000_000, 1_250_000_000, 312_500_000]
    assert subsidies_sats(heights)[-2:].tolist() == [0, 0]


def test_a_chain_across_a_halving_halves_the_subsidy_at_height_210000():
    chain = simulate_chain(210_002, seed=5)
    assert chain["subsidy_sats"].iloc[-3:].tolist() == [5_000_000_000, 2_500_000_000, 2_500_000_000]


def test_difficulty_moves_like_the_calibrated_hashrate_model_plus_block_luck():
    chain = simulate_chain(1_000_000, seed=21)  # 496 epochs
    epoch_bits = chain["bits"].to_numpy()[::2016]
    changes = np.diff(np.log([bits_to_difficulty(int(b)) for b in epoch_bits]))[20:]  # past the 2009-like start
    expected_std = np.sqrt(DEFAULT_HASHRATE_MODEL.log_volatility_per_epoch**2 + 2 / 2015)
    assert changes.mean() == pytest.approx(DEFAULT_HASHRATE_MODEL.log_drift_per_epoch, abs=0.006)
    assert changes.std(ddof=1) == pytest.approx(expected_std, rel=0.15)
    # hashrate runs ahead of difficulty by one epoch's growth, so blocks come that much faster
    assert np.diff(chain["time"].to_numpy()).mean() == pytest.approx(
        600 / np.exp(DEFAULT_HASHRATE_MODEL.log_drift_per_epoch), rel=0.02)


def test_a_flat_hashrate_model_keeps_difficulty_near_one_and_blocks_at_ten_minutes():
    chain = simulate_chain(100_000, seed=2, hashrate_model=HashrateModel(0.0, 0.0))
    difficulties = [bits_to_difficulty(int(b)) for b in chain["bits"].unique()]
    assert 1.0 == min(difficulties) <= max(difficulties) < 1.1
    assert np.diff(chain["time"].to_numpy()).mean() == pytest.approx(600, rel=0.02)


def test_recent_era_blocks_carry_about_three_thousand_transactions_and_a_few_hundredths_of_a_btc():
    chain = simulate_chain(50_000, seed=4, start_time=START_OF_2025 + 200 * 86_400)
    assert chain["tx_count"].mean() == pytest.approx(3_000, rel=0.03)
    assert chain["total_fees_sats"].mean() / 1e8 == pytest.approx(0.03, rel=0.15)
    assert chain["total_fees_sats"].max() > 10 * chain["total_fees_sats"].median()  # occasional spikes


def test_early_blocks_are_mostly_coinbase_only_and_those_collect_no_fees():
    chain = simulate_chain(30_000, seed=4)
    coinbase_only = chain["tx_count"] == 1
    assert coinbase_only.mean() > 0.9
    assert (chain.loc[coinbase_only, "total_fees_sats"] == 0).all()
    assert chain["total_fees_sats"].sum() / 1e8 < 1.0


def test_the_fee_model_interpolates_its_era_anchors():
    model = FeeModel(fee_eras_btc=((0, 0.0), (100, 1.0)), tx_eras=((0, 1.0), (100, 101.0)))
    assert model.mean_fee_btc(np.array([-5, 0, 25, 100, 500])).tolist() == [0.0, 0.0, 0.25, 1.0, 1.0]
    assert model.mean_tx_count(np.array([50])).tolist() == [51.0]
    assert DEFAULT_FEE_MODEL.mean_fee_btc(np.array([START_OF_2025 + 365 * 86_400])).tolist() == [0.03]


def test_the_fee_model_is_reproducible_from_its_generator():
    times = np.full(1_000, START_OF_2025)
    first = DEFAULT_FEE_MODEL.sample(np.random.default_rng(9), times)
    second = DEFAULT_FEE_MODEL.sample(np.random.default_rng(9), times)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert first[0].dtype == first[1].dtype == np.int64


def test_a_million_blocks_are_simulated_in_one_call():
    chain = simulate_chain(1_000_000, seed=1)
    assert len(chain) == 1_000_000
    assert chain["height"].iloc[-1] == 999_999
    assert chain["subsidy_sats"].iloc[-1] == 312_500_000


@pytest.mark.parametrize("arguments, message", [
    ({}, "give n_blocks, end_time or both"),
    ({"n_blocks": -1}, "n_blocks must be non-negative"),
    ({"n_blocks": 5, "seed": -3}, "seed must be non-negative"),
])
def test_impossible_requests_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        simulate_chain(**arguments)


def test_zero_blocks_is_an_empty_frame():
    assert simulate_chain(0).empty


def test_the_simulator_serves_its_chain_as_a_block_source():
    source = ChainSimulator.synthetic(3_000, seed=8)
    assert isinstance(source, BlockSource)
    assert source.tip_height() == 2_999
    block = source.block(2_500)
    assert (block.height, block.hash, block.prev_hash) == (2_500, source.block_hash(2_500), source.block_hash(2_499))
    assert [b.height for b in source.blocks(10, 12)] == [10, 11, 12]
    with pytest.raises(BlockNotFound, match="holds heights 0-2999, not 3000"):
        source.block(3_000)


def test_a_reorged_simulator_differs_only_in_its_last_blocks_and_still_links():
    source = ChainSimulator.synthetic(100, seed=8)
    forked = source.with_reorg(3)
    assert [forked.block_hash(h) == source.block_hash(h) for h in (96, 97, 98, 99)] == [True, False, False, False]
    frame = forked.frame
    assert (frame["prev_hash"].to_numpy()[1:] == frame["hash"].to_numpy()[:-1]).all()
    assert forked.block(99).time == source.block(99).time + 1
    with pytest.raises(ValueError, match="reorg depth must be between 1 and 99"):
        source.with_reorg(100)

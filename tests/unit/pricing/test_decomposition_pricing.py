"""Decomposition pricing of BME, hashprice and capped/floored contracts, against hand sums."""

import pytest

from indices.bme import bme
from indices.chain import bits_to_difficulty, parse_bits
from pricing import (
    CappedFlooredContract,
    EpochForecast,
    bme_settlement_btc_per_th_day,
    hashprice_settlement_sats_per_phd,
    value_futures,
)
from pricing.futures import mean_epoch_subsidy_sats

K = 20116567.611694336  # BTC per TH/s per day at difficulty 1, per BTC of subsidy


def test_bme28_settles_on_the_mean_of_its_two_epoch_terms():
    path = [EpochForecast(420, 1e14, known=True), EpochForecast(421, 1.25e14)]
    expected = (K * 3.125 / 1e14 + K * 3.125 / 1.25e14) / 2
    assert bme_settlement_btc_per_th_day(path, 421, 2) == pytest.approx(expected, rel=1e-15)


def test_a_window_across_the_halving_uses_each_epochs_own_subsidy():
    # epoch 416 starts at 838656 (6.25 BTC), epoch 417 at 840672 (3.125 BTC)
    path = [EpochForecast(416, 8e13), EpochForecast(417, 8e13)]
    expected = (K * 6.25 / 8e13 + K * 3.125 / 8e13) / 2
    assert bme_settlement_btc_per_th_day(path, 417, 2) == pytest.approx(expected, rel=1e-15)


def test_known_mainnet_epochs_reproduce_the_published_bme(real_epochs):
    rows = real_epochs[(real_epochs.epoch >= 400) & (real_epochs.epoch <= 415)]
    path = [
        EpochForecast(int(e), bits_to_difficulty(parse_bits(b)), known=True)
        for e, b in zip(rows.epoch, rows.bits)
    ]
    height = 415 * 2016 + 100
    for days in (14, 28, 84, 224):
        predicted = bme_settlement_btc_per_th_day(path, 415, days // 14)
        assert predicted == pytest.approx(bme(real_epochs, height, days), rel=1e-14)


def test_hashprice_of_one_epoch_matches_the_hand_computation():
    # (3.125 BTC + 0.25 BTC fees) * 144 blocks over 1e14 * 2**32 / 600 / 1e15 PH/s
    hashrate_phs = 1e14 * 2**32 / 600 / 1e15
    expected = (312_500_000 + 25_000_000) * 144 / hashrate_phs
    path = [EpochForecast(420, 1e14, fees_per_block_sats=25_000_000)]
    assert hashprice_settlement_sats_per_phd(path, {420: 14}) == pytest.approx(expected, rel=1e-15)


def test_a_month_of_hashprice_weights_each_epoch_by_its_days():
    path = [EpochForecast(420, 1e14), EpochForecast(421, 1.1e14), EpochForecast(422, 1.2e14)]
    per_epoch = [3.125e8 * 144 / (d * 2**32 / 600 / 1e15) for d in (1e14, 1.1e14, 1.2e14)]
    expected = (5 * per_epoch[0] + 14 * per_epoch[1] + 12 * per_epoch[2]) / 31
    settled = hashprice_settlement_sats_per_phd(path, {420: 5, 421: 14, 422: 12})
    assert settled == pytest.approx(expected, rel=1e-14)


def test_an_epoch_straddling_the_halving_averages_its_block_subsidies():
    # epoch 416: heights 838656..840671, halving at 840000 -> 1344 blocks at 6.25, 672 at 3.125
    assert mean_epoch_subsidy_sats(416) == (1344 * 625_000_000 + 672 * 312_500_000) / 2016


def test_futures_value_is_settlement_minus_price_times_multiplier_per_side():
    long = value_futures(1.1e-6, 1.0e-6, 1000.0, "long")
    short = value_futures(1.1e-6, 1.0e-6, 1000.0, "short")
    assert long.value == pytest.approx(1e-4, rel=1e-12)
    assert short.value == -long.value


def test_capped_and_floored_payouts_always_sum_to_the_range():
    contract = CappedFlooredContract(floor=40_000.0, cap=80_000.0, multiplier=10.0)
    for index in (10_000.0, 40_000.0, 55_000.0, 80_000.0, 1e6):
        payouts = contract.settlement_payouts(index)
        assert payouts.long + payouts.short == pytest.approx(400_000.0)
    assert contract.settlement_payouts(55_000.0).long == pytest.approx(150_000.0)
    assert contract.settlement_payouts(1e6).long == pytest.approx(400_000.0)
    assert contract.settlement_payouts(0.0).short == pytest.approx(400_000.0)


def test_capped_and_floored_collateral_and_implied_leverage():
    contract = CappedFlooredContract(floor=40_000.0, cap=80_000.0, multiplier=10.0)
    collateral = contract.collateral(50_000.0)
    assert (collateral.long, collateral.short) == (100_000.0, 300_000.0)
    leverage = contract.implied_leverage(50_000.0)
    assert leverage.long == pytest.approx(5.0)
    assert leverage.short == pytest.approx(5.0 / 3.0)


def test_capped_and_floored_value_is_clamped_at_the_bounds():
    contract = CappedFlooredContract(floor=40_000.0, cap=80_000.0, multiplier=10.0)
    assert contract.value(90_000.0, 50_000.0, "long") == pytest.approx(300_000.0)
    assert contract.value(90_000.0, 50_000.0, "short") == pytest.approx(-300_000.0)
    assert contract.value(30_000.0, 50_000.0, "long") == pytest.approx(-100_000.0)


def test_a_path_missing_a_window_epoch_is_refused():
    with pytest.raises(ValueError, match="lacks epochs"):
        bme_settlement_btc_per_th_day([EpochForecast(421, 1e14)], 421, 2)

"""Difficulty risk model on the mainnet epoch history: eras, horizons, summaries."""

import math

import numpy as np
import pandas as pd
import pytest

from pricing.history import era_log_changes, halving_eras
from pricing.risk_model import (
    difficulty_risk_model,
    era_summaries,
    fixing_log_changes,
    horizon_log_changes,
    index_change_summary,
    index_changes,
    summarize,
)


def _schedule_eras(last_epoch: int) -> list[tuple[str, int, int]]:
    """Eras from the subsidy schedule: era k starts with the first epoch whose first block is at or
    after height 210,000 k, and the last one ends with the history."""
    firsts = [0]
    while -(-210_000 * len(firsts) // 2016) <= last_epoch:
        firsts.append(-(-210_000 * len(firsts) // 2016))
    lasts = [first - 1 for first in firsts[1:]] + [last_epoch]
    return [(f"{50 / 2**k:g} BTC", first, last) for k, (first, last) in enumerate(zip(firsts, lasts))]


def test_the_history_splits_into_the_halving_eras_of_the_subsidy_schedule(mainnet_history):
    eras = halving_eras(mainnet_history)
    last_epoch = int(mainnet_history.epochs[-1])
    assert [(e.name, e.first_epoch, e.last_epoch) for e in eras] == _schedule_eras(last_epoch)
    assert [(e.name, e.first_epoch) for e in eras[:5]] == [
        ("50 BTC", 0), ("25 BTC", 105), ("12.5 BTC", 209), ("6.25 BTC", 313), ("3.125 BTC", 417),
    ]
    assert eras[-1].last_epoch == last_epoch
    # every epoch after the first has a change, and it belongs to its own era
    assert [len(era_log_changes(mainnet_history, e)) for e in eras] == [
        e.last_epoch - max(e.first_epoch, 1) + 1 for e in eras
    ]
    assert sum(len(era_log_changes(mainnet_history, e)) for e in eras) == len(mainnet_history) - 1
    assert [len(era_log_changes(mainnet_history, e)) for e in eras[:4]] == [104, 104, 104, 104]


def test_growth_is_not_stationary_across_eras(mainnet_history):
    means = [s.mean for _, s in era_summaries(mainnet_history, horizon_days=14)]
    raw = [float(np.mean(era_log_changes(mainnet_history, e))) for e in halving_eras(mainnet_history)]
    assert len(means) == len(raw) == len(halving_eras(mainnet_history))  # every era, the current one too
    assert all(abs(m) < 1e-12 for m in means)  # horizon changes are centred
    assert raw[1] > 0.10 > 0.02 > raw[3] > 0  # ASIC build-out vs mature industry
    assert raw == sorted(raw, reverse=True)  # growth has slowed era after era, the 3.125 BTC era too


def test_the_china_mining_ban_is_the_worst_epoch_on_record_and_marks_the_stressed_window(mainnet_history, windows):
    model = difficulty_risk_model(mainnet_history, windows.stressed)
    assert model.era.name == "6.25 BTC"
    assert float(model.changes.min()) == pytest.approx(-0.3277, abs=1e-4)  # epoch 342, July 2021
    assert float(model.changes.min()) == windows.stress_log_change == float(mainnet_history.log_changes.min())
    assert model.daily_vol == pytest.approx(model.summary.volatility / math.sqrt(14))


def test_the_default_risk_model_is_the_current_era_which_is_calmer(mainnet_history, windows):
    current = difficulty_risk_model(mainnet_history)
    assert current.era == windows.current == halving_eras(mainnet_history)[-1]
    assert current.era.name == "3.125 BTC" and windows.current != windows.stressed
    assert len(current.changes) == current.era.last_epoch - current.era.first_epoch + 1
    assert float(current.changes.min()) > windows.stress_log_change
    assert current.summary.volatility < difficulty_risk_model(mainnet_history, windows.stressed).summary.volatility


def test_whole_epoch_horizons_sum_consecutive_changes():
    changes = np.array([1.0, 2.0, 3.0, 4.0])
    assert horizon_log_changes(changes, 28, centre=False).tolist() == [3.0, 5.0, 7.0]
    assert horizon_log_changes(changes, 14, centre=True).tolist() == [-1.5, -0.5, 0.5, 1.5]


def test_fractional_epochs_carry_their_share_of_the_variance():
    changes = np.array([1.0, 2.0, 3.0, 4.0])
    assert horizon_log_changes(changes, 7, centre=False) == pytest.approx(np.sqrt(0.5) * changes)
    assert horizon_log_changes(changes, 21, centre=False) == pytest.approx(
        [1 + 2 * np.sqrt(0.5), 2 + 3 * np.sqrt(0.5), 3 + 4 * np.sqrt(0.5)]
    )


def test_a_difficulty_rise_lowers_bme_and_raises_diff():
    assert index_changes(np.array([math.log(1.25)]), -1.0)[0] == pytest.approx(-0.2)
    assert index_changes(np.array([math.log(1.25)]), 1.0)[0] == pytest.approx(0.25)


def test_summary_reports_tails_and_expected_shortfall():
    samples = np.arange(1, 201, dtype=float)
    summary = summarize(samples, confidence=0.99)
    assert summary.count == 200 and summary.mean == pytest.approx(100.5)
    assert summary.lower_expected_shortfall == pytest.approx(1.5)
    assert summary.upper_expected_shortfall == pytest.approx(199.5)
    assert summary.quantiles[0.5] == pytest.approx(100.5)


def test_daily_fixings_give_log_changes_over_a_horizon():
    days = pd.date_range("2024-01-01", periods=5, freq="D")
    fixings = pd.Series([100.0, 110.0, 121.0, 133.1, 146.41], index=days)
    assert fixing_log_changes(fixings, 2) == pytest.approx([2 * math.log(1.1)] * 3)


def test_hashprice_changes_over_an_epoch_have_a_fat_upper_tail_in_the_stressed_window(mainnet_history, windows):
    summary = index_change_summary(mainnet_history, -1.0, 14, era=windows.stressed)
    assert summary.count == 104
    assert summary.quantiles[0.995] > 0.3  # the China ban: difficulty -32.8%, hashprice +41%
    changes = era_log_changes(mainnet_history, windows.stressed)
    worst_two = np.sort(np.expm1(-(changes - changes.mean())))[-2:]  # 1% of 104 rounds up to 2
    assert summary.upper_expected_shortfall == pytest.approx(worst_two.mean(), rel=1e-12)
    assert summary.excess_kurtosis > 3

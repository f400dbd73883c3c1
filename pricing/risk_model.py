"""Distribution of difficulty and index changes, estimated from history.

* Per-epoch log difficulty changes ``x_e = ln(D_e / D_(e-1))`` by halving era
  (``pricing.history``): mean, volatility, excess kurtosis, tail quantiles and expected shortfall.
* Over a horizon of h days, with n = h/14 epochs = m whole epochs + a fraction f, the historical
  change is the sum of m consecutive epoch changes plus ``sqrt(f)`` times the next one: a futures
  mark takes in news about difficulty as it arrives, so a fraction f of an epoch carries a
  fraction f of its variance (Brownian interpolation). Windows overlap; the era mean is removed
  first when ``centre`` is set, because a futures price already holds the expected growth and its
  mark moves by the surprise.
* An index with difficulty exposure ``beta`` (-1 for BME and BTC hashprice, +1 for DIFF) changes by
  ``exp(beta * x) - 1``.
* Daily fixings of any index (e.g. HASHPRICE computed from block data by ``indices``) give log
  changes over a horizon in days directly (:func:`fixing_log_changes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from pricing.errors import PricingInputError, positive, positive_int, probability_level
from pricing.history import EpochHistory, Era, era_log_changes, halving_eras

DAYS_PER_EPOCH = 14
SUMMARY_LEVELS = (0.005, 0.01, 0.05, 0.5, 0.95, 0.99, 0.995)


@dataclass(frozen=True, slots=True)
class DistributionSummary:
    """Moments, quantiles and tail means of a sample."""

    count: int
    mean: float
    volatility: float
    excess_kurtosis: float
    quantiles: Mapping[float, float]
    confidence: float
    lower_expected_shortfall: float  # mean of the worst (1 - confidence) share, low side
    upper_expected_shortfall: float  # mean of the worst (1 - confidence) share, high side


def summarize(samples: np.ndarray, confidence: float = 0.99) -> DistributionSummary:
    values = np.asarray(samples, dtype=float)
    level = probability_level("confidence", confidence)
    if values.ndim != 1 or len(values) < 4 or not np.all(np.isfinite(values)):
        raise PricingInputError("samples", len(values), "must be at least 4 finite numbers")
    ordered = np.sort(values)
    tail = max(1, math.ceil(round((1.0 - level) * len(ordered), 9)))
    centred = values - values.mean()
    variance = float(centred.var(ddof=1))
    kurtosis = float((centred**4).mean() / centred.var() ** 2 - 3.0) if variance > 0 else 0.0
    return DistributionSummary(
        count=len(values),
        mean=float(values.mean()),
        volatility=math.sqrt(variance),
        excess_kurtosis=kurtosis,
        quantiles=MappingProxyType({q: float(np.quantile(values, q)) for q in SUMMARY_LEVELS}),
        confidence=level,
        lower_expected_shortfall=float(ordered[:tail].mean()),
        upper_expected_shortfall=float(ordered[-tail:].mean()),
    )


def horizon_epochs(horizon_days: float) -> tuple[int, float]:
    """Whole epochs and leftover fraction in a horizon of ``horizon_days``."""
    epochs = positive("horizon_days", horizon_days) / DAYS_PER_EPOCH
    whole = math.floor(epochs)
    return whole, epochs - whole


def horizon_log_changes(changes: np.ndarray, horizon_days: float, *, centre: bool = True) -> np.ndarray:
    """Overlapping historical log changes over ``horizon_days`` (see the module docstring)."""
    values = np.asarray(changes, dtype=float)
    if centre:
        values = values - values.mean()
    whole, fraction = horizon_epochs(horizon_days)
    span = whole + (1 if fraction > 0 else 0)
    if len(values) < span + 1:
        raise PricingInputError(
            "horizon_days", horizon_days, f"needs more than {span} epochs of history, got {len(values)}"
        )
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    starts = np.arange(len(values) - span + 1)
    sums = cumulative[starts + whole] - cumulative[starts]
    if fraction > 0:
        sums = sums + math.sqrt(fraction) * values[starts + whole]
    return sums


def index_changes(log_difficulty_changes: np.ndarray, difficulty_exposure: float) -> np.ndarray:
    """Relative index changes ``exp(beta * x) - 1`` for difficulty exposure ``beta``."""
    return np.expm1(difficulty_exposure * np.asarray(log_difficulty_changes, dtype=float))


@dataclass(frozen=True, slots=True)
class DifficultyRiskModel:
    """Per-epoch log difficulty changes of one era, with their summary."""

    era: Era
    changes: np.ndarray
    summary: DistributionSummary

    @property
    def daily_vol(self) -> float:
        """Volatility of the log change per day: epoch volatility / sqrt(14)."""
        return self.summary.volatility / math.sqrt(DAYS_PER_EPOCH)


def difficulty_risk_model(
    history: EpochHistory, era: Era | None = None, confidence: float = 0.99
) -> DifficultyRiskModel:
    """The risk model of ``era`` (default: the latest era of the history)."""
    chosen = era if era is not None else halving_eras(history)[-1]
    changes = era_log_changes(history, chosen)
    return DifficultyRiskModel(chosen, changes, summarize(changes, confidence))


def era_summaries(
    history: EpochHistory, horizon_days: float = DAYS_PER_EPOCH, confidence: float = 0.99
) -> tuple[tuple[Era, DistributionSummary], ...]:
    """Summary of centred horizon log difficulty changes for every era of the history."""
    return tuple(
        (era, summarize(horizon_log_changes(era_log_changes(history, era), horizon_days), confidence))
        for era in halving_eras(history)
    )


def index_change_summary(
    history: EpochHistory,
    difficulty_exposure: float,
    horizon_days: float,
    era: Era | None = None,
    confidence: float = 0.99,
) -> DistributionSummary:
    """Relative changes over ``horizon_days`` of an index with that difficulty exposure."""
    chosen = era if era is not None else halving_eras(history)[-1]
    windows = horizon_log_changes(era_log_changes(history, chosen), horizon_days)
    return summarize(index_changes(windows, difficulty_exposure), confidence)


def fixing_log_changes(fixings: pd.Series, horizon_days: int) -> np.ndarray:
    """Overlapping log changes over ``horizon_days`` of a daily fixing series (indexed by date)."""
    days = positive_int("horizon_days", horizon_days)
    series = pd.Series(fixings, dtype=float).sort_index()
    if len(series) <= days or not np.all(series.to_numpy() > 0):
        raise PricingInputError("fixings", len(series), f"must hold more than {days} positive values")
    values = np.log(series.to_numpy())
    return values[days:] - values[:-days]

"""Scenarios of the risk factors over a margin horizon: historical, bootstrap and parametric.

A scenario is a pair of log changes over the horizon: of difficulty, and of the BTC/USD price.
Difficulty scenarios come from the epoch history (``pricing.risk_model``):

* historical: every overlapping window of the era (deterministic);
* bootstrap: stationary bootstrap (Politis-Romano) of epoch changes with mean block length
  ``block_epochs``, which builds new multi-epoch paths while keeping short-range dependence;
* parametric: normal, or Student-t with ``tail_dof`` degrees of freedom scaled to the volatility.

The epoch history holds no prices, so the BTC/USD factor is parametric: normal log changes with a
stated daily volatility, independent of difficulty over the horizon (:func:`with_btc_usd`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from pricing.errors import PricingInputError, finite, positive, positive_int
from pricing.risk_model import horizon_epochs, horizon_log_changes

FACTORS = ("difficulty", "btc_usd")


@dataclass(frozen=True, eq=False)
class ScenarioSet:
    """``log_changes[i]`` = (difficulty, btc_usd) log changes of scenario i over the horizon."""

    log_changes: np.ndarray
    horizon_days: float
    method: str

    def __post_init__(self) -> None:
        if self.log_changes.ndim != 2 or self.log_changes.shape[1] != len(FACTORS):
            raise PricingInputError("log_changes", self.log_changes.shape, "must be (n, 2)")
        if len(self.log_changes) == 0:
            raise PricingInputError("log_changes", 0, "must hold at least one scenario")

    def __len__(self) -> int:
        return len(self.log_changes)


def _difficulty_only(values: np.ndarray, horizon_days: float, method: str) -> ScenarioSet:
    return ScenarioSet(np.column_stack([values, np.zeros_like(values)]), horizon_days, method)


def historical_scenarios(
    changes: np.ndarray, horizon_days: float, *, centre: bool = True
) -> ScenarioSet:
    """One scenario per overlapping historical window."""
    windows = horizon_log_changes(changes, horizon_days, centre=centre)
    return _difficulty_only(windows, horizon_days, "historical")


def _combine(per_epoch: np.ndarray, horizon_days: float) -> np.ndarray:
    """Sum whole epochs, plus sqrt(fraction) x the extra draw (last column) when there is one."""
    whole, fraction = horizon_epochs(horizon_days)
    total = per_epoch[:, :whole].sum(axis=1)
    if fraction > 0:
        total = total + math.sqrt(fraction) * per_epoch[:, whole]
    return total


def _span(horizon_days: float) -> int:
    whole, fraction = horizon_epochs(horizon_days)
    return whole + (1 if fraction > 0 else 0)


def bootstrap_scenarios(
    changes: np.ndarray,
    horizon_days: float,
    count: int,
    *,
    seed: int,
    block_epochs: float = 2.0,
    centre: bool = True,
) -> ScenarioSet:
    """Stationary bootstrap of the epoch changes (circular, seeded)."""
    values = np.asarray(changes, dtype=float)
    if len(values) < 2:
        raise PricingInputError("changes", len(values), "must hold at least two epoch changes")
    if centre:
        values = values - values.mean()
    n = positive_int("count", count)
    restart = 1.0 / positive("block_epochs", block_epochs)
    span = _span(horizon_days)
    rng = np.random.default_rng(seed)
    index = np.empty((n, span), dtype=np.int64)
    index[:, 0] = rng.integers(0, len(values), n)
    for step in range(1, span):
        jump = rng.random(n) < restart
        fresh = rng.integers(0, len(values), n)
        index[:, step] = np.where(jump, fresh, (index[:, step - 1] + 1) % len(values))
    return _difficulty_only(_combine(values[index], horizon_days), horizon_days, "bootstrap")


def parametric_scenarios(
    volatility: float,
    horizon_days: float,
    count: int,
    *,
    seed: int,
    mean: float = 0.0,
    tail_dof: float | None = None,
) -> ScenarioSet:
    """I.i.d. per-epoch changes, normal or Student-t (unit variance scaled to ``volatility``)."""
    vol = positive("volatility", volatility)
    drift = finite("mean", mean)
    n = positive_int("count", count)
    span = _span(horizon_days)
    rng = np.random.default_rng(seed)
    if tail_dof is None:
        draws = rng.standard_normal((n, span))
    else:
        dof = positive("tail_dof", tail_dof)
        if dof <= 2:
            raise PricingInputError("tail_dof", tail_dof, "must exceed 2 for a finite variance")
        draws = rng.standard_t(dof, (n, span)) / math.sqrt(dof / (dof - 2.0))
    return _difficulty_only(_combine(drift + vol * draws, horizon_days), horizon_days, "parametric")


def with_btc_usd(
    scenarios: ScenarioSet, daily_vol: float, *, seed: int | None = None, strata: int = 64
) -> ScenarioSet:
    """Add independent normal BTC/USD log changes with ``daily_vol`` over the horizon.

    With ``seed`` each scenario gets one random draw. Without it the result is deterministic:
    every scenario is crossed with ``strata`` equal-probability normal quantiles (n x strata).
    """
    scale = positive("daily_vol", daily_vol) * math.sqrt(scenarios.horizon_days)
    difficulty = scenarios.log_changes[:, 0]
    if seed is not None:
        btc = scale * np.random.default_rng(seed).standard_normal(len(difficulty))
        return ScenarioSet(np.column_stack([difficulty, btc]), scenarios.horizon_days, scenarios.method)
    levels = positive_int("strata", strata)
    normal = NormalDist()
    grid = np.array([normal.inv_cdf((k + 0.5) / levels) for k in range(levels)]) * scale
    crossed = np.column_stack([np.repeat(difficulty, levels), np.tile(grid, len(difficulty))])
    return ScenarioSet(crossed, scenarios.horizon_days, scenarios.method)

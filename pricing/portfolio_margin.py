"""Portfolio margin: the worst loss of positions over scenarios at a confidence level.

Each instrument is described by its mark, its multiplier (mark x multiplier = value of one
contract, in the settlement unit) and its exposures to the two factors of ``pricing.scenarios``:
its value changes by ``exp(beta_d * x_difficulty + beta_b * x_btc_usd) - 1`` in a scenario
(BME and BTC-settled hashprice: beta_d = -1; DIFF: +1; USD-settled hashprice: beta_d = -1,
beta_b = +1). Positions are netted per account and instrument first, so the cost grows with
accounts x scenarios, not positions x scenarios.

The worst loss at confidence c is the order statistic of the scenario losses at rank
``ceil(c * n)`` (the 'higher' empirical quantile, never interpolated down), floored at zero; the
expected shortfall is the mean of the losses at or beyond it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pricing.errors import PricingInputError, finite, positive, probability_level
from pricing.scenarios import ScenarioSet


@dataclass(frozen=True, slots=True)
class InstrumentRisk:
    """How one listed contract's value moves with the risk factors."""

    name: str
    mark: float
    multiplier: float
    difficulty_exposure: float
    btc_usd_exposure: float = 0.0

    def __post_init__(self) -> None:
        positive("mark", self.mark)
        positive("multiplier", self.multiplier)
        finite("difficulty_exposure", self.difficulty_exposure)
        finite("btc_usd_exposure", self.btc_usd_exposure)

    @property
    def contract_value(self) -> float:
        return self.mark * self.multiplier


@dataclass(frozen=True, eq=False)
class MarginResult:
    """Worst loss and expected shortfall per account (same order as ``accounts``)."""

    accounts: np.ndarray
    worst_loss: np.ndarray
    expected_shortfall: np.ndarray
    confidence: float
    scenarios: int


def instrument_returns(instruments: Sequence[InstrumentRisk], scenarios: ScenarioSet) -> np.ndarray:
    """Relative value change of each instrument in each scenario, shape (scenarios, instruments)."""
    exposures = np.array([[i.difficulty_exposure, i.btc_usd_exposure] for i in instruments])
    return np.expm1(scenarios.log_changes @ exposures.T)


def worst_loss_rank(count: int, confidence: float) -> int:
    """0-based rank of the worst loss at ``confidence`` among ``count`` sorted scenario losses."""
    return min(count - 1, max(0, math.ceil(round(confidence * count, 9)) - 1))


def _tail(losses: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    rank = worst_loss_rank(losses.shape[1], confidence)
    ordered = np.partition(losses, rank, axis=1)
    worst = ordered[:, rank]
    shortfall = ordered[:, rank:].mean(axis=1)
    return np.maximum(worst, 0.0), np.maximum(shortfall, 0.0)


def scenario_margin(
    instruments: Sequence[InstrumentRisk],
    account_ids: np.ndarray,
    instrument_index: np.ndarray,
    quantities: np.ndarray,
    scenarios: ScenarioSet,
    confidence: float,
) -> MarginResult:
    """Worst loss at ``confidence`` of every account's positions over ``scenarios``.

    ``account_ids``, ``instrument_index`` (into ``instruments``) and ``quantities`` (signed
    contracts, long positive) describe one position per row.
    """
    level = probability_level("confidence", confidence)
    if not instruments:
        raise PricingInputError("instruments", instruments, "must list at least one instrument")
    accounts_col = np.asarray(account_ids)
    which = np.asarray(instrument_index, dtype=np.int64)
    size = np.asarray(quantities, dtype=float)
    if not (accounts_col.shape == which.shape == size.shape) or accounts_col.ndim != 1:
        raise PricingInputError("positions", size.shape, "need equal-length 1-d columns")
    if len(which) and (which.min() < 0 or which.max() >= len(instruments)):
        raise PricingInputError("instrument_index", int(which.max()), "must index the instruments")
    if not np.all(np.isfinite(size)):
        raise PricingInputError("quantities", "non-finite", "must be finite")
    accounts, row = np.unique(accounts_col, return_inverse=True)
    exposure = np.zeros((len(accounts), len(instruments)))
    values = np.array([i.contract_value for i in instruments])
    np.add.at(exposure, (row, which), size * values[which])
    pnl = exposure @ instrument_returns(instruments, scenarios).T
    worst, shortfall = _tail(-pnl, level)
    return MarginResult(accounts, worst, shortfall, level, len(scenarios))


def portfolio_worst_loss(
    instruments: Sequence[InstrumentRisk],
    quantities: Sequence[float],
    scenarios: ScenarioSet,
    confidence: float,
) -> tuple[float, float]:
    """(worst loss, expected shortfall) of one portfolio: ``quantities[i]`` of ``instruments[i]``."""
    if len(quantities) != len(instruments):
        raise PricingInputError("quantities", len(quantities), "must match the instruments")
    result = scenario_margin(
        instruments,
        np.zeros(len(instruments), dtype=np.int64),
        np.arange(len(instruments)),
        np.asarray(quantities, dtype=float),
        scenarios,
        confidence,
    )
    return float(result.worst_loss[0]), float(result.expected_shortfall[0])

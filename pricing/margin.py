"""Initial-margin ratios calibrated on the difficulty history.

``margin_ratio(index, horizon_days, confidence)`` is the fraction of a contract's notional that
covers its loss over ``horizon_days`` at ``confidence``, for whichever side loses more: the
scenario loss of rank ``ceil(confidence * n)`` (as in ``pricing.portfolio_margin``) of ``-r``
(long) and ``r`` (short), r the contract's relative change in the scenarios of
``pricing.scenarios``. Defaults: the latest halving era of the mainnet epoch
history (``era`` picks another, e.g. the stressed window of ``pricing.history.calibration_windows``:
the platform's margin defaults take the larger of the two, ``hashedge/domain/MARGIN.md``),
historical overlapping windows of centred changes, and for USD-settled contracts a BTC/USD daily
volatility of 3.5% (an assumed figure, about 67% a year: the shared data holds no prices),
independent of difficulty.

Index families: DIFF (difficulty exposure +1), BME{N} and HASHPRICE (-1; BTC-settled, fees not
modelled), HASHPRICE_USD (-1 to difficulty, +1 to BTC/USD). pricing/README.md compares the
results with the market's 18% (BTC-settled) and 35% (USD-settled) hashprice forward margins.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from pricing.errors import PricingInputError, one_of, positive, probability_level
from pricing.history import EpochHistory, Era, era_log_changes, halving_eras, load_epoch_history
from pricing.portfolio_margin import InstrumentRisk, instrument_returns, worst_loss_rank
from pricing.risk_model import summarize
from pricing.scenarios import (
    ScenarioSet,
    bootstrap_scenarios,
    historical_scenarios,
    parametric_scenarios,
    with_btc_usd,
)

METHODS = ("historical", "bootstrap", "parametric")
DEFAULT_BTC_USD_DAILY_VOL = 0.035
DEFAULT_SCENARIO_COUNT = 20_000
DEFAULT_SEED = 20240420  # the fourth halving
_BME = re.compile(r"^BME(\d+)$")


def index_exposures(index: str) -> tuple[float, float]:
    """(difficulty, BTC/USD) exposures of the log value of a contract on ``index``."""
    name = index.strip().upper() if isinstance(index, str) else ""
    match = _BME.match(name)
    if match and int(match.group(1)) > 0 and int(match.group(1)) % 14 == 0:
        return -1.0, 0.0
    table = {"DIFF": (1.0, 0.0), "HASHPRICE": (-1.0, 0.0), "HASHPRICE_USD": (-1.0, 1.0)}
    if name not in table:
        raise PricingInputError(
            "index", index, "must be DIFF, BME{N} (N a multiple of 14), HASHPRICE or HASHPRICE_USD"
        )
    return table[name]


@dataclass(frozen=True, slots=True)
class MarginCalibration:
    """A margin ratio with the data and assumptions it was calibrated on."""

    index: str
    horizon_days: float
    confidence: float
    ratio: float
    long_ratio: float
    short_ratio: float
    method: str
    era: str
    first_epoch: int
    last_epoch: int
    epoch_changes: int
    scenarios: int
    epoch_volatility: float
    btc_usd_daily_vol: float | None
    source: str


def _scenarios(
    changes: np.ndarray, horizon_days: float, method: str, count: int, seed: int
) -> ScenarioSet:
    if method == "historical":
        return historical_scenarios(changes, horizon_days)
    if method == "bootstrap":
        return bootstrap_scenarios(changes, horizon_days, count, seed=seed)
    stats = summarize(changes)
    dof = 4.0 + 6.0 / stats.excess_kurtosis if stats.excess_kurtosis > 0 else None
    return parametric_scenarios(stats.volatility, horizon_days, count, seed=seed, tail_dof=dof)


def _tail_quantile(losses: np.ndarray, confidence: float) -> float:
    rank = worst_loss_rank(len(losses), confidence)
    return max(0.0, float(np.partition(losses, rank)[rank]))


def margin_calibration(
    index: str,
    horizon_days: float,
    confidence: float,
    *,
    history: EpochHistory | None = None,
    era: Era | None = None,
    method: str = "historical",
    btc_usd_daily_vol: float = DEFAULT_BTC_USD_DAILY_VOL,
    scenario_count: int = DEFAULT_SCENARIO_COUNT,
    seed: int = DEFAULT_SEED,
) -> MarginCalibration:
    """The margin ratio for ``index`` and the calibration behind it (module docstring)."""
    difficulty_beta, btc_beta = index_exposures(index)
    horizon = positive("horizon_days", horizon_days)
    level = probability_level("confidence", confidence)
    one_of("method", method, METHODS)
    data = history if history is not None else load_epoch_history()
    chosen = era if era is not None else halving_eras(data)[-1]
    changes = era_log_changes(data, chosen)
    scenarios = _scenarios(changes, horizon, method, scenario_count, seed)
    usd_vol = None
    if btc_beta:
        usd_vol = positive("btc_usd_daily_vol", btc_usd_daily_vol)
        scenarios = with_btc_usd(scenarios, usd_vol, seed=None if method == "historical" else seed + 1)
    instrument = InstrumentRisk(index, 1.0, 1.0, difficulty_beta, btc_beta)
    returns = instrument_returns([instrument], scenarios)[:, 0]
    long_ratio = _tail_quantile(-returns, level)
    short_ratio = _tail_quantile(returns, level)
    return MarginCalibration(
        index=index,
        horizon_days=horizon,
        confidence=level,
        ratio=max(long_ratio, short_ratio),
        long_ratio=long_ratio,
        short_ratio=short_ratio,
        method=method,
        era=chosen.name,
        first_epoch=chosen.first_epoch,
        last_epoch=chosen.last_epoch,
        epoch_changes=len(changes),
        scenarios=len(scenarios),
        epoch_volatility=float(np.std(changes, ddof=1)),
        btc_usd_daily_vol=usd_vol,
        source=data.source,
    )


def margin_ratio(index: str, horizon_days: float, confidence: float, **calibration) -> float:
    """Initial-margin ratio (fraction of notional) for a contract on ``index``.

    Keyword arguments go to :func:`margin_calibration` (history, era, method, ...).
    """
    return margin_calibration(index, horizon_days, confidence, **calibration).ratio


def horizon_for_ratio(index: str, ratio: float, confidence: float, **calibration) -> float:
    """Shortest whole-day horizon whose margin ratio reaches ``ratio`` (inf if none within a year)."""
    target = positive("ratio", ratio)
    for days in range(1, 366):
        if margin_ratio(index, days, confidence, **calibration) >= target:
            return float(days)
    return math.inf

"""Implied difficulty and the implied difficulty growth rate (IDGR) of a BME-style price.

A BME{N} contract settles on the mean over its T = N/14 epochs of ``K * subsidy_btc / D_i``
(``indices.bme``), where ``K = 10**12 * 600 * 144 / 2**32`` is the BTC a TH/s earns per day at
difficulty 1 per BTC of subsidy. A price P therefore implies the (harmonic-mean) difficulty

    implied_difficulty = K * subsidy_btc / P

and, against today's difficulty D0, a constant per-epoch growth g (the IDGR) solving

    D0 / implied_difficulty = (1/T) * sum_{i=1..T} (1+g)**-i.

The right-hand side decreases strictly in g, so the root is unique when it exists. Consensus caps a
retarget at a factor of 4 either way, so g is searched in [-0.75, 3]: a price that needs a steeper
path than consensus allows has no solution and raises :class:`NoSolutionError`.
"""

from __future__ import annotations

import math

from indices.bme import BLOCKS_PER_DAY, HASHES_PER_TH
from indices.chain import BLOCK_INTERVAL_SECONDS, HASHES_PER_DIFFICULTY
from pricing.errors import PricingInputError, finite, positive, positive_int
from pricing.solver import solve_bracketed

# BTC per TH/s per day at difficulty 1, per BTC of block subsidy.
BTC_PER_TH_DAY_PER_SUBSIDY_BTC = (
    HASHES_PER_TH * BLOCK_INTERVAL_SECONDS * BLOCKS_PER_DAY / HASHES_PER_DIFFICULTY
)
MAX_RETARGET_FACTOR = 4  # pow.cpp clamps the timespan to [1/4, 4] of two weeks
MIN_GROWTH_PER_EPOCH = 1.0 / MAX_RETARGET_FACTOR - 1.0  # -0.75
MAX_GROWTH_PER_EPOCH = MAX_RETARGET_FACTOR - 1.0  # 3.0
GROWTH_ACCURACY = 1e-14
EDGE_TOLERANCE = 1e-13  # log-price gap accepted as a root at the clamp itself


def implied_difficulty(index_btc_per_th_day: float, subsidy_btc: float) -> float:
    """Difficulty D with ``K * subsidy_btc / D`` equal to the BME-style price."""
    price = positive("index_btc_per_th_day", index_btc_per_th_day)
    subsidy = positive("subsidy_btc", subsidy_btc)
    return BTC_PER_TH_DAY_PER_SUBSIDY_BTC * subsidy / price


def _log_abs_expm1(x: float) -> float:
    """log|exp(x) - 1| without overflow for large x or cancellation for small x."""
    if x > 0.0:
        return x + math.log(-math.expm1(-x))
    return math.log(-math.expm1(x))


def log_mean_discount(growth_per_epoch: float, epochs: int) -> float:
    """log of (1/T) * sum_{i=1..T} (1+g)**-i, stable for large T and for g near 0."""
    log_x = -math.log1p(growth_per_epoch)  # x = 1/(1+g)
    if log_x == 0.0:
        return 0.0
    # (1/T) * x * (x**T - 1) / (x - 1), with both differences taken through expm1.
    return log_x + _log_abs_expm1(epochs * log_x) - math.log(epochs) - _log_abs_expm1(log_x)


def mean_discount(growth_per_epoch: float, epochs: int) -> float:
    """(1/T) * sum_{i=1..T} (1+g)**-i (may overflow to inf for very steep falls)."""
    growth = finite("growth_per_epoch", growth_per_epoch)
    if growth <= -1.0:
        raise PricingInputError("growth_per_epoch", growth_per_epoch, "must be greater than -1")
    count = positive_int("epochs", epochs)
    try:
        return math.exp(log_mean_discount(growth, count))
    except OverflowError:
        return math.inf


def difficulty_from_growth(d0: float, growth_per_epoch: float, epochs: int) -> float:
    """The implied difficulty of a T-epoch window when difficulty grows by g per epoch from D0."""
    growth = finite("growth_per_epoch", growth_per_epoch)
    if growth <= -1.0:
        raise PricingInputError("growth_per_epoch", growth_per_epoch, "must be greater than -1")
    return positive("d0", d0) * math.exp(-log_mean_discount(growth, positive_int("epochs", epochs)))


def implied_growth_rate(d0: float, implied_difficulty: float, epochs: int) -> float:
    """The IDGR: constant per-epoch growth g with D0 / implied = (1/T) sum (1+g)**-i.

    Solved with QuantLib's Brent solver on the log of both sides, bracketed by the retarget clamp
    g in [-0.75, 3]; raises :class:`NoSolutionError` when the implied difficulty lies outside what
    that bracket can reach over ``epochs`` epochs.
    """
    current = positive("d0", d0)
    target = positive("implied_difficulty", implied_difficulty)
    count = positive_int("epochs", epochs)
    log_ratio = math.log(current) - math.log(target)

    def gap(growth: float) -> float:
        return log_mean_discount(growth, count) - log_ratio

    lowest = current * math.exp(-log_mean_discount(MIN_GROWTH_PER_EPOCH, count))
    highest = current * math.exp(-log_mean_discount(MAX_GROWTH_PER_EPOCH, count))
    return solve_bracketed(
        gap,
        MIN_GROWTH_PER_EPOCH,
        MAX_GROWTH_PER_EPOCH,
        accuracy=GROWTH_ACCURACY,
        edge_tolerance=EDGE_TOLERANCE,
        field="implied_difficulty",
        value=implied_difficulty,
        what=(
            f"over {count} epochs from d0={current:.6g} a constant growth within the retarget "
            f"clamp [{MIN_GROWTH_PER_EPOCH}, {MAX_GROWTH_PER_EPOCH}] per epoch reaches implied "
            f"difficulties in [{lowest:.6g}, {highest:.6g}] only"
        ),
    )

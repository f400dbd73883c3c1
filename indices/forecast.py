"""Next-difficulty forecast at a height, with a Poisson uncertainty band.

The retarget at the end of the current epoch sets the new target from the time the epoch's 2016
blocks took, measured over 2015 intervals (first block to last block: Bitcoin's off-by-one),
clamped to [1/4, 4] of two weeks, capped at the proof-of-work limit and rounded through compact
bits. The forecast projects that timespan and runs it through the real rule
(``chain.next_work_required``), so clamp, cap and compact rounding are exact.

Two projections of the seconds per block still to come:
  current epoch   elapsed / n over the n intervals observed since the epoch's first block
                  (timespan = elapsed * 2015 / n: the 2015-interval count, not 2016 blocks);
  trailing 2016   the realized hashrate of the last 2016 blocks (work / time over 2016
                  intervals) mining at the current difficulty.
The headline uses the current epoch when it has at least one interval, else the trailing one.

Band: blocks arrive as a Poisson process, so a rate estimated from n intervals has a relative
standard error of about 1/sqrt(n), and the r intervals still to come add their own spread
(sd sqrt(r) intervals). With interval estimate s, the projected remaining time r * s has
sd = s * sqrt(r**2 / n + r); normal quantiles (68%: z = 0.994, 95%: z = 1.960) of the timespan,
floored at the time already elapsed, map to difficulty bounds through the retarget rule (a
longer timespan gives a lower difficulty, so the ordering low_95 <= low_68 <= next <= high_68 <=
high_95 holds, and the 4x clamp bounds the band too). The same model gives the band on the
expected time of the retarget block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from statistics import NormalDist

import numpy as np
import pandas as pd

from indices.chain import RETARGET_INTERVAL_BLOCKS, block_work, difficulty_fraction, next_work_required
from indices.frames import BlockArrays

INTERVALS_PER_EPOCH = RETARGET_INTERVAL_BLOCKS - 1  # what the retarget actually measures
Z_68 = NormalDist().inv_cdf(0.5 + 0.6827 / 2)
Z_95 = NormalDist().inv_cdf(0.975)
CURRENT_EPOCH = "current_epoch"
TRAILING_2016 = "trailing_2016"


@dataclass(frozen=True)
class DifficultyForecast:
    """Forecast of the retarget closing the epoch of ``as_of_height``; difficulties in
    difficulty units, times aware UTC, ``*_pct`` in percent of the current difficulty."""

    as_of_height: int
    as_of_time: datetime
    epoch: int
    current_bits: int
    current_difficulty: float
    blocks_mined_in_epoch: int
    blocks_remaining: int  # blocks still to mine up to and including the retarget block
    method: str  # which projection the headline uses: "current_epoch" or "trailing_2016"
    estimated_timespan_seconds: float
    next_bits: int
    next_difficulty: float
    change_pct: float
    low_68: float
    high_68: float
    low_95: float
    high_95: float
    expected_retarget_time: datetime
    retarget_time_low_95: datetime
    retarget_time_high_95: datetime
    next_difficulty_current_epoch: float | None
    change_pct_current_epoch: float | None
    next_difficulty_trailing_2016: float | None
    change_pct_trailing_2016: float | None
    low_95_trailing_2016: float | None
    high_95_trailing_2016: float | None


@dataclass(frozen=True)
class _Projection:
    interval_seconds: float  # expected seconds per block from here on
    observed_intervals: int  # how many intervals that estimate rests on

    def remaining_sd_seconds(self, intervals: int) -> float:
        return self.interval_seconds * math.sqrt(intervals**2 / self.observed_intervals + intervals)


def _utc(seconds: float) -> datetime:
    """Aware UTC time, to the whole second (header times have no finer resolution)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=round(float(seconds)))


class _Retarget:
    """The retarget rule for this epoch as a function of its projected timespan."""

    def __init__(self, last_bits: int, first_time: int):
        self.last_bits, self.first_time = last_bits, first_time

    def bits(self, timespan_seconds: float) -> int:
        return next_work_required(self.last_bits, self.first_time,
                                  self.first_time + int(round(timespan_seconds)))

    def difficulty(self, timespan_seconds: float) -> float:
        return float(difficulty_fraction(self.bits(timespan_seconds)))


def forecast_next_difficulty(blocks: pd.DataFrame, height: int | None = None) -> DifficultyForecast:
    """Forecast as of ``height`` (default: the last block). The frame must hold the epoch's
    first block; the trailing projection also needs the 2016 blocks before ``height``."""
    if blocks is None or len(blocks) == 0:
        raise ValueError("a forecast needs block data")
    first = int(blocks["height"].iat[0])
    height = first + len(blocks) - 1 if height is None else int(height)
    epoch_start = height // RETARGET_INTERVAL_BLOCKS * RETARGET_INTERVAL_BLOCKS
    lo = min(epoch_start, height - RETARGET_INTERVAL_BLOCKS) - first
    if epoch_start < first or height - first >= len(blocks):
        raise ValueError(f"the forecast at height {height} needs blocks {epoch_start}..{height}")
    arrays = BlockArrays(blocks, max(0, lo), height - first + 1)
    at = arrays.size - 1
    start = epoch_start - arrays.first_height
    observed = at - start
    elapsed = int(arrays.time[at] - arrays.time[start])
    remaining_intervals = INTERVALS_PER_EPOCH - observed
    bits = int(arrays.bits[at])
    retarget = _Retarget(bits, int(arrays.time[start]))

    current = _Projection(elapsed / observed, observed) if observed > 0 and elapsed > 0 else None
    trailing = _trailing_projection(arrays, at, bits)
    headline = current or trailing
    if headline is None:
        raise ValueError(f"no projection at height {height}: the epoch has no positive elapsed "
                         "time yet and the 2016 blocks before it are not in the data")

    def timespan(projection: _Projection, z: float = 0.0) -> float:
        mean = elapsed + remaining_intervals * projection.interval_seconds
        return max(float(elapsed), mean + z * projection.remaining_sd_seconds(remaining_intervals))

    current_difficulty = float(difficulty_fraction(bits))
    pct = lambda d: (d / current_difficulty - 1.0) * 100.0  # noqa: E731
    estimated = timespan(headline)
    next_bits = retarget.bits(estimated)
    next_difficulty = float(difficulty_fraction(next_bits))
    to_go = RETARGET_INTERVAL_BLOCKS - observed  # blocks up to and including the retarget block
    now = int(arrays.time[at])
    spread = headline.remaining_sd_seconds(to_go)
    by_current = retarget.difficulty(timespan(current)) if current else None
    by_trailing = retarget.difficulty(timespan(trailing)) if trailing else None
    return DifficultyForecast(
        as_of_height=height,
        as_of_time=_utc(now),
        epoch=height // RETARGET_INTERVAL_BLOCKS,
        current_bits=bits,
        current_difficulty=current_difficulty,
        blocks_mined_in_epoch=observed + 1,
        blocks_remaining=to_go,
        method=CURRENT_EPOCH if current else TRAILING_2016,
        estimated_timespan_seconds=estimated,
        next_bits=next_bits,
        next_difficulty=next_difficulty,
        change_pct=pct(next_difficulty),
        low_68=retarget.difficulty(timespan(headline, Z_68)),
        high_68=retarget.difficulty(timespan(headline, -Z_68)),
        low_95=retarget.difficulty(timespan(headline, Z_95)),
        high_95=retarget.difficulty(timespan(headline, -Z_95)),
        expected_retarget_time=_utc(now + to_go * headline.interval_seconds),
        retarget_time_low_95=_utc(now + max(0.0, to_go * headline.interval_seconds - Z_95 * spread)),
        retarget_time_high_95=_utc(now + to_go * headline.interval_seconds + Z_95 * spread),
        next_difficulty_current_epoch=by_current,
        change_pct_current_epoch=pct(by_current) if current else None,
        next_difficulty_trailing_2016=by_trailing,
        change_pct_trailing_2016=pct(by_trailing) if trailing else None,
        low_95_trailing_2016=retarget.difficulty(timespan(trailing, Z_95)) if trailing else None,
        high_95_trailing_2016=retarget.difficulty(timespan(trailing, -Z_95)) if trailing else None,
    )


def _trailing_projection(arrays: BlockArrays, at: int, bits: int) -> _Projection | None:
    """Seconds per block at the current difficulty for the hashrate of the last 2016 blocks."""
    opening = at - RETARGET_INTERVAL_BLOCKS
    if opening < 0:
        return None
    span = int(arrays.time[at] - arrays.time[opening])
    work = arrays.work.window_exact(np.array([opening + 1]), np.array([at + 1]))[0]
    if span <= 0 or work <= 0:
        return None
    # hashrate = work / span; seconds per block = block_work(bits) / hashrate
    return _Projection(block_work(bits) * span / work, RETARGET_INTERVAL_BLOCKS)

"""Epoch timespans that make Bitcoin's retarget rule reproduce a known history of bits.

For a closed epoch i (one whose successor's bits are known), the retarget turns ``bits_i`` and the
epoch's measured timespan T (first to last block: 2015 intervals) into
``next_work_required(bits_i, 0, T)``. The result is monotone in T, so the timespans giving exactly
``bits_{i+1}`` form one integer interval ``[lo, hi]``, found here by bisection on the consensus
function itself. Compact truncation can make the interval a single second wide, or empty for
arbitrary bits; for every transition of the mainnet history in the shared file it is non-empty
(the real timestamps achieved them), which the tests assert.

Two cases are open-ended:

- ``hi`` reaches four times two weeks: any longer timespan gives the same bits (the clamp, or the
  proof-of-work limit for the difficulty-1 epochs 0-14 of 2009, whose next bits stay 0x1d00ffff
  whenever T >= two weeks). Such epochs are *free*: their timespans come from the calendar.
- ``lo`` reaches a quarter of two weeks: shorter timespans would also do; ``lo`` is kept.

The calendar: the genesis block is dated 2009-01-03 18:15:05 UTC (1231006505) and block 840000
2024-04-20 00:09:27 UTC (1713571767). Once every other epoch has its timespan, the time left
before block 840000 is shared among the free epochs (each at least two weeks, by Dirichlet
weights), so the replayed chain hits both dates to the second.
"""

from __future__ import annotations

import numpy as np

from indices.chain import RETARGET_INTERVAL_BLOCKS, TARGET_TIMESPAN_SECONDS, bits_to_target, next_work_required

MIN_TIMESPAN_SECONDS = TARGET_TIMESPAN_SECONDS // 4
MAX_TIMESPAN_SECONDS = TARGET_TIMESPAN_SECONDS * 4
INTERVALS_PER_EPOCH = RETARGET_INTERVAL_BLOCKS - 1  # the retarget measures 2015 intervals


def timespan_range(bits: int, next_bits: int) -> tuple[int, int | None]:
    """Integer timespans (seconds) for which the retarget turns ``bits`` into ``next_bits``.

    Returns ``(lo, hi)``; ``hi`` is None when every timespan from ``lo`` up works (see module
    docstring). Raises ValueError when no timespan reproduces ``next_bits``.
    """
    wanted = bits_to_target(next_bits)

    def new_target(timespan: int) -> int:
        return bits_to_target(next_work_required(bits, 0, timespan))

    lo, hi = MIN_TIMESPAN_SECONDS, MAX_TIMESPAN_SECONDS
    while lo < hi:  # smallest timespan reaching the wanted target
        middle = (lo + hi) // 2
        if new_target(middle) >= wanted:
            hi = middle
        else:
            lo = middle + 1
    first = lo
    lo, hi = first, MAX_TIMESPAN_SECONDS
    while lo < hi:  # largest timespan not exceeding it
        middle = (lo + hi + 1) // 2
        if new_target(middle) <= wanted:
            lo = middle
        else:
            hi = middle - 1
    last = lo
    if next_work_required(bits, 0, first) != next_bits or next_work_required(bits, 0, last) != next_bits:
        raise ValueError(
            f"no epoch timespan turns bits {bits:#010x} into {next_bits:#010x}: the change is outside the "
            "4x clamp or falls between two compact values")
    return first, (None if last == MAX_TIMESPAN_SECONDS else last)


def share_calendar(
    remaining_seconds: int,
    gap_draws: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Timespans and leading gaps of the free epochs that together last ``remaining_seconds``.

    Each free epoch i lasts ``T_i = TS + w_i * X`` (TS two weeks, so its bits stay at the limit)
    and is preceded by a gap of ``round(g_i * T_i / 2015)``, ``g_i`` a unit exponential draw (0 for
    the genesis epoch); X is solved so the total is exact, the rounding residual going to the
    longest epoch. Returns int64 arrays (timespans, gaps).
    """
    ts = TARGET_TIMESPAN_SECONDS
    growth = 1.0 + gap_draws / INTERVALS_PER_EPOCH
    spare = (remaining_seconds - ts * growth.sum()) / float((weights * growth).sum())
    if spare < 0:
        raise ValueError(
            f"the calendar leaves {remaining_seconds} s for {len(weights)} epochs at the proof-of-work limit, "
            f"less than two weeks each")
    timespans = ts + np.floor(weights * spare).astype(np.int64)
    gaps = np.rint(gap_draws * timespans / INTERVALS_PER_EPOCH).astype(np.int64)
    timespans[np.argmax(timespans)] += remaining_seconds - int(timespans.sum() + gaps.sum())
    return timespans, gaps


def interior_offsets(timespan: int, shape: np.ndarray) -> np.ndarray:
    """Offsets (s) of an epoch's 2016 blocks from its first: intervals in proportion to ``shape``
    (2015 exponential draws), rounded, the last offset exactly ``timespan``."""
    cumulative = np.cumsum(shape)
    offsets = np.empty(len(shape) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = np.rint(cumulative / cumulative[-1] * timespan).astype(np.int64)
    offsets[-1] = timespan
    return offsets

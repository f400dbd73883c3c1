"""Where a UTC day ends on the chain: the daily cutoff rule.

Header times are not monotonic: consensus only asks a block to be stamped after the median of the
11 blocks before it (median-time-past, MTP) and not too far in the future, so a block can carry an
earlier time than its parent. The rule used for every daily fixing and every UTC day:

    cut(M) = the highest height whose header time is before midnight M (time < M).

Every block after cut(M) is stamped at or after M; blocks up to cut(M) may include a few stamped
after M, which stay with the earlier day. Days are therefore contiguous height ranges,
``day [M, M + 1 day) = heights cut(M) + 1 .. cut(M + 1 day)``, and equal "blocks stamped in that
day" whenever times are monotonic.

Finality: cut(M) could still move up if a later block were stamped before M. Once
``CUTOFF_FINALITY_BLOCKS`` (6) blocks follow cut(M), all stamped at or after M, the median of any
11 consecutive blocks from there on is at or after M, so MTP forbids any later block stamped
before M: the cut is final for good. Daily fixings wait for that (on top of their confirmations).
"""

from __future__ import annotations

import numpy as np

SECONDS_PER_DAY = 24 * 60 * 60
CUTOFF_FINALITY_BLOCKS = 6


def suffix_min(times: np.ndarray) -> np.ndarray:
    """suffix_min[p] = min(times[p:]), non-decreasing."""
    times = np.asarray(times)
    if len(times) == 0:
        return times.copy()
    return np.minimum.accumulate(times[::-1])[::-1]


def cut_positions(times: np.ndarray, cutoffs: np.ndarray, *, tail_min: np.ndarray | None = None,
                  ) -> np.ndarray:
    """For each cutoff (Unix s), the highest position p with times[p] < cutoff; -1 if none.

    A position p qualifies for "some block at or after p is stamped before the cutoff" exactly
    when suffix_min[p] < cutoff; those positions form a prefix, and its last element is the
    highest block stamped before the cutoff.
    """
    if tail_min is None:
        tail_min = suffix_min(times)
    return np.searchsorted(tail_min, np.asarray(cutoffs), side="left") - 1


def midnights_between(first_time: int, last_time: int) -> np.ndarray:
    """Midnights M (Unix s) with first_time < M <= last_time: cutoffs some block precedes."""
    first = (int(first_time) // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY
    last = int(last_time) // SECONDS_PER_DAY * SECONDS_PER_DAY
    return np.arange(first, last + 1, SECONDS_PER_DAY, dtype=np.int64)


def floor_to_midnight(times: np.ndarray | int) -> np.ndarray | int:
    return np.asarray(times) // SECONDS_PER_DAY * SECONDS_PER_DAY


def cut_is_final(cut: np.ndarray, tip: int) -> np.ndarray:
    """True where at least CUTOFF_FINALITY_BLOCKS blocks follow the cut (positions or heights)."""
    return (tip - np.asarray(cut)) >= CUTOFF_FINALITY_BLOCKS

"""Block frames and epoch histories seen as numpy arrays, with derived sums built on first use.

``BlockArrays`` wraps a run of consecutive rows of a block frame (the contract of
``indices.blocks``) without copying it: columns are read with ``to_numpy`` and sliced, so looking
at the last few thousand blocks of a million-block frame costs microseconds. Positions are
0-based offsets into that run; ``first_height + position`` is the height.

``EpochHistory`` is the epoch table of ``shared/data/btc_difficulty_epochs.csv`` (epoch,
start_height, end_height, bits as hex text or int), optionally with ``start_time``: the Unix time
of each epoch's first block, which retarget fixings need as their as-of time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from indices.chain import HALVING_INTERVAL_BLOCKS, INITIAL_SUBSIDY_SATS, parse_bits
from indices.cutoffs import cut_positions, midnights_between, suffix_min
from indices.work import CumulativeWork, DistinctBits


def scheduled_subsidy_sats(heights: np.ndarray) -> np.ndarray:
    """block_subsidy_sats for an array of heights (the shift is 0 from 64 halvings on)."""
    halvings = np.asarray(heights, dtype=np.int64) // HALVING_INTERVAL_BLOCKS
    return np.where(halvings >= 63, 0, INITIAL_SUBSIDY_SATS >> np.minimum(halvings, 62))


def _column(frame: pd.DataFrame, name: str, lo: int, hi: int) -> np.ndarray:
    return np.asarray(frame[name].to_numpy()[lo:hi], dtype=np.int64)


class BlockArrays:
    """Rows ``lo <= row < hi`` of a block frame as arrays (no copy of the frame)."""

    def __init__(self, frame: pd.DataFrame, lo: int = 0, hi: int | None = None):
        hi = len(frame) if hi is None else hi
        if not 0 <= lo < hi <= len(frame):
            raise ValueError(f"empty or out-of-range block rows [{lo}, {hi}) of {len(frame)}")
        self._frame = frame
        self._lo, self._hi = lo, hi
        self.height = _column(frame, "height", lo, hi)
        self.first_height = int(self.height[0])
        self.tip_height = int(self.height[-1])
        if self.tip_height - self.first_height != hi - lo - 1:
            raise ValueError("block frame heights must be contiguous (see indices.blocks)")
        self.time = _column(frame, "time", lo, hi)
        self.bits = _column(frame, "bits", lo, hi)
        self.fees_sats = _column(frame, "total_fees_sats", lo, hi)
        self.subsidy_sats = _column(frame, "subsidy_sats", lo, hi)

    @property
    def size(self) -> int:
        return self._hi - self._lo

    def check_contiguous(self) -> None:
        """Full check of the frame contract on heights (O(n); the constructor checks O(1))."""
        if not np.array_equal(np.diff(self.height), np.ones(self.size - 1, dtype=np.int64)):
            raise ValueError("block frame heights must be sorted, contiguous and unique")

    def position(self, height: int) -> int:
        if not self.first_height <= height <= self.tip_height:
            raise ValueError(
                f"height {height} is outside the blocks given ({self.first_height}..{self.tip_height})")
        return height - self.first_height

    @cached_property
    def hashes(self) -> np.ndarray:
        return self._frame["hash"].to_numpy()[self._lo:self._hi]

    @cached_property
    def prev_hashes(self) -> np.ndarray:
        return self._frame["prev_hash"].to_numpy()[self._lo:self._hi]

    @cached_property
    def distinct_bits(self) -> DistinctBits:
        return DistinctBits.of(self.bits)

    @cached_property
    def work(self) -> CumulativeWork:
        return CumulativeWork(self.distinct_bits)

    @cached_property
    def fees_cumulative(self) -> np.ndarray:
        """fees_cumulative[p] = fees of positions 0..p-1 (int64; a leading 0)."""
        return np.r_[0, np.cumsum(self.fees_sats)]

    @cached_property
    def revenue_cumulative(self) -> np.ndarray:
        """Cumulative subsidy + fees actually earned, as recorded per block (leading 0)."""
        return np.r_[0, np.cumsum(self.subsidy_sats + self.fees_sats)]

    @cached_property
    def tail_min_time(self) -> np.ndarray:
        return suffix_min(self.time)

    @cached_property
    def midnights(self) -> np.ndarray:
        """Every midnight some block of the run precedes and some block is stamped at or after."""
        return midnights_between(self.time.min(), self.time.max())

    @cached_property
    def midnight_cuts(self) -> np.ndarray:
        """Position of cut(M) for each midnight (the daily cutoff rule of ``indices.cutoffs``)."""
        return cut_positions(self.time, self.midnights, tail_min=self.tail_min_time)


@dataclass(frozen=True)
class EpochHistory:
    """The epoch table as arrays, sorted by epoch."""

    epoch: np.ndarray
    start_height: np.ndarray
    end_height: np.ndarray
    bits: np.ndarray
    start_time: np.ndarray | None

    @classmethod
    def of(cls, epochs: pd.DataFrame) -> EpochHistory:
        missing = {"epoch", "start_height", "end_height", "bits"} - set(epochs.columns)
        if missing:
            raise ValueError(f"epoch history lacks columns: {', '.join(sorted(missing))}")
        table = epochs.sort_values("epoch", kind="stable")
        epoch = table["epoch"].to_numpy(dtype=np.int64)
        start = table["start_height"].to_numpy(dtype=np.int64)
        if len(np.unique(epoch)) != len(epoch) or np.any(start != epoch * 2016):
            raise ValueError("epoch history rows must be unique epochs starting at epoch * 2016")
        bits = np.array([parse_bits(b) for b in table["bits"]], dtype=np.int64)
        times = table["start_time"].to_numpy(dtype=np.int64) if "start_time" in table else None
        return cls(epoch, start, table["end_height"].to_numpy(dtype=np.int64), bits, times)

    @property
    def last_height(self) -> int:
        return int(self.end_height.max())

    def row_of_epoch(self, epoch: int) -> int | None:
        row = int(np.searchsorted(self.epoch, epoch))
        return row if row < len(self.epoch) and self.epoch[row] == epoch else None

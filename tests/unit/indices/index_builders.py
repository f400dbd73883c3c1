"""Small, deterministic block frames for index tests.

``build_blocks`` makes a frame that honours the block-frame contract and Bitcoin's timestamp rule
(each header time is after the median of the 11 before it), with hashes that link by previous
hash and depend only on (seed, height), so a prefix of a chain is exactly the chain's first rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from indices.blocks import BLOCK_COLUMNS, normalize_block_frame
from indices.chain import RETARGET_INTERVAL_BLOCKS, block_subsidy_sats, next_work_required

DAY = 86_400
# 2024-01-01 00:00:00 UTC: builders start on a midnight so hand-computed days are easy to read.
MIDNIGHT_2024 = 1_704_067_200
MIN_DIFFICULTY_BITS = 0x1D00FFFF
MTP_SPAN_BLOCKS = 11

IntOrSeq = int | Sequence[int] | np.ndarray | Callable[[int], int]


def block_hash(seed: object, height: int) -> str:
    return hashlib.sha256(f"{seed}/{height}".encode()).hexdigest()


def _per_block(value: IntOrSeq, heights: np.ndarray) -> np.ndarray:
    if callable(value):
        return np.array([value(int(h)) for h in heights], dtype=np.int64)
    if np.ndim(value) == 0:
        return np.full(len(heights), int(value), dtype=np.int64)
    array = np.asarray(value, dtype=np.int64)
    if len(array) != len(heights):
        raise ValueError(f"{len(array)} values for {len(heights)} blocks")
    return array


def enforce_median_time_past(times: np.ndarray) -> np.ndarray:
    """Raise each time to one second after the median of the (up to) 11 before it when needed,
    the median taken as Bitcoin Core's GetMedianTimePast does: sorted[len // 2]."""
    fixed = [int(t) for t in times]
    for i in range(1, len(fixed)):
        window = sorted(fixed[max(0, i - MTP_SPAN_BLOCKS):i])
        median = window[len(window) // 2]
        if fixed[i] <= median:
            fixed[i] = median + 1
    return np.array(fixed, dtype=np.int64)


def build_blocks(
    n_blocks: int,
    *,
    start_height: int = 0,
    start_time: int = MIDNIGHT_2024,
    interval_seconds: int | Sequence[int] = 600,
    times: Sequence[int] | None = None,
    bits: IntOrSeq = MIN_DIFFICULTY_BITS,
    fees_sats: IntOrSeq = 0,
    subsidy_sats: IntOrSeq | None = None,
    seed: object = 0,
) -> pd.DataFrame:
    """A frame of ``n_blocks`` from ``start_height``; ``times`` overrides the regular spacing."""
    heights = np.arange(start_height, start_height + n_blocks, dtype=np.int64)
    if times is None:
        steps = _per_block(interval_seconds, heights[1:]) if n_blocks > 1 else np.zeros(0, np.int64)
        times = start_time + np.r_[0, np.cumsum(steps)]
    subsidy = (_per_block(subsidy_sats, heights) if subsidy_sats is not None
               else np.array([block_subsidy_sats(int(h)) for h in heights], dtype=np.int64))
    frame = pd.DataFrame({
        "height": heights,
        "hash": [block_hash(seed, int(h)) for h in heights],
        "prev_hash": [block_hash(seed, int(h) - 1) for h in heights],
        "time": np.asarray(times, dtype=np.int64),
        "bits": _per_block(bits, heights),
        "subsidy_sats": subsidy,
        "total_fees_sats": _per_block(fees_sats, heights),
        "tx_count": np.full(n_blocks, 1, dtype=np.int64),
    })
    return normalize_block_frame(frame[list(BLOCK_COLUMNS)])


def random_chain(
    n_blocks: int,
    *,
    seed: int = 0,
    start_height: int = 0,
    start_time: int = MIDNIGHT_2024,
    start_bits: int = MIN_DIFFICULTY_BITS,
    mean_interval_seconds: float = 600.0,
    jitter_seconds: int = 1800,
    mean_fees_sats: int = 20_000_000,
) -> pd.DataFrame:
    """A realistic chain: exponential block times, header times jittered but MTP-valid (so some
    run backwards), the real retarget rule at every epoch boundary, random fees."""
    rng = np.random.default_rng(seed)
    steps = np.maximum(1, rng.exponential(mean_interval_seconds, n_blocks - 1).round()).astype(np.int64)
    true_times = start_time + np.r_[0, np.cumsum(steps)]
    jitter = rng.integers(-jitter_seconds, jitter_seconds + 1, n_blocks) if jitter_seconds else 0
    times = enforce_median_time_past(true_times + jitter)
    heights = np.arange(start_height, start_height + n_blocks)
    bits = np.empty(n_blocks, dtype=np.int64)
    current, epoch_first_time = start_bits, int(times[0])
    for i, height in enumerate(heights.tolist()):
        if height % RETARGET_INTERVAL_BLOCKS == 0 and i > 0:
            current = next_work_required(current, epoch_first_time, int(times[i - 1]))
        if height % RETARGET_INTERVAL_BLOCKS == 0:
            epoch_first_time = int(times[i])
        bits[i] = current
    fees = rng.integers(0, 2 * mean_fees_sats + 1, n_blocks)
    return build_blocks(n_blocks, start_height=start_height, times=times, bits=bits,
                        fees_sats=fees, seed=seed)


def epochs_to_blocks(epochs: pd.DataFrame, *, start_time: int = 1_231_006_505) -> pd.DataFrame:
    """A block frame carrying the bits of an epoch history (times every 600 s, no fees): enough
    to compare block-derived DIFF/BME with the epoch-history formulas on real difficulty."""
    from indices.chain import parse_bits

    last = int(epochs["end_height"].max())
    bits = np.empty(last + 1, dtype=np.int64)
    for start, end, value in zip(epochs["start_height"], epochs["end_height"], epochs["bits"]):
        bits[int(start):int(end) + 1] = parse_bits(value)
    heights = np.arange(last + 1, dtype=np.int64)
    halvings = heights // 210_000
    frame = pd.DataFrame({
        "height": heights,
        "hash": [f"{h:064x}" for h in heights],
        "prev_hash": [f"{h - 1:064x}" if h else "0" * 64 for h in heights],
        "time": start_time + 600 * heights,
        "bits": bits,
        "subsidy_sats": np.where(halvings >= 33, 0, 5_000_000_000 >> np.minimum(halvings, 32)),
        "total_fees_sats": np.zeros(last + 1, dtype=np.int64),
        "tx_count": np.ones(last + 1, dtype=np.int64),
    })
    return frame[list(BLOCK_COLUMNS)]

"""The block record every source produces and every index reads.

A block frame is a pandas DataFrame with exactly ``BLOCK_COLUMNS``, one row per height, sorted by
height with no gaps. Times are Unix seconds (UTC) as int64, amounts are int64 satoshis, bits is the
compact target as int64. Keeping the frame this plain lets index computation stay vectorized.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

BLOCK_COLUMNS = (
    "height",
    "hash",
    "prev_hash",
    "time",
    "bits",
    "subsidy_sats",
    "total_fees_sats",
    "tx_count",
)
_INT_COLUMNS = ("height", "time", "bits", "subsidy_sats", "total_fees_sats", "tx_count")


@dataclass(frozen=True, slots=True)
class Block:
    """One mined block, as far as the indices care.

    ``time`` is the header timestamp in Unix seconds; ``total_fees_sats`` excludes the subsidy;
    ``tx_count`` includes the coinbase.
    """

    height: int
    hash: str
    prev_hash: str
    time: int
    bits: int
    subsidy_sats: int
    total_fees_sats: int
    tx_count: int

    def __post_init__(self) -> None:
        if self.height < 0:
            raise ValueError(f"block height must be non-negative, got {self.height}")
        if self.subsidy_sats < 0 or self.total_fees_sats < 0:
            raise ValueError(f"block {self.height}: subsidy and fees must be non-negative")
        if self.tx_count < 1:
            raise ValueError(f"block {self.height}: a block has at least its coinbase")

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.time, tz=timezone.utc)

    def as_dict(self) -> dict:
        return asdict(self)


def empty_block_frame() -> pd.DataFrame:
    frame = pd.DataFrame({name: pd.Series(dtype="int64") for name in _INT_COLUMNS})
    frame["hash"] = pd.Series(dtype="object")
    frame["prev_hash"] = pd.Series(dtype="object")
    return frame[list(BLOCK_COLUMNS)]


def blocks_to_frame(blocks: list[Block]) -> pd.DataFrame:
    """Frame of ``blocks`` sorted by height (the input order does not matter)."""
    if not blocks:
        return empty_block_frame()
    frame = pd.DataFrame([b.as_dict() for b in blocks], columns=list(BLOCK_COLUMNS))
    return normalize_block_frame(frame)


def normalize_block_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce dtypes, sort by height and check the frame is contiguous and unique."""
    missing = [c for c in BLOCK_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"block frame lacks columns: {', '.join(missing)}")
    frame = frame[list(BLOCK_COLUMNS)].copy()
    for column in _INT_COLUMNS:
        frame[column] = frame[column].astype("int64")
    frame = frame.sort_values("height", kind="stable").reset_index(drop=True)
    heights = frame["height"].to_numpy()
    if len(heights) and not np.array_equal(heights, np.arange(heights[0], heights[0] + len(heights))):
        raise ValueError("block frame heights must be contiguous and unique")
    return frame


def frame_to_blocks(frame: pd.DataFrame) -> list[Block]:
    return [
        Block(**{k: (v if k in ("hash", "prev_hash") else int(v)) for k, v in row.items()})
        for row in frame[list(BLOCK_COLUMNS)].to_dict("records")
    ]

"""A block source over a pre-generated chain that reveals blocks as the clock passes their time.

The demo simulates the chain a little into the future; the scheduler's ingest job then finds new
blocks arriving in real time, exactly as it would from a node.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hashedge.clock import Clock
from indices.blocks import Block, frame_to_blocks
from indices.sources.base import BlockNotFound


class RevealingSource:
    def __init__(self, chain: pd.DataFrame, clock: Clock):
        self._chain = chain.reset_index(drop=True)
        self._first_height = int(chain["height"].iloc[0])
        self._times = chain["time"].to_numpy()
        self._clock = clock

    def tip_height(self) -> int:
        now = int(self._clock.now().timestamp())
        revealed = int(np.searchsorted(self._times, now, side="right"))  # block times increase here
        if revealed == 0:
            raise BlockNotFound("no simulated block has been mined yet")
        return self._first_height + revealed - 1

    def _rows(self, start_height: int, end_height: int) -> pd.DataFrame:
        if start_height < self._first_height or end_height > self.tip_height():
            raise BlockNotFound(f"blocks {start_height}-{end_height} are not available yet")
        offset = self._first_height
        return self._chain.iloc[start_height - offset:end_height - offset + 1]

    def block_hash(self, height: int) -> str:
        return str(self._rows(height, height)["hash"].iloc[0])

    def block(self, height: int) -> Block:
        return frame_to_blocks(self._rows(height, height))[0]

    def blocks(self, start_height: int, end_height: int) -> list[Block]:
        return frame_to_blocks(self._rows(start_height, end_height))

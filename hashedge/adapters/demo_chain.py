"""A block source over a pre-generated chain that reveals blocks as the clock passes their time.

The demo simulates the chain a little into the future; the scheduler's ingest job then finds new
blocks arriving in real time, exactly as it would from a node.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hashedge.clock import Clock
from indices.sources.base import BlockNotFound
from indices.sources.frame_source import FrameBlockSource


class RevealingSource(FrameBlockSource):
    description = "the demo chain"

    def __init__(self, chain: pd.DataFrame, clock: Clock):
        super().__init__(chain.reset_index(drop=True))
        self._times = self.frame["time"].to_numpy()  # increasing: simulated arrivals are ordered
        self._clock = clock

    def tip_height(self) -> int:
        now = int(self._clock.now().timestamp())
        revealed = int(np.searchsorted(self._times, now, side="right"))
        if revealed == 0:
            raise BlockNotFound("no simulated block has been mined yet")
        return int(self.frame["height"].iloc[0]) + revealed - 1

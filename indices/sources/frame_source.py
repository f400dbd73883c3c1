"""A ``BlockSource`` over a block frame in memory: the shared base of the CSV source, the chain
simulator and the demo's revealing source, which differ only in where the frame comes from and
how much of it is visible."""

from __future__ import annotations

import pandas as pd

from indices.blocks import Block, frame_to_blocks
from indices.sources.base import BlockNotFound


class FrameBlockSource:
    """Serves the rows of ``frame`` (a normalized block frame) up to ``tip_height()``."""

    description = "the chain"  # how messages name this source

    def __init__(self, frame: pd.DataFrame | None):
        self._frame = frame

    @property
    def frame(self) -> pd.DataFrame:
        return self._frame

    def _bounds(self) -> tuple[int, int]:
        frame = self.frame
        if frame.empty:
            raise BlockNotFound(f"{self.description} holds no blocks")
        return int(frame["height"].iloc[0]), int(frame["height"].iloc[-1])

    def tip_height(self) -> int:
        return self._bounds()[1]

    def _rows(self, start_height: int, end_height: int) -> pd.DataFrame:
        first, _ = self._bounds()
        tip = self.tip_height()
        for height in (start_height, end_height):
            if not first <= height <= tip:
                raise BlockNotFound(f"{self.description} holds heights {first}-{tip}, not {height}", height=height)
        return self.frame.iloc[start_height - first:end_height - first + 1]

    def block_hash(self, height: int) -> str:
        return str(self._rows(height, height)["hash"].iloc[0])

    def block(self, height: int) -> Block:
        return frame_to_blocks(self._rows(height, height))[0]

    def blocks(self, start_height: int, end_height: int) -> list[Block]:
        if end_height < start_height:
            return []
        return frame_to_blocks(self._rows(start_height, end_height))

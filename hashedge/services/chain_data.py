"""Use cases that bring chain data in: epoch history import, block CSV import, backfill, ingest.

Every chunk is its own transaction, so an interrupted import or backfill keeps what it committed
and the next run starts after the stored tip. Blocks are checked to link by previous hash before
they are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import pandas as pd

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.errors import InvalidInput, ReorgTooDeep
from indices.blocks import blocks_to_frame

if TYPE_CHECKING:
    from indices.sources.base import BlockSource

ProgressCallback = Callable[[int, int], None]  # (blocks done, blocks to do)

BACKFILL_CHUNK_BLOCKS = 500
REORG_SEARCH_LIMIT_BLOCKS = 1_000


@dataclass(frozen=True)
class IngestResult:
    added_blocks: int
    removed_blocks: int
    tip_height: int | None
    fork_height: int | None = None

    def summary(self) -> str:
        text = f"added {self.added_blocks} blocks, tip {self.tip_height}"
        if self.removed_blocks:
            text += f"; reorg above height {self.fork_height} replaced {self.removed_blocks} blocks"
        return text


def import_epoch_history(uow: UnitOfWork, path: Path) -> int:
    """Replace the stored epoch history with the CSV at ``path``; returns the epoch count."""
    from indices.sources.csv_import import read_epoch_history

    epochs = read_epoch_history(path)
    with uow:
        count = uow.epochs.replace_all(epochs)
        uow.commit()
    return count


def _check_links(frame: pd.DataFrame, previous_hash: str | None) -> None:
    """Each block must name the block before it; the first names ``previous_hash`` if known."""
    if frame.empty:
        return
    hashes = frame["hash"].to_numpy()
    prev = frame["prev_hash"].to_numpy()
    broken = (prev[1:] != hashes[:-1]).nonzero()[0]
    if len(broken):
        height = int(frame["height"].iloc[broken[0] + 1])
        raise InvalidInput(f"block {height} does not link to block {height - 1} (previous hash differs)")
    if previous_hash is not None and prev[0] != previous_hash:
        height = int(frame["height"].iloc[0])
        raise InvalidInput(f"block {height} does not link to the stored block {height - 1}")


def _append(uow: UnitOfWork, frame: pd.DataFrame) -> int:
    """Append blocks that continue the stored chain (inside an open unit of work)."""
    if frame.empty:
        return 0
    tip = uow.blocks.tip_height()
    first = int(frame["height"].iloc[0])
    if tip is not None and first != tip + 1:
        raise InvalidInput(f"blocks must continue the stored chain at height {tip + 1}, got {first}")
    previous = uow.blocks.hashes(tip, tip).get(tip) if tip is not None else None
    _check_links(frame, previous)
    return uow.blocks.add_frame(frame)


def import_block_csv(
    uow: UnitOfWork, path: Path, *, progress: ProgressCallback | None = None
) -> int:
    """Import block rows from CSV, skipping heights already stored; resumable."""
    from indices.sources.csv_import import iter_block_csv

    added = 0
    for chunk in iter_block_csv(path):
        with uow:
            tip = uow.blocks.tip_height()
            if tip is not None:
                stored = uow.blocks.hashes(int(chunk["height"].iloc[0]), tip)
                known = chunk[chunk["height"] <= tip]
                for height, block_hash in zip(known["height"], known["hash"]):
                    if stored.get(int(height)) not in (None, block_hash):
                        raise InvalidInput(f"block {height} in {path} differs from the stored block")
                chunk = chunk[chunk["height"] > tip]
            added += _append(uow, chunk)
            uow.commit()
            reached = uow.blocks.tip_height()
        if progress and reached is not None:
            progress(added, added)
    return added


def _find_fork_height(uow: UnitOfWork, source: BlockSource, tip: int) -> int:
    """Highest stored height whose hash the source agrees with."""
    lowest = uow.blocks.first_height()
    height = tip
    while height >= lowest and tip - height <= REORG_SEARCH_LIMIT_BLOCKS:
        stored = uow.blocks.hashes(height, height)[height]
        if source.block_hash(height) == stored:
            return height
        height -= 1
    raise InvalidInput(
        f"the source shares no block with the stored chain in the last {REORG_SEARCH_LIMIT_BLOCKS}"
        " heights: is it the same network?"
    )


def ingest_new_blocks(
    uow: UnitOfWork,
    source: BlockSource,
    *,
    confirmations: int,
    start_height: int | None = None,
    end_height: int | None = None,
    allow_deep_reorg: bool = False,
    chunk_blocks: int = BACKFILL_CHUNK_BLOCKS,
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Bring the stored chain up to the source's tip (or ``end_height``), chunk by chunk.

    A reorg shallower than ``confirmations`` replaces the affected blocks; those blocks were too
    recent for any published fixing to use them. A deeper one is refused unless allowed.
    """
    removed = 0
    fork = None
    with uow:
        tip = uow.blocks.tip_height()
        source_tip = source.tip_height()
        if tip is not None and source_tip < tip:
            # The source is behind us (a node restarting or still syncing): nothing to fetch, and
            # blocks it has not seen yet are not a reorg unless its own tip disagrees with ours.
            if source.block_hash(source_tip) == uow.blocks.hashes(source_tip, source_tip).get(source_tip):
                return IngestResult(added_blocks=0, removed_blocks=0, tip_height=tip)
        if tip is not None:
            fork = _find_fork_height(uow, source, min(tip, source_tip))
            if fork < tip:
                if tip - fork >= confirmations and not allow_deep_reorg:
                    raise ReorgTooDeep(fork, tip, confirmations)
                removed = uow.blocks.delete_from(fork + 1)
                uow.commit()
            next_height = fork + 1
        else:
            next_height = 0 if start_height is None else start_height
    target = source_tip if end_height is None else end_height
    first_height = next_height
    added = 0
    while next_height <= target:
        last = min(next_height + chunk_blocks - 1, target)
        frame = blocks_to_frame(source.blocks(next_height, last))
        with uow:
            added += _append(uow, frame)
            uow.commit()
        next_height = last + 1
        if progress:
            progress(last - first_height + 1, target - first_height + 1)
    with uow:
        tip = uow.blocks.tip_height()
    return IngestResult(added_blocks=added, removed_blocks=removed, tip_height=tip, fork_height=fork)


def store_block_frame(uow: UnitOfWork, frame: pd.DataFrame, *, chunk_rows: int = 50_000) -> int:
    """Append a generated frame (the demo's simulated chain) in committed chunks."""
    added = 0
    for start in range(0, len(frame), chunk_rows):
        with uow:
            added += _append(uow, frame.iloc[start:start + chunk_rows])
            uow.commit()
    return added


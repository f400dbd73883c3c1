"""Repositories: the queries the services need, returning frames and plain records, never ORM rows."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session, aliased

from hashedge.adapters.append_order import FIXINGS_LOCK, appending_in_id_order
from hashedge.adapters.orm.indices import BlockRow, EpochRow, FixingRow
from indices.blocks import BLOCK_COLUMNS, empty_block_frame, normalize_block_frame

_INSERT_CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class PublishedFixing:
    """A fixing as stored: the computed value plus its publication record."""

    index: str
    kind: str
    as_of: datetime
    version: int
    value: Decimal
    unit: str
    methodology_version: str
    start_height: int
    end_height: int
    confirmations: int
    input_digest: str
    reason: str | None
    published_at: datetime

    @property
    def identity(self) -> tuple[str, str, datetime]:
        return (self.index, self.kind, self.as_of)


def _published(row) -> PublishedFixing:  # an ORM or a plain row
    return PublishedFixing(
        index=row.index_name,
        kind=row.kind,
        as_of=row.as_of,
        version=row.version,
        value=Decimal(row.value),
        unit=row.unit,
        methodology_version=row.methodology_version,
        start_height=row.start_height,
        end_height=row.end_height,
        confirmations=row.confirmations,
        input_digest=row.input_digest,
        reason=row.reason,
        published_at=row.published_at,
    )


class BlockRepository:
    def __init__(self, session: Session):
        self.session = session

    def tip_height(self) -> int | None:
        return self.session.scalar(select(func.max(BlockRow.height)))

    def first_height(self) -> int | None:
        return self.session.scalar(select(func.min(BlockRow.height)))

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(BlockRow)) or 0

    def hashes(self, start_height: int, end_height: int) -> dict[int, str]:
        rows = self.session.execute(
            select(BlockRow.height, BlockRow.hash).where(
                BlockRow.height.between(start_height, end_height)
            )
        )
        return dict(rows.all())

    def headers_at(self, heights) -> list[tuple[int, int, int]]:
        """(height, time, bits) of the stored blocks among ``heights``, in height order."""
        wanted = sorted({int(h) for h in heights})
        if not wanted:
            return []
        rows = self.session.execute(
            select(BlockRow.height, BlockRow.time, BlockRow.bits)
            .where(BlockRow.height.in_(wanted))
            .order_by(BlockRow.height)
        )
        return [(int(h), int(t), int(b)) for h, t, b in rows.all()]

    def add_frame(self, frame: pd.DataFrame) -> int:
        """Insert new blocks (heights not stored yet; the caller has checked). Returns rows added."""
        if frame.empty:
            return 0
        # to_dict boxes numpy integers to Python ints, which every DB driver accepts.
        rows = frame[list(BLOCK_COLUMNS)].to_dict("records")
        for start in range(0, len(rows), _INSERT_CHUNK_ROWS):
            self.session.execute(insert(BlockRow), rows[start:start + _INSERT_CHUNK_ROWS])
        return len(rows)

    def delete_from(self, height: int) -> int:
        """Remove blocks at ``height`` and above (a reorg replaces them)."""
        result = self.session.execute(delete(BlockRow).where(BlockRow.height >= height))
        return result.rowcount

    def load_frame(self, start_height: int | None = None, end_height: int | None = None) -> pd.DataFrame:
        """Blocks in [start_height, end_height] as a block frame.

        Rows come straight from the driver and are turned into columns with numpy: this is the
        hot path of every index computation, and per-value ORM processing would dominate it.
        """
        conditions = []
        if start_height is not None:
            conditions.append(f"height >= {int(start_height)}")  # ints only: safe to inline
        if end_height is not None:
            conditions.append(f"height <= {int(end_height)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        cursor = self.session.connection().connection.cursor()  # the driver's own cursor
        try:
            cursor.execute(f"SELECT {', '.join(BLOCK_COLUMNS)} FROM blocks{where} ORDER BY height")
            rows = cursor.fetchall()
        finally:
            cursor.close()
        if not rows:
            return empty_block_frame()
        columns = list(zip(*rows))
        frame = pd.DataFrame({
            name: (np.array(values, dtype=object) if name in ("hash", "prev_hash")
                   else np.fromiter(values, dtype=np.int64, count=len(values)))
            for name, values in zip(BLOCK_COLUMNS, columns)
        })
        return normalize_block_frame(frame)


class EpochRepository:
    def __init__(self, session: Session):
        self.session = session

    def replace_all(self, epochs: pd.DataFrame) -> int:
        """Store an epoch history (columns epoch, start_height, end_height, bits as int)."""
        self.session.execute(delete(EpochRow))
        rows = [
            {"epoch": int(e), "start_height": int(s), "end_height": int(t), "bits": int(b)}
            for e, s, t, b in epochs[["epoch", "start_height", "end_height", "bits"]].itertuples(
                index=False, name=None
            )
        ]
        if rows:
            self.session.execute(insert(EpochRow), rows)
        return len(rows)

    def load_frame(self) -> pd.DataFrame:
        rows = self.session.execute(
            select(EpochRow.epoch, EpochRow.start_height, EpochRow.end_height, EpochRow.bits).order_by(
                EpochRow.epoch
            )
        ).all()
        return pd.DataFrame.from_records(
            rows, columns=["epoch", "start_height", "end_height", "bits"]
        ).astype("int64")

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(EpochRow)) or 0


@functools.lru_cache(maxsize=64)
def _latest_of_each(names: tuple[str, ...]):
    """The statement for ``FixingRepository.latest_of_each`` (built once per set of names)."""
    table = FixingRow.__table__
    newest = [select(table.c.id).where(table.c.index_name == name)
              .order_by(table.c.as_of.desc(), table.c.kind, table.c.version.desc()).limit(1).scalar_subquery()
              for name in names]
    return select(table).where(table.c.id.in_(newest))


_NEWEST_FIXING = select(func.max(FixingRow.__table__.c.id))


def fixings_version(connection) -> tuple:
    """What every fixing query answers from, in one value that changes whenever they could: the
    newest fixing's id. Fixings are only ever appended (the database's triggers refuse an UPDATE
    or a DELETE; a correction is a new row) and ids only grow, so any publication raises it
    (``services.versioned_reads``). One statement on ``connection``, in its transaction."""
    return (connection.execute(_NEWEST_FIXING).scalar(),)


class FixingRepository:
    def __init__(self, session: Session):
        self.session = session

    def _latest_versions(self):
        """Fixings with no newer version of the same identity: one probe of ``ix_fixings_latest``
        per row read, never a grouping over the whole table."""
        newer = aliased(FixingRow)
        return select(FixingRow).where(~exists().where(
            newer.index_name == FixingRow.index_name, newer.kind == FixingRow.kind,
            newer.as_of == FixingRow.as_of, newer.version > FixingRow.version))

    def latest_of_each(self, index_names) -> dict[str, PublishedFixing]:
        """Each index's most recent fixing (latest as-of, daily before retarget at the same time,
        latest version), in ONE query reading one entry of ``ix_fixings_latest`` per index."""
        names = tuple(dict.fromkeys(index_names))
        if not names:
            return {}
        return {row.index_name: _published(row) for row in self.session.execute(_latest_of_each(names))}

    def published_identities(
        self, index_names: list[str] | None = None, *, since: datetime | None = None
    ) -> set[tuple[str, str, datetime]]:
        query = select(FixingRow.index_name, FixingRow.kind, FixingRow.as_of).distinct()
        if index_names:
            query = query.where(FixingRow.index_name.in_(index_names))
        if since is not None:
            query = query.where(FixingRow.as_of >= since)
        return {tuple(row) for row in self.session.execute(query).all()}

    def newest(self) -> PublishedFixing | None:
        """The fixing with the latest as-of time (any index, any version)."""
        row = self.session.scalars(
            select(FixingRow).order_by(FixingRow.as_of.desc(), FixingRow.id.desc()).limit(1)
        ).first()
        return _published(row) if row else None

    def add(self, fixings, published_at: datetime, version: int = 1, reason: str | None = None) -> int:
        rows = [
            {
                "index_name": f.index,
                "kind": f.kind,
                "as_of": f.as_of,
                "version": version,
                "value": format(f.value, "f"),  # fixed-point text, never E-notation
                "unit": f.unit,
                "methodology_version": f.methodology_version,
                "start_height": f.start_height,
                "end_height": f.end_height,
                "confirmations": f.confirmations,
                "input_digest": f.input_digest,
                "reason": reason,
                "published_at": published_at,
            }
            for f in fixings
        ]
        if rows:
            appending_in_id_order(self.session, FIXINGS_LOCK)  # the newest id versions the kept indices
        for start in range(0, len(rows), _INSERT_CHUNK_ROWS):
            self.session.execute(insert(FixingRow), rows[start:start + _INSERT_CHUNK_ROWS])
        return len(rows)

    def latest(
        self,
        index_name: str | None = None,
        *,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[PublishedFixing]:
        """Latest version of each fixing, filtered and ordered by as-of time."""
        query = self._latest_versions()
        if index_name is not None:
            query = query.where(FixingRow.index_name == index_name)
        if kind is not None:
            query = query.where(FixingRow.kind == kind)
        if start is not None:
            query = query.where(FixingRow.as_of >= start)
        if end is not None:
            query = query.where(FixingRow.as_of <= end)
        order = FixingRow.as_of.desc() if newest_first else FixingRow.as_of
        query = query.order_by(order, FixingRow.kind, FixingRow.index_name).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return [_published(row) for row in self.session.scalars(query).all()]

    def latest_ending_at(self, index_name: str, kind: str, end_heights) -> list[PublishedFixing]:
        """Latest version of each ``kind`` fixing of ``index_name`` whose block range ends at one
        of ``end_heights`` (e.g. the retarget fixings that settle epoch contracts)."""
        wanted = sorted({int(h) for h in end_heights})
        if not wanted:
            return []
        query = (self._latest_versions()
                 .where(FixingRow.index_name == index_name, FixingRow.kind == kind,
                        FixingRow.end_height.in_(wanted))
                 .order_by(FixingRow.as_of))
        return [_published(row) for row in self.session.scalars(query).all()]

    def count_latest(self, index_name: str, *, kind=None, start=None, end=None) -> int:
        query = select(func.count()).select_from(
            select(FixingRow.index_name, FixingRow.kind, FixingRow.as_of)
            .where(FixingRow.index_name == index_name)
            .where(FixingRow.kind == kind if kind else True)
            .where(FixingRow.as_of >= start if start else True)
            .where(FixingRow.as_of <= end if end else True)
            .distinct()
            .subquery()
        )
        return self.session.scalar(query) or 0

    def versions(self, index_name: str, kind: str, as_of: datetime) -> list[PublishedFixing]:
        rows = self.session.scalars(
            select(FixingRow)
            .where(FixingRow.index_name == index_name, FixingRow.kind == kind, FixingRow.as_of == as_of)
            .order_by(FixingRow.version)
        ).all()
        return [_published(row) for row in rows]

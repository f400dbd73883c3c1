"""What the list of instruments is made of, in one small tuple that changes whenever it does.

``GET /instruments`` shows every listed and expired contract with its latest mark and whether it
trades now (which depends on the chain's tip). Each process keeps the last list it read
(``services.versioned_reads``) and reads it again only when this version differs, so an
unchanged list costs one statement instead of three and no new rows. The version is sound because of how these tables are written:

- an instrument's spec never changes after its listing; its status only moves forward (listed,
  expired, settled; ``final_price`` and ``settled_at`` are set with the last step) and rows are
  never deleted, so every change moves the count of listed or of expired instruments (a listing
  adds one listed, every step takes one away from listed or expired);
- marks are only appended (``MarkRepository.add``), with increasing ids, and an instrument's
  latest mark is its newest id (``_latest_marks``), so any new mark raises the largest id;
- the list uses the chain only through the tip's height.

A writer that broke one of these (an UPDATE of a spec, a deleted mark) would have to change this
version too; ``tests/integration/test_versioned_reads.py`` checks each kind of write.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from hashedge.adapters.orm.indices import BlockRow
from hashedge.adapters.orm.trading import InstrumentRow, MarkRow

_INSTRUMENTS = InstrumentRow.__table__


def _count_of(status: str):
    return select(func.count()).where(_INSTRUMENTS.c.status == status).scalar_subquery()


_LISTING_VERSION = select(
    _count_of("listed"), _count_of("expired"),
    select(func.max(MarkRow.__table__.c.id)).scalar_subquery(),
    select(func.max(BlockRow.__table__.c.height)).scalar_subquery(),
)


def listing_version(connection: Connection) -> tuple:
    """(instruments listed, expired; the newest mark's id; the tip's height), read on
    ``connection`` in its transaction: one statement."""
    row = connection.execute(_LISTING_VERSION).one()
    return tuple(row)

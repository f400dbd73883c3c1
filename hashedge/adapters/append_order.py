"""Appends that become visible in the order of their ids (PostgreSQL).

A process keeps the instruments' list and the indices' latest fixings under the newest mark's
and the newest fixing's id (``services.versioned_reads``, ``repositories.listing_version``). That
is sound only if a reader that sees id N also sees every committed row below N. A sequence hands
out ids when rows are inserted, not when they commit: two transactions appending marks at once
could take ids 10 and 11 and commit 11 first. A reader between the two commits would keep a list
without mark 10 under version 11, and after 10 committed the newest id would still be 11: the
kept list would stay wrong until the next mark.

So a writer of marks or fixings first takes a transaction-scoped advisory lock of its table,
before it takes any id: the next writer's ids come after the first has committed or rolled back.
On SQLite every writer already holds the database's write lock from its ``BEGIN``.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

MARKS_LOCK = 0x48454D4B  # "HEMK": pg_advisory_xact_lock key of the marks' appends
FIXINGS_LOCK = 0x48454658  # "HEFX": of the fixings' appends
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def appending_in_id_order(session: Session, key: int) -> None:
    """Before appending rows to the table of ``key``: on PostgreSQL, wait until no other open
    transaction has appended to it (held until this one ends; taking it again is free)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": key})

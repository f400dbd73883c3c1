"""What a process keeps read answers under (``services.versioned_reads.WITNESSED``): a marker
that every commit of a write to the database moves, read in one statement.

- **PostgreSQL**: the generation of writes (migration 0019, ``unit_of_work.writes_generation``),
  read on a pooled connection; None while another transaction that wrote is still open.
- **SQLite**: ``PRAGMA data_version`` of one connection the process keeps for nothing else. The
  value changes whenever another connection commits, and every other connection is "another" to
  this one: the pool's, other processes', the engine's. It never writes, so none of its own
  commits could go unseen. One connection per process (per engine, made again after a fork)
  rather than each pooled connection's own value: the pool hands out its connections in turn and
  makes and closes extra ones under load, so answers kept per pooled connection were rarely
  asked for on the same one again.
- An in-memory SQLite database (one connection, no pool to speak of): None, nothing is kept.

Two equal markers, read one after the other, mean nothing was committed between the reads.
"""

from __future__ import annotations

import os
import threading
import weakref

from sqlalchemy import Engine

from hashedge.adapters.unit_of_work import writes_generation

_DATA_VERSION = "PRAGMA data_version"


class _SqliteWatcher:
    """The connection a process reads SQLite's ``data_version`` on, made on first use."""

    def __init__(self, engine: Engine):
        self._engine = weakref.ref(engine)
        self._lock = threading.Lock()
        self._connection = None
        self._pid = None

    def data_version(self) -> int:
        with self._lock:
            if self._connection is None or self._pid != os.getpid():
                pooled = self._engine().raw_connection()
                pooled.detach()  # the pool's no longer: kept open for this process alone
                self._connection, self._pid = pooled, os.getpid()
            cursor = self._connection.cursor()
            try:
                cursor.execute(_DATA_VERSION)
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()


_watchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_watchers_lock = threading.Lock()


def reads_marker(engine: Engine) -> int | None:
    """The marker now (module docstring): PostgreSQL's generation of writes, or SQLite's
    ``data_version`` on the process's watching connection; None when nothing can vouch."""
    if engine.dialect.name == "postgresql":
        # in autocommit: one round trip, where a transaction of its own took three (BEGIN, the
        # statement, COMMIT); the witness reads live values, not a snapshot, either way
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return writes_generation(connection)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _watchers_lock:
            watcher = _watchers.get(engine)
            if watcher is None:
                watcher = _watchers[engine] = _SqliteWatcher(engine)
        return watcher.data_version()
    return None

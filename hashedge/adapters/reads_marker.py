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

import atexit
import os
import threading
import weakref

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

from hashedge.adapters.unit_of_work import writes_generation

_DATA_VERSION = "PRAGMA data_version"


class _SqliteWatcher:
    """The connection a process reads SQLite's ``data_version`` on: made on first use, outside
    the engine's pool (none of the pool's warm connections is taken from it), closed when the
    engine is disposed or the process exits. Closing it matters: SQLite folds the WAL back into the
    database file when the last connection closes, and a process that left this one open would
    leave the WAL behind for the next to replay (and a copy of the file alone without its writes)."""

    def __init__(self, engine: Engine):
        self._url = engine.url
        self._lock = threading.Lock()
        self._connection = None
        self._pid = None

    def data_version(self) -> int:
        with self._lock:
            if self._connection is None or self._pid != os.getpid():
                # NullPool: a connection of its own, really closed when it is closed
                own = create_engine(self._url, poolclass=NullPool, connect_args={"timeout": 30})
                self._connection, self._pid = own.raw_connection(), os.getpid()
            cursor = self._connection.cursor()
            try:
                cursor.execute(_DATA_VERSION)
                return int(cursor.fetchone()[0])
            finally:
                cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None


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
                event.listen(engine, "engine_disposed", lambda _engine: watcher.close())
        return watcher.data_version()
    return None


@atexit.register
def _close_watchers() -> None:
    """A process that never disposes its engine (a command that exits) still closes them."""
    for watcher in list(_watchers.values()):
        watcher.close()

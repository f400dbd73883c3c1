"""Waking an idle matching engine when order requests may have arrived, without polling the inbox.

PostgreSQL: the engine LISTENs on ``hashedge_order_requests``, which every append NOTIFYs
(delivered at its commit). SQLite: ``PRAGMA data_version`` on a connection of the engine's own,
which changes whenever another connection commits (a few microseconds a read, checked every
0.5 ms). ``arm`` before reading the inbox, ``wait`` after finding it empty: a request committed in
between wakes the wait at once. Either way ``wait`` returns after ``seconds`` at the latest, so a
lost signal costs at most that.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

from hashedge.adapters.repositories.exchange import REQUEST_CHANNEL

log = logging.getLogger(__name__)

SQLITE_CHECK_S = 0.0005


class InboxSignal:
    def __init__(self, engine: Engine, *, sqlite_check_s: float = SQLITE_CHECK_S):
        self._engine = engine
        self._check_s = sqlite_check_s
        self._postgres = engine.dialect.name == "postgresql"
        self._connection = None
        self._version = None

    def _connect(self):
        if self._connection is None:
            if self._postgres:
                import psycopg

                url = self._engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._connection = psycopg.connect(url, autocommit=True)
                self._connection.execute(f"LISTEN {REQUEST_CHANNEL}")
            else:
                self._connection = self._engine.raw_connection()
        return self._connection

    def _sqlite_version(self) -> int:
        cursor = self._connect().cursor()
        try:
            return cursor.execute("PRAGMA data_version").fetchone()[0]
        finally:
            cursor.close()

    def arm(self) -> None:
        """Forget what was signalled so far (call before reading the inbox)."""
        try:
            if self._postgres:
                for _ in self._connect().notifies(timeout=0):
                    pass
            else:
                self._version = self._sqlite_version()
        except Exception:  # a signal is an optimization: fall back to timed waits
            log.warning("inbox signal lost; the engine waits its interval", exc_info=True)
            self.close()

    def wait(self, seconds: float) -> bool:
        """Return when a request may have arrived since ``arm`` (True), or after ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            if self._postgres:
                for _ in self._connect().notifies(timeout=seconds, stop_after=1):
                    return True
                return False
            while time.monotonic() < deadline:
                if self._version is not None and self._sqlite_version() != self._version:
                    return True
                time.sleep(self._check_s)
        except Exception:
            log.warning("inbox signal lost; the engine waits its interval", exc_info=True)
            self.close()
            time.sleep(max(0.0, deadline - time.monotonic()))
        return False

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass
            self._connection, self._version = None, None

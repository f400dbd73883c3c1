"""Waking the submitters that await the engine's outcomes (``services.order_inbox``): one
connection and one thread per web process, whatever the number of waiting requests.

PostgreSQL (``OutcomeListener``): LISTEN. The engine NOTIFYs ``hashedge_order_outcomes`` with the
ids a batch marked done, delivered at its commit; a waiter registered for one of them
(``expect``) is woken at once. A notification that came before ``expect`` is caught by the
submitter's read right after it; a lost connection by its own poll every 250 ms.

SQLite (``OutcomePoller``): while any request is awaited, the thread checks ``PRAGMA
data_version`` every millisecond (it changes when another connection commits, a few microseconds
a read) and, when it changed, reads which of the awaited requests are no longer pending: one
statement per commit at most, instead of every waiter polling on its own.

The thread starts on first use, never at import or in ``create_app`` (gunicorn forks workers
after loading the app), and reconnects after a failure with a pause.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import URL, Engine

from hashedge.adapters.repositories.exchange import OUTCOME_CHANNEL

log = logging.getLogger(__name__)

RECONNECT_PAUSE_S = 1.0


class _Waiters:
    """The awaited requests' events and the thread that sets them (``_watch``, in a subclass)."""

    first_interval_s = max_interval_s = 0.250  # the submitter's own poll, a fallback: the thread wakes it

    def __init__(self):
        self._events: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._awaited = threading.Event()  # set while some request is awaited
        self.listening = threading.Event()  # set while the thread's connection is up

    def expect(self, request_id: int) -> None:
        self._start()
        with self._lock:
            self._events.setdefault(request_id, threading.Event())
            self._awaited.set()

    def wait(self, request_id: int, seconds: float) -> None:
        with self._lock:
            event = self._events.get(request_id)
        if event is None:
            self._stopped.wait(seconds)
        else:
            event.wait(seconds)

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._events.pop(request_id, None)
            if not self._events:
                self._awaited.clear()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop listening and close the connection (within about a second)."""
        self._stopped.set()
        self._awaited.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="order-outcomes", daemon=True)
                self._thread.start()

    def _wake(self, request_ids) -> None:
        with self._lock:
            for request_id in request_ids:
                event = self._events.get(request_id)
                if event is not None:
                    event.set()

    def _watch(self) -> None:
        raise NotImplementedError


class OutcomeListener(_Waiters):
    """``OutcomeWaits`` for PostgreSQL: woken by the engine's notifications."""

    def __init__(self, url: URL):
        super().__init__()
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _watch(self) -> None:
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {OUTCOME_CHANNEL}")
                    self.listening.set()
                    while not self._stopped.is_set():
                        for notification in connection.notifies(timeout=1.0):
                            self._wake(int(part) for part in notification.payload.split(",") if part.isdigit())
            except Exception:  # the database went away: poll meanwhile, reconnect after a pause
                log.warning("order outcome listener lost its connection; reconnecting", exc_info=True)
            finally:
                self.listening.clear()
            self._stopped.wait(RECONNECT_PAUSE_S)


class OutcomePoller(_Waiters):
    """``OutcomeWaits`` for SQLite: the awaited requests done, read after each commit elsewhere."""

    TICK_S = 0.001

    def __init__(self, engine: Engine):
        super().__init__()
        self._engine = engine

    def _watch(self) -> None:
        while not self._stopped.is_set():
            try:
                connection = self._engine.raw_connection()  # autocommit reads (database.make_engine)
                try:
                    self.listening.set()
                    seen = None
                    while not self._stopped.is_set():
                        self._awaited.wait()
                        cursor = connection.cursor()
                        version = cursor.execute("PRAGMA data_version").fetchone()[0]
                        cursor.close()
                        with self._lock:
                            awaited = [i for i, event in self._events.items() if not event.is_set()]
                        if awaited and version != seen:  # a commit since the last look (or a first look)
                            seen = version
                            marks = ",".join("?" * len(awaited))
                            cursor = connection.cursor()
                            cursor.execute(f"SELECT id FROM order_requests WHERE status <> 'pending' AND id IN "
                                           f"({marks})", awaited)
                            self._wake(row[0] for row in cursor.fetchall())
                            cursor.close()
                        self._stopped.wait(self.TICK_S)
                finally:
                    self.listening.clear()
                    connection.close()
            except Exception:  # the file went away or is locked: the submitters poll meanwhile
                log.warning("order outcome poller failed; starting again", exc_info=True)
            self._stopped.wait(RECONNECT_PAUSE_S)

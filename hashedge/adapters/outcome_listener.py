"""PostgreSQL LISTEN for the engine's outcomes: one connection and one thread per web process
wake the submitters waiting on the requests a commit answered (``services.order_inbox``).

The engine NOTIFYs ``hashedge_order_outcomes`` with the ids a batch marked done, delivered at its
commit. A waiter registered for one of them (``expect``) is woken at once; any other waits its
poll interval (the fallback: a lost connection, or a notification that came before ``expect``).
The thread starts on first use, never at import or in ``create_app`` (gunicorn forks workers
after loading the app), and reconnects after a failure with a pause.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import URL

from hashedge.adapters.repositories.exchange import OUTCOME_CHANNEL

log = logging.getLogger(__name__)

RECONNECT_PAUSE_S = 1.0


class OutcomeListener:
    """``OutcomeWaits`` for PostgreSQL: woken by notifications, polling every 100 ms at most."""

    max_interval_s = 0.100

    def __init__(self, url: URL):
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._events: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.listening = threading.Event()  # set while the LISTEN connection is up

    def expect(self, request_id: int) -> None:
        self._start()
        with self._lock:
            self._events.setdefault(request_id, threading.Event())

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

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop listening and close the connection (within about a second)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="order-outcomes", daemon=True)
                self._thread.start()

    def _wake(self, payload: str) -> None:
        with self._lock:
            for part in payload.split(","):
                event = self._events.get(int(part)) if part.isdigit() else None
                if event is not None:
                    event.set()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {OUTCOME_CHANNEL}")
                    self.listening.set()
                    while not self._stopped.is_set():
                        for notification in connection.notifies(timeout=1.0):
                            self._wake(notification.payload)
            except Exception:  # the database went away: poll meanwhile, reconnect after a pause
                log.warning("order outcome listener lost its connection; reconnecting", exc_info=True)
            finally:
                self.listening.clear()
            self._stopped.wait(RECONNECT_PAUSE_S)

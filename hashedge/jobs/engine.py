"""The matching-engine process (``hashedge engine run``): one per instrument group, holding the
group's lease, looping over ``exchange_engine.process_batch`` and, only when the inbox is empty,
waiting for the next request (``adapters.inbox_signal``: LISTEN on PostgreSQL, the database's
data version on SQLite; 50 ms at most).

Only the holder of the group's lease (a ``scheduler_lease`` row named ``engine:<group>``, the
scheduler's lease mechanism) executes batches; a second engine of the same group stands by and
takes over once the first one's lease runs out (killed) or is released (stopped). The lease is a
liveness device, so it runs on the system's time, never the business clock. Correctness does not
rest on it: the inbox's exactly-once guard holds whatever runs (ORDER_PATH.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import OperationalError

from hashedge.adapters.inbox_signal import InboxSignal
from hashedge.bootstrap import Runtime
from hashedge.errors import Conflict
from hashedge.jobs.lease import SchedulerLease
from hashedge.services.exchange_engine import DEFAULT_BATCH_SIZE, process_batch

LEASE_TTL = timedelta(seconds=15)
RETRY_PAUSE_S = 1.0  # after the database failed a step (it stays pending; ``process_batch``)
IDLE_WAIT_S = 0.050  # at most, when the inbox is empty: a new request wakes it (InboxSignal)
MAX_LEASE_NAME = 64

log = logging.getLogger(__name__)


class EngineBusy(Conflict):
    code = "engine_busy"


def lease_name(instruments: tuple[str, ...] | None) -> str:
    """``engine:*`` for every instrument, else ``engine:`` and the group (hashed when long)."""
    if instruments is None:
        return "engine:*"
    name = "engine:" + ",".join(sorted(instruments))
    if len(name) > MAX_LEASE_NAME:
        name = "engine:" + hashlib.sha256(name.encode()).hexdigest()[:32]
    return name


@dataclass
class EngineTotals:
    batches: int = 0
    answered: int = 0
    poisoned: int = 0
    stale: int = 0


def _system_now() -> datetime:
    return datetime.now(timezone.utc)


class EngineProcess:
    """One engine: ``run`` until ``stop`` (or, with ``once``, until the inbox is drained)."""

    def __init__(self, runtime: Runtime, *, instruments: tuple[str, ...] | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, lease_ttl: timedelta = LEASE_TTL, holder: str | None = None):
        self.runtime = runtime
        self.instruments = tuple(sorted(set(instruments))) if instruments else None
        self.batch_size = batch_size
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.lease = SchedulerLease(runtime.session_factory, self.holder, lease_ttl, name=lease_name(self.instruments))
        self.totals = EngineTotals()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _lead(self, *, wait_s: float | None) -> bool:
        """Take or renew the lease, waiting for it up to ``wait_s`` (forever when None) unless stopped."""
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while not self._stop.is_set():
            if self.lease.try_acquire(_system_now()):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._stop.wait(min(1.0, self.lease.ttl.total_seconds() / 3))
        return False

    def run(self, *, once: bool = False) -> EngineTotals:
        """Execute batches while leading. ``once``: drain what is pending now and return (waiting
        for the lease at most twice its TTL, else ``EngineBusy``)."""
        if not self._lead(wait_s=2 * self.lease.ttl.total_seconds() if once else None):
            if once and not self._stop.is_set():
                raise EngineBusy(f"another engine holds the lease {self.lease.name!r}")
            return self.totals
        log.info("engine %s leads %s", self.holder, self.lease.name)
        renewed = time.monotonic()
        signal = InboxSignal(self.runtime.engine)
        try:
            while not self._stop.is_set():
                if time.monotonic() - renewed > self.lease.ttl.total_seconds() / 3:
                    if not self._lead(wait_s=None):
                        break
                    renewed = time.monotonic()
                signal.arm()
                try:
                    report = process_batch(self.runtime.uow, self.runtime.clock, batch_size=self.batch_size,
                                           instruments=self.instruments)
                except OperationalError:  # the database is away: nothing was stored; try again
                    log.exception("engine step failed in the database; trying again in %.0f s", RETRY_PAUSE_S)
                    self._stop.wait(RETRY_PAUSE_S)
                    continue
                self.totals.batches += not report.idle
                self.totals.answered += report.answered
                self.totals.poisoned += report.poisoned
                self.totals.stale += report.stale
                if report.retry:
                    self._stop.wait(RETRY_PAUSE_S)
                if not report.idle:
                    continue
                if once:
                    break
                signal.wait(IDLE_WAIT_S)
        finally:
            signal.close()
            self.lease.release()
        return self.totals

"""The matching-engine process (``hashedge engine run``): one per instrument group, holding the
group's lease, looping over ``exchange_engine.process_batch`` and, only when the inbox is empty,
waiting for the next request (``adapters.inbox_signal``: LISTEN on PostgreSQL, the database's
data version on SQLite; 50 ms at most).

Only the holder of the group's lease (a ``scheduler_lease`` row named ``engine:<group>``, the
scheduler's lease mechanism) executes batches; a second engine of the same group stands by and
takes over once the first one's lease runs out (killed) or is released (stopped). The lease is a
liveness device, so it runs on the system's time, never the business clock. Correctness does not
rest on it: the inbox's exactly-once guard holds whatever runs (ORDER_PATH.md).

With a ``socket_path`` the leading engine also listens on a local socket
(``adapters.engine_socket``): each step first claims and executes the requests that came over it
in one transaction (``exchange_engine.execute_handed``) and replies to their submitters, then
executes the inbox's next batch of pending requests. Requests for another group's instruments
are claimed and answered with their inbox id (their engine executes them). A request past its
submitter's deadline is not claimed (the submitter abandons its token). ORDER_PATH.md, "The
engine's socket".
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import socket
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.exc import OperationalError

from hashedge.adapters.engine_socket import EngineSocketServer, Peer
from hashedge.adapters.inbox_signal import InboxSignal
from hashedge.adapters.repositories.exchange import TokenRequest
from hashedge.bootstrap import Runtime
from hashedge.errors import Conflict
from hashedge.jobs.lease import SchedulerLease
from hashedge.services.exchange_engine import (
    DEFAULT_BATCH_SIZE, BatchReport, claim_requests, execute_handed, process_batch,
)
from hashedge.services.exchange_reads import KEPT
from hashedge.services.order_inbox import instrument_column

LEASE_TTL = timedelta(seconds=15)
RETRY_PAUSE_S = 1.0  # after the database failed a step (it stays pending; ``process_batch``)
IDLE_WAIT_S = 0.050  # at most, when the inbox is empty: a new request wakes it (InboxSignal)
MAX_LEASE_NAME = 64
WATCH_CHECK_S = 0.005  # socket mode: how often the inbox watcher reads SQLite's data_version
CLAIM_MARGIN_S = 0.5  # a socket request is not claimed this close to its submitter's deadline
# While socket requests keep coming, the inbox (appends without the socket: a fallback) is read
# at most this often rather than after every batch: an empty read is a transaction of its own, and
# at 200 orders/s the batches are small and many (BENCHMARKS.md part I).
INBOX_CHECK_WHILE_SERVING_S = 0.050
BUSY_STEPS_KEPT = 100_000  # the latest busy steps' times kept for the stop line (``EngineTotals``)

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
    claimed: int = 0  # requests that came over the socket
    busy_s: float = 0.0  # wall seconds spent claiming and executing (not waiting for requests)
    cpu_s: float = 0.0  # the loop thread's CPU seconds in them
    # each busy step's wall and CPU seconds, the latest ``BUSY_STEPS_KEPT``: an order waits for the
    # step under way, then for its own, so their spread is most of its latency (BENCHMARKS.md, part N)
    busy_steps: deque = field(default_factory=lambda: deque(maxlen=BUSY_STEPS_KEPT), repr=False, compare=False)

    def record_busy(self, wall_s: float, cpu_s: float) -> None:
        self.busy_s += wall_s
        self.cpu_s += cpu_s
        self.busy_steps.append((wall_s, cpu_s))

    def busy_step_ms(self) -> tuple[float, float, float, float] | None:
        """The busy steps' median and 99th percentile, wall then CPU, in ms (of the steps kept);
        None before two steps."""
        if len(self.busy_steps) < 2:
            return None
        walls, cpus = zip(*self.busy_steps)
        wall, cpu = (statistics.quantiles(values, n=100, method="inclusive") for values in (walls, cpus))
        return wall[49] * 1e3, wall[98] * 1e3, cpu[49] * 1e3, cpu[98] * 1e3


@dataclass(frozen=True)
class _Waiter:
    peer: Peer
    token: str
    deadline: float  # the submitter's, in system seconds (time.time())


def _token_request(message: dict) -> TokenRequest | None:
    """A socket message as a request to claim, or None when it is not one (dropped, logged)."""
    account_id, request = message.get("account_id"), message.get("request")
    if not (isinstance(account_id, int) and not isinstance(account_id, bool) and isinstance(request, dict)
            and len(message["token"]) == 32):
        return None
    return TokenRequest(message["token"], account_id, instrument_column(request), request)


def _system_now() -> datetime:
    return datetime.now(timezone.utc)


class EngineProcess:
    """One engine: ``run`` until ``stop`` (or, with ``once``, until the inbox is drained)."""

    def __init__(self, runtime: Runtime, *, instruments: tuple[str, ...] | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, lease_ttl: timedelta = LEASE_TTL, holder: str | None = None,
                 socket_path: str | Path | None = None):
        self.runtime = runtime
        self.socket_path = socket_path
        self._arrivals: queue.SimpleQueue[tuple[Peer, dict]] = queue.SimpleQueue()
        self._arrived = threading.Event()  # a socket request or an inbox append (socket mode)
        self._waiting: dict[int, _Waiter] = {}
        self._serving = threading.Event()
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

    def _renew(self) -> bool:
        """Renew the lease while leading. On SQLite in a transaction on the batches' own pool
        that reads the write marker before and after its one update, so that what the last batch
        kept survives the renewal (the lease row is nothing the kept state holds; before this, a
        renewal every 5 s made the next batch read everything: ORDER_PATH.md). Otherwise, or when
        the lease was lost meanwhile, as ``_lead``."""
        if self.runtime.engine.dialect.name == "sqlite":
            try:
                with (uow := self.runtime.uow()):
                    before = uow.write_marker()
                    renewed = self.lease.renew(uow.session, _system_now())
                    after = uow.commit_marked()
            except OperationalError:
                renewed = False
            if renewed:
                KEPT.rekey(before, after)
                return True
        return self._lead(wait_s=None)

    def run(self, *, once: bool = False) -> EngineTotals:
        """Execute batches while leading. ``once``: drain what is pending now and return (waiting
        for the lease at most twice its TTL, else ``EngineBusy``)."""
        if not self._lead(wait_s=2 * self.lease.ttl.total_seconds() if once else None):
            if once and not self._stop.is_set():
                raise EngineBusy(f"another engine holds the lease {self.lease.name!r}")
            return self.totals
        log.info("engine %s leads %s", self.holder, self.lease.name)
        renewed, inbox_read_at = time.monotonic(), float("-inf")  # the inbox is read at the first step
        server = self._serve() if self.socket_path and not once else None
        signal = InboxSignal(self.runtime.engine) if server is None else None
        try:
            while not self._stop.is_set():
                if time.monotonic() - renewed > self.lease.ttl.total_seconds() / 3:
                    if not self._renew():
                        break
                    renewed = time.monotonic()
                if signal is not None:
                    signal.arm()
                self._arrived.clear()
                started, cpu_started = time.monotonic(), time.thread_time()
                claimed = self._take_arrivals() if server is not None else 0
                try:
                    if claimed and time.monotonic() - inbox_read_at < INBOX_CHECK_WHILE_SERVING_S:
                        report = BatchReport()  # the inbox is read again soon, or once the socket is quiet
                    else:
                        inbox_read_at = time.monotonic()
                        report = process_batch(self.runtime.uow, self.runtime.clock, batch_size=self.batch_size,
                                               instruments=self.instruments)
                except OperationalError:  # the database is away: nothing was stored; try again
                    log.exception("engine step failed in the database; trying again in %.0f s", RETRY_PAUSE_S)
                    self._stop.wait(RETRY_PAUSE_S)
                    continue
                if claimed or not report.idle:
                    self.totals.record_busy(time.monotonic() - started, time.thread_time() - cpu_started)
                self._reply(report.outcomes)
                self.totals.batches += not report.idle
                self.totals.answered += report.answered
                self.totals.poisoned += report.poisoned
                self.totals.stale += report.stale
                if report.retry:
                    self._stop.wait(RETRY_PAUSE_S)
                if not report.idle or claimed:
                    continue
                if once:
                    break
                if signal is not None:
                    signal.wait(IDLE_WAIT_S)
                else:
                    self._arrived.wait(IDLE_WAIT_S)
        finally:
            if signal is not None:
                signal.close()
            if server is not None:
                self._serving.clear()
                server.stop()
            self.lease.release()
        return self.totals

    # --- the socket (module docstring) ------------------------------------------------------

    def _serve(self) -> EngineSocketServer | None:
        """Listen on the socket, and wake the loop on inbox appends too; None (inbox only, logged)
        when the socket cannot be opened."""
        server = EngineSocketServer(self.socket_path, self._on_message)
        try:
            server.start()
        except (OSError, ValueError):
            log.exception("engine socket %s cannot be opened; serving the inbox only", self.socket_path)
            return None
        self._serving.set()
        threading.Thread(target=self._watch_inbox, name="engine-inbox-signal", daemon=True).start()
        log.info("engine %s listens on %s", self.holder, self.socket_path)
        return server

    def _on_message(self, peer: Peer, message: dict) -> None:  # a reader thread of the server
        self._arrivals.put((peer, message))
        self._arrived.set()

    def _watch_inbox(self) -> None:
        """Wake the loop when the inbox may have grown (requests appended without the socket, the
        fallback: on SQLite checked every 5 ms rather than 0.5, a thread beside the loop)."""
        signal = InboxSignal(self.runtime.engine, sqlite_check_s=WATCH_CHECK_S)
        try:
            signal.arm()
            while self._serving.is_set():
                if signal.wait(1.0):
                    self._arrived.set()
                    signal.arm()
        finally:
            signal.close()

    def _take_arrivals(self) -> int:
        """Claim and execute (or, for another group, claim) the socket requests that arrived;
        how many were claimed."""
        arrivals: list[tuple[Peer, dict]] = []
        while len(arrivals) < self.batch_size:
            try:
                arrivals.append(self._arrivals.get_nowait())
            except queue.Empty:
                break
        if not arrivals:
            return 0
        now = time.time()
        fresh: list[tuple[Peer, dict, TokenRequest]] = []
        for peer, message in arrivals:
            request = _token_request(message)
            if request is None:
                log.warning("engine socket: a malformed request was dropped")
            elif not peer.closed and _deadline(message) > now + CLAIM_MARGIN_S:
                fresh.append((peer, message, request))
        own, others = [], []
        for handed in fresh:
            (own if self.instruments is None or handed[2].instrument in self.instruments else others).append(handed)
        handled = self._execute_handed(own) + self._claim(others, wait=False)
        self._forget_gone(now)
        return handled

    def _execute_handed(self, handed: list[tuple[Peer, dict, TokenRequest]]) -> int:
        """Claim and execute this group's socket requests in one transaction and answer them;
        if that fails, claim them alone and let ``process_batch`` execute them (its retries)."""
        if not handed:
            return 0
        try:
            done = execute_handed(self.runtime.uow, self.runtime.clock, [r for _, _, r in handed])
        except Exception:
            log.exception("a batch of %d socket requests failed; claiming them into the inbox", len(handed))
            return self._claim(handed, wait=True)
        for peer, _, request in handed:
            if request.token in done:  # else abandoned by its submitter first
                peer.send({"token": request.token, "outcome": done[request.token][1]})
        self.totals.claimed += len(done)
        self.totals.answered += len(done)
        self.totals.batches += 1
        return len(done)

    def _claim(self, handed: list[tuple[Peer, dict, TokenRequest]], *, wait: bool) -> int:
        """Write socket requests into the inbox as pending; ``wait``: answer each when
        ``process_batch`` has executed it, else (another group's) answer with its inbox id."""
        if not handed:
            return 0
        try:
            claimed = claim_requests(self.runtime.uow, self.runtime.clock, [r for _, _, r in handed])
        except OperationalError:  # nothing claimed: each submitter settles by its token
            log.exception("engine could not claim %d socket requests", len(handed))
            return 0
        for peer, message, request in handed:
            request_id = claimed.get(request.token)
            if request_id is None:
                continue  # abandoned by its submitter first
            if wait:
                self._waiting[request_id] = _Waiter(peer, request.token, _deadline(message))
            else:
                peer.send({"token": request.token, "request_id": request_id})
        self.totals.claimed += len(claimed)
        return len(claimed)

    def _reply(self, outcomes: tuple[tuple[int, str], ...]) -> None:
        for request_id, outcome in outcomes:
            waiter = self._waiting.pop(request_id, None)
            if waiter is not None:
                waiter.peer.send({"token": waiter.token, "outcome": outcome})

    def _forget_gone(self, now: float) -> None:
        """Drop waiters that went away or gave up (their requests stay in the inbox and are
        answered there)."""
        if len(self._waiting) > 4 * self.batch_size:
            self._waiting = {i: w for i, w in self._waiting.items() if not w.peer.closed and w.deadline > now}


def _deadline(message: dict) -> float:
    deadline = message.get("deadline")
    return float(deadline) if isinstance(deadline, (int, float)) and not isinstance(deadline, bool) else 0.0

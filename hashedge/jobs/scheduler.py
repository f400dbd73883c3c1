"""The scheduler process: APScheduler with jobs persisted in the application database.

Jobs are thin: each records its run (job, slot, owner, status, duration, summary) and calls one
service. A slot is the job's scheduled time floored to its interval, so a job runs at most once
per slot even when two processes or a catch-up fire it; the services themselves are idempotent
too. Missed runs are caught up once (coalesced) when the process comes back.

Leadership: only the holder of the lease (``lease.SchedulerLease``) runs jobs. Every process,
leader or standby, runs a *lease loop* of its own (a plain thread, never paused with the jobs):
every ``renew_seconds`` it renews or tries to take the lease. Taking it resumes the jobs;
losing it (a leader paused past its lease, say) pauses them, and the loop goes on trying, so an
ex-leader takes over again when the new leader dies. A job also checks, as it starts, that its
process still holds a fresh lease (a process resuming from a pause may fire a due job before its
loop notices the loss), and claims its slot only if it still does, in the claim's transaction
(it may have been paused between the two). A new leader first marks the runs other owners left ``running`` as
abandoned and runs those jobs at once (a leader killed mid-job). ``stop`` releases the lease.

APScheduler's dispatch loop (``DispatchLoop``) outlives a job-store error: a process frozen inside
a store transaction finds, when it resumes, that the server has ended that session (PostgreSQL,
after the lease TTL); the failed write is retried by the next round instead of ending the loop,
which would leave a process that leads but never runs a job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from hashedge.adapters.database import make_engine
from hashedge.bootstrap import Runtime
from hashedge.errors import DataUnavailable
from hashedge.jobs.lease import SchedulerLease
from hashedge.services import fixings as fixing_services
from hashedge.services import governance as governance_services
from hashedge.services import instruments as instrument_services
from hashedge.services import liquidation as liquidation_services
from hashedge.services import settlement as settlement_services
from hashedge.services.chain_data import ingest_new_blocks
from indices.sources.base import BlockSource

log = logging.getLogger(__name__)

INGEST_INTERVAL_SECONDS = 60
PUBLISH_INTERVAL_SECONDS = 300
REFRESH_INSTRUMENTS_INTERVAL_SECONDS = 300  # listing cycle and marks (then a liquidation sweep)
LIQUIDATION_SWEEP_INTERVAL_SECONDS = 60
# Hourly: the first run after 00:00 UTC settles the day that closed (after its midnight fixings
# are published); a date whose expiries wait for fixings is picked up by the next date's run.
SETTLE_INTERVAL_SECONDS = 3600
POOL_UNWIND_INTERVAL_SECONDS = 3600  # the pool offers pool.unwind_fraction of each position an hour
GOVERNANCE_INTERVAL_SECONDS = 60  # a passed proposal takes effect within a minute of its timelock's end
LEASE_TTL = timedelta(seconds=30)


@dataclass
class JobContext:
    """What the jobs of this process work with (set once when the process starts). ``owner`` is
    the process's lease holder name, recorded on its runs (None for a run by hand)."""

    runtime: Runtime
    source: BlockSource | None
    results: list = field(default_factory=list)
    owner: str | None = None
    leading: Callable[[], bool] = lambda: True
    intervals: dict[str, int] = field(default_factory=lambda: {name: every for name, (_job, every) in JOBS.items()})


_context: JobContext | None = None  # the leading SchedulerProcess's context (one leads per Python process)


def slot_of(moment: datetime, interval_seconds: int) -> datetime:
    epoch_seconds = int(moment.timestamp())
    return datetime.fromtimestamp(epoch_seconds - epoch_seconds % interval_seconds, tz=timezone.utc)


def run_recorded(runtime: Runtime, job: str, scheduled_for: datetime, work: Callable[[], dict],
                 owner: str | None = None) -> dict | None:
    """Run ``work`` once for (job, slot), recording the run as ``owner``'s; None if the slot
    already ran (or is running under a live lease), or if ``owner`` (a scheduler process) does not
    hold the lease as it claims the slot: a process frozen after its job checked the lease may
    resume after another has taken over."""
    started = runtime.clock.now()
    with runtime.uow() as uow:
        if owner is not None and not uow.job_runs.leads(owner, started):
            log.warning("%s for %s not run: %s no longer holds the scheduler lease", job, scheduled_for.isoformat(),
                        owner)
            return None
        run_id = uow.job_runs.claim(job, scheduled_for, started, owner)
        uow.commit()
    if run_id is None:
        log.info("%s for %s already ran; skipped", job, scheduled_for.isoformat())
        return None
    status, summary = "failed", {}
    try:
        summary = work()
        status = "succeeded"
        return summary
    except Exception as exc:
        summary = {"error": f"{type(exc).__name__}: {exc}"}
        log.exception("%s failed", job)
        raise
    finally:
        with runtime.uow() as uow:
            recorded = uow.job_runs.finish(run_id, status, json.dumps(summary, default=str), runtime.clock.now(),
                                           owner)
            uow.commit()
        if not recorded:
            log.warning("%s for %s was taken over by the leader while it ran; this outcome (%s) is not recorded",
                        job, scheduled_for.isoformat(), status)


def ingest_blocks_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    """Fetch new blocks from the block source (shallow reorgs followed)."""
    runtime = context.runtime
    if context.source is None:
        return run_recorded(runtime, "ingest_blocks", scheduled_for,
                            lambda: {"skipped": "no block source configured"}, context.owner)

    def work() -> dict:
        result = ingest_new_blocks(
            runtime.uow(), context.source, confirmations=runtime.settings.confirmations
        )
        return {"added_blocks": result.added_blocks, "removed_blocks": result.removed_blocks,
                "tip_height": result.tip_height}

    return run_recorded(runtime, "ingest_blocks", scheduled_for, work, context.owner)


def publish_fixings_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    """Publish every fixing that has become due and confirmed."""
    runtime = context.runtime

    def work() -> dict:
        result = fixing_services.publish_fixings(
            runtime.uow(), runtime.clock, confirmations=runtime.settings.confirmations
        )
        return result.as_summary()

    return run_recorded(runtime, "publish_fixings", scheduled_for, work, context.owner)


def refresh_instruments_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    """Keep the listing cycle current and re-mark every listed contract."""
    runtime = context.runtime

    def work() -> dict:
        try:
            listing = instrument_services.run_listing(runtime.uow(), runtime.clock)
        except DataUnavailable as exc:  # a fresh install before its first ingest: nothing to list yet
            return {"skipped": str(exc)}
        marks = instrument_services.update_marks(runtime.uow(), runtime.clock)
        return {"listed": listing.listed, "expired": listing.expired, "marked": len(marks.marked),
                "unmarked": marks.unmarked, "liquidation_sweep": _sweep(runtime)}

    return run_recorded(runtime, "refresh_instruments", scheduled_for, work, context.owner)


_SWEEPING = threading.Lock()  # one sweep at a time in this process (the jobs run in a thread pool)


def _sweep(runtime: Runtime) -> dict:
    """The liquidation sweep, right after what can change equity (marks, settlement) and every minute.
    Liquidations are safe side by side (each re-checks under its locks); one sweep at a time keeps
    two margin-call passes from recording the same change twice."""
    with _SWEEPING:
        try:
            return liquidation_services.sweep(runtime.uow, runtime.clock).as_dict()
        except DataUnavailable as exc:  # a position in an instrument not marked yet
            return {"skipped": str(exc)}


def liquidation_sweep_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    return run_recorded(context.runtime, "liquidation_sweep", scheduled_for, lambda: _sweep(context.runtime),
                        context.owner)


def settle_daily_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    """Settle every business date closed since the last one settled, oldest first."""
    runtime = context.runtime

    def work() -> dict:
        summaries = settlement_services.run_due_settlements(runtime.uow, runtime.clock)
        return {"settled_dates": [s.business_date.isoformat() for s in summaries if not s.already_done],
                "final_settlements": sorted({sym for s in summaries for sym in s.final_settlements}),
                "pending": summaries[-1].pending if summaries else {}, "liquidation_sweep": _sweep(runtime)}

    return run_recorded(runtime, "settle_daily", scheduled_for, work, context.owner)


def pool_unwind_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    """The backstop pool offers a fraction of what it took over back to the book at the mark."""
    from hashedge.services import pool_unwind

    runtime = context.runtime
    return run_recorded(runtime, "pool_unwind", scheduled_for,
                        lambda: pool_unwind.unwind(runtime.uow, runtime.clock).as_dict(), context.owner)


def governance_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    """Close proposals whose voting has ended: execute passed ones once at the end of their timelock."""
    runtime = context.runtime

    def work() -> dict:
        closed = governance_services.execute_due(runtime.uow(), runtime.clock)
        return {"closed": [c.as_dict() for c in closed]}

    return run_recorded(runtime, "governance", scheduled_for, work, context.owner)


JOBS: dict[str, tuple[Callable[[JobContext, datetime], dict | None], int]] = {
    "ingest_blocks": (ingest_blocks_job, INGEST_INTERVAL_SECONDS),
    "publish_fixings": (publish_fixings_job, PUBLISH_INTERVAL_SECONDS),
    "refresh_instruments": (refresh_instruments_job, REFRESH_INSTRUMENTS_INTERVAL_SECONDS),
    "settle_daily": (settle_daily_job, SETTLE_INTERVAL_SECONDS),
    "liquidation_sweep": (liquidation_sweep_job, LIQUIDATION_SWEEP_INTERVAL_SECONDS),
    "pool_unwind": (pool_unwind_job, POOL_UNWIND_INTERVAL_SECONDS),
    "governance": (governance_job, GOVERNANCE_INTERVAL_SECONDS),
}


def describe_jobs() -> str:
    """One line per job of ``JOBS``: its name, interval and what it does (for ``--help``)."""
    return "\n".join(f"{name} (every {interval} s)\n    {(job.__doc__ or '').strip()}"
                     for name, (job, interval) in JOBS.items())


def run_job(name: str) -> None:
    """Entry point APScheduler stores by reference ('hashedge.jobs.scheduler:run_job')."""
    if _context is None:
        raise RuntimeError("scheduler context not started")
    if not _context.leading():
        log.warning("%s not run: this process no longer holds the scheduler lease", name)
        return
    job, _interval = JOBS[name]
    result = job(_context, slot_of(_context.runtime.clock.now(), _context.intervals[name]))
    _context.results.append((name, result))


class DispatchLoop(BackgroundScheduler):
    """APScheduler's background scheduler, its dispatch loop kept alive through job-store errors.

    APScheduler 3 (pinned in setup.cfg) survives a failed read of the due jobs (it tries again
    ``jobstore_retry_interval`` seconds later) but not a failed write of a job's next run time,
    nor a failed read of the store's next run time: either ends its one thread silently, and the
    process never dispatches a job again. Here any error of a round is logged and the round
    retried after the same interval; a job dispatched before the error may be dispatched again
    then, which ``run_recorded`` turns into a skip (one run per slot)."""

    def _process_jobs(self):
        try:
            return super()._process_jobs()
        except Exception:
            log.exception("scheduler dispatch failed (job store); trying again in %s s", self.jobstore_retry_interval)
            return self.jobstore_retry_interval


class SchedulerProcess:
    """One scheduler: persisted jobs, a leader lease, start/stop for the CLI and the demo.

    ``lease_ttl`` and ``renew_seconds`` (default a third of the TTL) are parameters so tests can
    use short leases."""

    def __init__(self, runtime: Runtime, source: BlockSource | None, *, holder: str | None = None,
                 intervals: dict[str, int] | None = None, lease_ttl: timedelta = LEASE_TTL,
                 renew_seconds: float | None = None):
        self.runtime = runtime
        self.source = source
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.intervals = {name: interval for name, (_job, interval) in JOBS.items()}
        self.intervals.update(intervals or {})
        self.lease = SchedulerLease(runtime.session_factory, self.holder, lease_ttl)
        self.renew_seconds = lease_ttl.total_seconds() / 3 if renew_seconds is None else renew_seconds
        self.leading = False
        self._context: JobContext | None = None
        self._scheduler: DispatchLoop | None = None
        self._stopping = threading.Event()
        self._lease_loop: threading.Thread | None = None
        self._lock = threading.Lock()  # one lease check at a time (the loop, or a caller)

    def _build(self) -> DispatchLoop:
        # The job store gets an engine of its own: APScheduler disposes the store's engine on
        # shutdown, which must not pull connections from under the lease loop or other work. On
        # PostgreSQL, a store transaction left open by a frozen process is ended by the server
        # after the lease TTL, so it cannot hold the jobs' rows from the next leader.
        url = self.runtime.settings.database_url
        options = {}
        if make_url(url).get_backend_name() == "postgresql":
            ttl_ms = int(self.lease.ttl.total_seconds() * 1000)
            options["connect_args"] = {"options": f"-c idle_in_transaction_session_timeout={ttl_ms}"}
        self._store_engine = make_engine(url, create=False, **options)
        return DispatchLoop(
            jobstores={"default": SQLAlchemyJobStore(engine=self._store_engine)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 24 * 3600},
            timezone=timezone.utc,
        )

    def start(self) -> bool:
        """Start the process: jobs run while it holds the lease, and the lease loop keeps trying
        for it until ``stop``. Returns whether this process leads right now."""
        self._context = JobContext(self.runtime, self.source, owner=self.holder, leading=self.holds_lease,
                                   intervals=dict(self.intervals))
        self._scheduler = self._build()
        self._scheduler.start(paused=True)
        self.check_lease()
        self._lease_loop = threading.Thread(target=self._keep_checking, name="scheduler-lease", daemon=True)
        self._lease_loop.start()
        return self.leading

    def _keep_checking(self) -> None:
        while not self._stopping.wait(self.renew_seconds):
            try:
                self.check_lease()
            except Exception:  # e.g. the database went away while taking over: try again next time
                log.exception("scheduler lease check failed; trying again in %.1f s", self.renew_seconds)

    @property
    def jobs_paused(self) -> bool:
        """True unless this process's jobs are running (it leads); the lease loop runs regardless."""
        return self._scheduler is None or self._scheduler.state != STATE_RUNNING

    def holds_lease(self) -> bool:
        """Whether this process holds a fresh lease now (asked by each job as it starts)."""
        try:
            return self.leading and self.lease.held(self.runtime.clock.now())
        except Exception:  # the database is unreachable: do not run
            log.exception("cannot read the scheduler lease")
            return False

    def check_lease(self) -> bool:
        """Renew or take the lease, and run or pause the jobs to match; returns whether leading."""
        with self._lock:
            if self._stopping.is_set():
                return self.leading
            try:
                held = self.lease.try_acquire(self.runtime.clock.now())
            except Exception:  # the database is unreachable: behave as if the lease were lost
                log.exception("cannot renew the scheduler lease")
                held = False
            if held and not self.leading:
                self._lead()
            elif not held and self.leading:
                self.leading = False
                self._scheduler.pause()
                log.error("scheduler lease lost to another process; jobs paused, still trying for the lease")
            return self.leading

    def _lead(self) -> None:
        global _context
        _context = self._context  # the jobs this Python process runs are the leader's
        self._ensure_jobs()
        now = self.runtime.clock.now()
        with self.runtime.uow() as uow:
            stale = uow.job_runs.abandon_stale(self.holder, now)
            uow.commit()
        for name in stale:  # left running by a leader that died or lost the lease: run them again now
            if self._scheduler.get_job(name) is not None:
                self._scheduler.modify_job(name, next_run_time=datetime.now(timezone.utc))
        self.leading = True
        self._scheduler.resume()
        log.info("scheduler %s leads%s", self.holder, f"; re-running {', '.join(stale)}" if stale else "")

    def _ensure_jobs(self) -> None:
        """Add the jobs the store does not have yet; a stored job keeps its next run time, so a
        run missed while no scheduler was up is caught up once (coalesced) at start."""
        for name, interval in self.intervals.items():
            trigger = IntervalTrigger(seconds=interval, timezone=timezone.utc)
            stored = self._scheduler.get_job(name)
            if stored is None:
                self._scheduler.add_job(
                    "hashedge.jobs.scheduler:run_job", trigger=trigger, args=[name], id=name,
                    name=name, next_run_time=datetime.now(timezone.utc),
                )
            elif stored.trigger.interval != trigger.interval:
                self._scheduler.reschedule_job(name, trigger=trigger)

    def stop(self) -> None:
        """Stop the lease loop and the jobs (waiting for a running one), then release the lease."""
        self._stopping.set()
        if self._lease_loop is not None:
            self._lease_loop.join()
            self._lease_loop = None
        with self._lock:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=True)
                self._scheduler = None
                self._store_engine.dispose()  # again: its loop may have reconnected after the store's own
            self.leading = False
            self.lease.release()

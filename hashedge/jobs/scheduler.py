"""The scheduler process: APScheduler with jobs persisted in the application database.

Jobs are thin: each records its run (job, slot, status, duration, summary) and calls one service.
A slot is the job's scheduled time floored to its interval, so a job runs at most once per slot
even when two processes or a catch-up fire it; the services themselves are idempotent too.
Missed runs are caught up once (coalesced) when the process comes back. Only the lease holder
runs jobs; a second process waits as a standby.
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

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from hashedge.bootstrap import Runtime
from hashedge.errors import DataUnavailable
from hashedge.jobs.lease import SchedulerLease
from hashedge.services import fixings as fixing_services
from hashedge.services import instruments as instrument_services
from hashedge.services import settlement as settlement_services
from hashedge.services.chain_data import ingest_new_blocks
from indices.sources.base import BlockSource

log = logging.getLogger(__name__)

INGEST_INTERVAL_SECONDS = 60
PUBLISH_INTERVAL_SECONDS = 300
REFRESH_INSTRUMENTS_INTERVAL_SECONDS = 300  # listing cycle and marks
# Hourly: the first run after 00:00 UTC settles the day that closed (after its midnight fixings
# are published); a date whose expiries wait for fixings is picked up by the next date's run.
SETTLE_INTERVAL_SECONDS = 3600
LEASE_TTL = timedelta(seconds=30)
LEASE_RENEW_SECONDS = 10


@dataclass
class JobContext:
    """What the jobs of this process work with (set once when the process starts)."""

    runtime: Runtime
    source: BlockSource | None
    results: list = field(default_factory=list)


_context: JobContext | None = None  # the scheduler process's own context, set by start()


def slot_of(moment: datetime, interval_seconds: int) -> datetime:
    epoch_seconds = int(moment.timestamp())
    return datetime.fromtimestamp(epoch_seconds - epoch_seconds % interval_seconds, tz=timezone.utc)


def run_recorded(runtime: Runtime, job: str, scheduled_for: datetime, work: Callable[[], dict]) -> dict | None:
    """Run ``work`` once for (job, slot), recording the run; None if the slot already ran."""
    started = runtime.clock.now()
    with runtime.uow() as uow:
        run_id = uow.job_runs.claim(job, scheduled_for, started)
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
            uow.job_runs.finish(run_id, status, json.dumps(summary, default=str), runtime.clock.now())
            uow.commit()


def ingest_blocks_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    runtime = context.runtime
    if context.source is None:
        return run_recorded(runtime, "ingest_blocks", scheduled_for,
                            lambda: {"skipped": "no block source configured"})

    def work() -> dict:
        result = ingest_new_blocks(
            runtime.uow(), context.source, confirmations=runtime.settings.confirmations
        )
        return {"added_blocks": result.added_blocks, "removed_blocks": result.removed_blocks,
                "tip_height": result.tip_height}

    return run_recorded(runtime, "ingest_blocks", scheduled_for, work)


def publish_fixings_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    runtime = context.runtime

    def work() -> dict:
        result = fixing_services.publish_fixings(
            runtime.uow(), runtime.clock, confirmations=runtime.settings.confirmations
        )
        return result.as_summary()

    return run_recorded(runtime, "publish_fixings", scheduled_for, work)


def refresh_instruments_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    runtime = context.runtime

    def work() -> dict:
        try:
            listing = instrument_services.run_listing(runtime.uow(), runtime.clock)
        except DataUnavailable as exc:  # a fresh install before its first ingest: nothing to list yet
            return {"skipped": str(exc)}
        marks = instrument_services.update_marks(runtime.uow(), runtime.clock)
        return {"listed": listing.listed, "expired": listing.expired, "marked": len(marks.marked),
                "unmarked": marks.unmarked}

    return run_recorded(runtime, "refresh_instruments", scheduled_for, work)


def settle_daily_job(context: JobContext, scheduled_for: datetime) -> dict | None:
    runtime = context.runtime

    def work() -> dict:
        summaries = settlement_services.run_due_settlements(runtime.uow, runtime.clock)
        return {"settled_dates": [s.business_date.isoformat() for s in summaries if not s.already_done],
                "final_settlements": sorted({sym for s in summaries for sym in s.final_settlements}),
                "pending": summaries[-1].pending if summaries else {}}

    return run_recorded(runtime, "settle_daily", scheduled_for, work)


JOBS: dict[str, tuple[Callable[[JobContext, datetime], dict | None], int]] = {
    "ingest_blocks": (ingest_blocks_job, INGEST_INTERVAL_SECONDS),
    "publish_fixings": (publish_fixings_job, PUBLISH_INTERVAL_SECONDS),
    "refresh_instruments": (refresh_instruments_job, REFRESH_INSTRUMENTS_INTERVAL_SECONDS),
    "settle_daily": (settle_daily_job, SETTLE_INTERVAL_SECONDS),
}


def run_job(name: str) -> None:
    """Entry point APScheduler stores by reference ('hashedge.jobs.scheduler:run_job')."""
    if _context is None:
        raise RuntimeError("scheduler context not started")
    job, interval = JOBS[name]
    result = job(_context, slot_of(_context.runtime.clock.now(), interval))
    _context.results.append((name, result))


class SchedulerProcess:
    """One scheduler: persisted jobs, a leader lease, start/stop for the CLI and the demo."""

    def __init__(self, runtime: Runtime, source: BlockSource | None, *, holder: str | None = None,
                 intervals: dict[str, int] | None = None):
        self.runtime = runtime
        self.source = source
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.intervals = {name: interval for name, (_job, interval) in JOBS.items()}
        self.intervals.update(intervals or {})
        self.lease = SchedulerLease(runtime.session_factory, self.holder, LEASE_TTL)
        self._scheduler: BackgroundScheduler | None = None

    def _build(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self.runtime.engine),
                "process": MemoryJobStore(),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 24 * 3600},
            timezone=timezone.utc,
        )
        scheduler.add_job(self._renew_lease, "interval", seconds=LEASE_RENEW_SECONDS,
                          id="renew_lease", jobstore="process")
        return scheduler

    def _renew_lease(self) -> None:
        if not self.lease.try_acquire(self.runtime.clock.now()):
            log.error("scheduler lease lost to another process; pausing jobs")
            self._scheduler.pause()

    def start(self) -> bool:
        """Start running jobs if this process gets the lease; returns whether it did."""
        global _context
        if not self.lease.try_acquire(self.runtime.clock.now()):
            return False
        _context = JobContext(self.runtime, self.source)
        self._scheduler = self._build()
        self._scheduler.start()
        self._ensure_jobs()
        return True

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
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.lease.release()

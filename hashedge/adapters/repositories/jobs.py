"""Repository for the scheduler's job runs: plain records out, never ORM rows.

A run belongs to the scheduler process that claimed it (``owner``, its lease holder name). A run
left ``running`` is only believed while its owner holds a fresh lease: a leader killed mid-job,
or paused past its lease, leaves a *stale* run that the next leader claims again (every job is
idempotent), instead of skipping the slot as if it had run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashedge.adapters.orm.jobs import SCHEDULER_LEASE, JobRunRow, SchedulerLeaseRow


STATUSES = ("running", "succeeded", "failed", "abandoned")


@dataclass(frozen=True)
class JobRunRecord:
    id: int
    job: str
    scheduled_for: datetime
    status: str  # one of STATUSES
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    summary: str | None  # JSON
    owner: str | None = None  # the scheduler process (lease holder) that ran it; None: run by hand
    attempts: int = 1  # claims of the slot (failed, abandoned and stale runs are claimed again)


def _record(row: JobRunRow) -> JobRunRecord:
    return JobRunRecord(row.id, row.job, row.scheduled_for, row.status, row.started_at, row.finished_at,
                        row.duration_ms, row.summary, row.owner, row.attempts)


class JobRunRepository:
    def __init__(self, session: Session):
        self.session = session

    def _believed_running(self, owner: str | None, now: datetime) -> bool:
        """A run without an owner (started by hand) is believed until a leader abandons it; an
        owned run while its owner holds a fresh lease."""
        return owner is None or self.leads(owner, now)

    def leads(self, owner: str, now: datetime) -> bool:
        """Whether ``owner`` holds the scheduler lease, fresh at ``now``."""
        lease = self.session.get(SchedulerLeaseRow, SCHEDULER_LEASE)
        return lease is not None and lease.holder == owner and lease.expires_at >= now

    def claim(self, job: str, scheduled_for: datetime, now: datetime, owner: str | None = None) -> int | None:
        """Record that ``job`` starts for its slot, run by ``owner``; None if the slot already
        succeeded, or is running under an owner that still holds the lease (or under no owner).
        A failed, abandoned or stale run is claimed again (``attempts`` counts the claims)."""
        existing = self.session.scalar(
            select(JobRunRow).where(JobRunRow.job == job, JobRunRow.scheduled_for == scheduled_for)
        )
        if existing is None:
            row = JobRunRow(job=job, scheduled_for=scheduled_for, status="running", started_at=now, owner=owner,
                            attempts=1)
            try:
                with self.session.begin_nested():
                    self.session.add(row)
            except IntegrityError:  # another process claimed the slot first
                return None
            return row.id
        if existing.status == "succeeded" or (existing.status == "running"
                                              and self._believed_running(existing.owner, now)):
            return None
        claimed = self.session.execute(  # only if nobody re-claimed it since we read it
            update(JobRunRow).where(JobRunRow.id == existing.id, JobRunRow.attempts == existing.attempts)
            .values(status="running", owner=owner, started_at=now, finished_at=None, duration_ms=None, summary=None,
                    attempts=existing.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return existing.id if claimed.rowcount == 1 else None

    def finish(self, run_id: int, status: str, summary: str, now: datetime, owner: str | None = None) -> bool:
        """Record the outcome of ``owner``'s run; False (nothing written) if the run is no longer
        its own (abandoned and claimed again by the leader meanwhile)."""
        mine = (JobRunRow.id == run_id, JobRunRow.status == "running", JobRunRow.owner.is_not_distinct_from(owner))
        started_at = self.session.scalar(select(JobRunRow.started_at).where(*mine))
        if started_at is None:
            return False
        result = self.session.execute(
            update(JobRunRow).where(*mine)
            .values(status=status, summary=summary, finished_at=now,
                    duration_ms=int((now - started_at).total_seconds() * 1000))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    def abandon_stale(self, leader: str, now: datetime) -> list[str]:
        """Mark every run still ``running`` for another owner as abandoned (called by a process
        that has just taken the lease: those owners no longer hold it); returns their jobs.

        A run whose row another transaction keeps locked is left alone (PostgreSQL: SKIP LOCKED):
        its owner froze while recording the outcome, and that transaction may stay open as long
        as the process stays frozen; waiting for it would keep the new leader from ever leading.
        Such a run is either finished by its owner when it resumes, or claimed again as stale
        (``claim``)."""
        stale = list(self.session.scalars(select(JobRunRow).where(
            JobRunRow.status == "running", or_(JobRunRow.owner.is_(None), JobRunRow.owner != leader))
            .with_for_update(skip_locked=True)))
        for row in stale:
            reason = {"abandoned": f"{row.owner or 'an unknown process'} stopped holding the scheduler lease "
                                   f"before finishing; {leader} runs the job again"}
            self.session.execute(
                update(JobRunRow).where(JobRunRow.id == row.id, JobRunRow.status == "running")
                .values(status="abandoned", finished_at=now, summary=json.dumps(reason))
                .execution_options(synchronize_session=False)
            )
        return sorted({row.job for row in stale})

    def recent(self, limit: int = 50, offset: int = 0, *, job: str | None = None,
               status: str | None = None) -> list[JobRunRecord]:
        """The latest runs (by start), newest first, of every job or of ``job``, any status or ``status``."""
        query = select(JobRunRow).order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
        query = self._filtered(query, job, status).limit(limit).offset(offset)
        return [_record(row) for row in self.session.scalars(query)]

    def count(self, *, job: str | None = None, status: str | None = None) -> int:
        query = self._filtered(select(func.count()).select_from(JobRunRow), job, status)
        return int(self.session.scalar(query) or 0)

    @staticmethod
    def _filtered(query, job: str | None, status: str | None):
        if job:
            query = query.where(JobRunRow.job == job)
        if status:
            query = query.where(JobRunRow.status == status)
        return query

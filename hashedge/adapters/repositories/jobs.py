"""Repository for the scheduler's job runs: plain records out, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashedge.adapters.orm.jobs import JobRunRow


@dataclass(frozen=True)
class JobRunRecord:
    id: int
    job: str
    scheduled_for: datetime
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    summary: str | None


class JobRunRepository:
    def __init__(self, session: Session):
        self.session = session

    def claim(self, job: str, scheduled_for: datetime, now: datetime) -> int | None:
        """Record that ``job`` starts for its slot; None if that slot already has a successful or
        running run. A failed run is claimed again (a retry)."""
        existing = self.session.scalar(
            select(JobRunRow).where(JobRunRow.job == job, JobRunRow.scheduled_for == scheduled_for)
        )
        if existing is not None:
            if existing.status != "failed":
                return None
            existing.status, existing.started_at = "running", now
            existing.finished_at = existing.duration_ms = existing.summary = None
            self.session.flush()
            return existing.id
        row = JobRunRow(job=job, scheduled_for=scheduled_for, status="running", started_at=now)
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError:  # another process claimed the slot first
            self.session.rollback()
            return None
        return row.id

    def finish(self, run_id: int, status: str, summary: str, now: datetime) -> None:
        row = self.session.get(JobRunRow, run_id)
        row.status, row.summary, row.finished_at = status, summary, now
        row.duration_ms = int((now - row.started_at).total_seconds() * 1000)

    def recent(self, limit: int = 50, offset: int = 0, *, job: str | None = None,
               status: str | None = None) -> list[JobRunRecord]:
        query = select(JobRunRow).order_by(JobRunRow.started_at.desc(), JobRunRow.id.desc())
        query = self._filtered(query, job, status).limit(limit).offset(offset)
        return [JobRunRecord(r.id, r.job, r.scheduled_for, r.status, r.started_at, r.finished_at, r.duration_ms,
                             r.summary) for r in self.session.scalars(query)]

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

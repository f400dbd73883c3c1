"""SQLAlchemy 2 table mappings for the scheduler: job runs and the leader lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime


class JobRunRow(Base):
    """One run of a scheduled job; (job, scheduled_for) is unique so a job runs once per slot."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | abandoned
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)  # the lease holder that ran it
    attempts: Mapped[int] = mapped_column(Integer, server_default="1")

    __table_args__ = (UniqueConstraint("job", "scheduled_for", name="uq_job_runs_slot"),)


SCHEDULER_LEASE = "scheduler"  # the name of the scheduler's lease row


class SchedulerLeaseRow(Base):
    """Leader election for the scheduler process: one holder while its lease is fresh."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

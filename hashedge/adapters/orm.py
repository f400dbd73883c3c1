"""SQLAlchemy 2 table mappings for the index service.

The schema itself is owned by Alembic (``hashedge/adapters/migrations``); these classes describe
it for queries. Blocks keep plain integers (Unix seconds, satoshis, compact bits) so a million rows
load straight into a pandas frame.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BlockRow(Base):
    __tablename__ = "blocks"

    height: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    time: Mapped[int] = mapped_column(BigInteger)  # header timestamp, Unix seconds
    bits: Mapped[int] = mapped_column(BigInteger)
    subsidy_sats: Mapped[int] = mapped_column(BigInteger)
    total_fees_sats: Mapped[int] = mapped_column(BigInteger)
    tx_count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("subsidy_sats >= 0 AND total_fees_sats >= 0", name="amounts_non_negative"),
    )


class EpochRow(Base):
    """Difficulty-epoch history imported on its own (e.g. the shared CSV): enough for DIFF/BME."""

    __tablename__ = "epoch_history"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_height: Mapped[int] = mapped_column(BigInteger)
    end_height: Mapped[int] = mapped_column(BigInteger)
    bits: Mapped[int] = mapped_column(BigInteger)


class FixingRow(Base):
    """A published fixing. Rows are never updated or deleted (database triggers enforce it);
    a correction is a new row with a higher version and a reason."""

    __tablename__ = "fixings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    index_name: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    value: Mapped[str] = mapped_column(String(64))  # canonical Decimal text, exact
    unit: Mapped[str] = mapped_column(String(32))
    methodology_version: Mapped[str] = mapped_column(String(16))
    start_height: Mapped[int] = mapped_column(BigInteger)
    end_height: Mapped[int] = mapped_column(BigInteger)
    confirmations: Mapped[int] = mapped_column(Integer)
    input_digest: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("index_name", "kind", "as_of", "version", name="uq_fixings_identity"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("version = 1 OR reason IS NOT NULL", name="correction_has_reason"),
    )


class JobRunRow(Base):
    """One run of a scheduled job; (job, scheduled_for) is unique so a job runs once per slot."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (UniqueConstraint("job", "scheduled_for", name="uq_job_runs_slot"),)


class SchedulerLeaseRow(Base):
    """Leader election for the scheduler process: one holder while its lease is fresh."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""SQLAlchemy 2 table mappings for the index service: blocks, epochs and fixings.

Blocks keep plain integers (Unix seconds, satoshis, compact bits) so a million rows load straight
into a pandas frame.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime


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

"""SQLAlchemy 2 table mapping for liquidation records. The schema is owned by Alembic
(``versions/0007_liquidation.py``).

A record holds the engine's inputs and outcome as canonical JSON (``domain.liquidation.record``),
so ``hashedge liquidations replay`` can recompute it, and a few figures as columns for queries.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime


class LiquidationRow(Base):
    __tablename__ = "liquidations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # L<account id>-<n>
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    sequence: Mapped[int] = mapped_column(Integer)  # the account's n-th liquidation
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    business_date: Mapped[date] = mapped_column(Date)
    notional_closed_sats: Mapped[int] = mapped_column(BigInteger)
    penalty_sats: Mapped[int] = mapped_column(BigInteger)
    shortfall_sats: Mapped[int] = mapped_column(BigInteger)
    insurance_fund_sats: Mapped[int] = mapped_column(BigInteger)
    adl_contracts: Mapped[int] = mapped_column(BigInteger)
    uncovered_sats: Mapped[int] = mapped_column(BigInteger)
    inputs: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    parameters_version_id: Mapped[int | None] = mapped_column(ForeignKey("parameter_versions.id"), nullable=True)

    __table_args__ = (
        UniqueConstraint("account_id", "sequence", name="uq_liquidations_account_id"),
        Index("ix_liquidations_business_date", "business_date"),
    )


class AdlRankRow(Base):
    """Where each open position stood in its deleveraging queue at the last liquidation sweep
    (``services.adl_ranks``): what ``GET /api/v1/positions`` shows, without a sweep per request."""

    __tablename__ = "adl_ranks"

    instrument: Mapped[str] = mapped_column(String(32), ForeignKey("instruments.symbol"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    side: Mapped[str] = mapped_column(String(5))  # long | short
    rank: Mapped[int] = mapped_column(Integer)  # 1 = deleveraged first
    queue_length: Mapped[int] = mapped_column(Integer)
    quintile: Mapped[int] = mapped_column(Integer)  # 5 = the first fifth of the queue
    ranked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_adl_ranks_account_id", "account_id"),)

"""SQLAlchemy 2 table mappings for margin standing: account events and each account's last seen
status. The schema is owned by Alembic (``versions/0007_liquidation.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime


class AccountEventRow(Base):
    """Something that happened to an account's margin standing (``domain.account_events``)."""

    __tablename__ = "account_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    equity_sats: Mapped[int] = mapped_column(BigInteger)
    initial_margin_sats: Mapped[int] = mapped_column(BigInteger)
    maintenance_margin_sats: Mapped[int] = mapped_column(BigInteger)
    liquidation_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    detail: Mapped[str] = mapped_column(Text)  # JSON

    __table_args__ = (Index("ix_account_events_account_id_id", "account_id", "id"),)


class AccountStatusRow(Base):
    """The margin status the sweep last saw for an account; healthy accounts have no row."""

    __tablename__ = "account_risk_status"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("status IN ('margin_call', 'liquidatable')", name="status"),)

"""SQLAlchemy 2 table mappings for default protection. The schema is owned by Alembic
(``versions/0012_protection.py``).

- ``protection_contracts``: one row per contract (``domain.protection.ProtectionContract``) with
  what the nightly run keeps up to date: the collateral posted in the ``protection_escrow`` ledger
  account (the escrow's balance is the sum over contracts), the premium paid and through when, the
  last mark-to-market, and the liquidation record of its credit event;
- ``protection_events``: the contract's history, one row per booking, night's premium, collateral
  move, credit event or expiry, each naming its journal entry; unique per (contract, kind, date),
  which is what makes the nightly run idempotent by date;
- ``protection_rfqs`` / ``protection_rfq_answers``: requests for quote and the sellers' answers.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime

ID_LENGTH = 40
DECIMAL_LENGTH = 64


class ProtectionContractRow(Base):
    __tablename__ = "protection_contracts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    buyer_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    seller_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True, index=True)
    reference_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    reference_instrument_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    notional_sats: Mapped[int] = mapped_column(BigInteger)
    premium_bps: Mapped[str] = mapped_column(String(DECIMAL_LENGTH))
    upfront_sats: Mapped[int] = mapped_column(BigInteger)
    trade_date: Mapped[date] = mapped_column(Date)
    maturity_date: Mapped[date] = mapped_column(Date)
    settlement: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    collateral_sats: Mapped[int] = mapped_column(BigInteger)
    premium_paid_sats: Mapped[int] = mapped_column(BigInteger)
    premium_paid_through: Mapped[date | None] = mapped_column(Date, nullable=True)
    mark_sats: Mapped[int] = mapped_column(BigInteger)
    marked_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    credit_event_liquidation_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    booked_via: Mapped[str] = mapped_column(String(8))
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint("settlement IN ('novation', 'cash')", name="settlement"),
        CheckConstraint("status IN ('active', 'triggered', 'matured')", name="status"),
        CheckConstraint("notional_sats > 0 AND collateral_sats >= 0", name="amounts"),
    )


class ProtectionEventRow(Base):
    __tablename__ = "protection_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[str] = mapped_column(ForeignKey("protection_contracts.id"))
    kind: Mapped[str] = mapped_column(String(24))
    business_date: Mapped[date] = mapped_column(Date)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount_sats: Mapped[int] = mapped_column(BigInteger)
    entry_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("contract_id", "kind", "business_date", name="uq_protection_events_contract_id"),
        Index("ix_protection_events_business_date", "business_date"),
    )


class ProtectionRfqRow(Base):
    __tablename__ = "protection_rfqs"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    buyer_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    reference_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    reference_instrument_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    notional_sats: Mapped[int] = mapped_column(BigInteger)
    tenor: Mapped[str] = mapped_column(String(4))
    settlement: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    contract_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)

    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'cancelled')", name="status"),
    )


class ProtectionRfqAnswerRow(Base):
    __tablename__ = "protection_rfq_answers"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    rfq_id: Mapped[str] = mapped_column(ForeignKey("protection_rfqs.id"), index=True)
    seller_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    premium_bps: Mapped[str] = mapped_column(String(DECIMAL_LENGTH))
    upfront_sats: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)  # domain.protection.rfq
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

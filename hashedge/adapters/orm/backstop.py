"""SQLAlchemy 2 table mappings of backstop liquidity (BACKSTOP.md). The schema is owned by Alembic
(``versions/0010_backstop.py``).

- ``backstop_pool``: one row naming the pool's system account (its collateral is the pool's
  capital, its positions the pool's book);
- ``pool_share_events``: the append-only record of share movements (mint, burn, withdrawal
  requested), ids monotonic, so an LP's shares at any past instant are a sum (governance votes);
- ``pool_withdrawals``: each requested withdrawal, queued until it executes;
- ``pool_nav``: the pool's NAV recorded each business date by the nightly settlement;
- ``backstop_offers``: standing offers to take over liquidated positions.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime


class BackstopPoolRow(Base):
    __tablename__ = "backstop_pool"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PoolShareEventRow(Base):
    __tablename__ = "pool_share_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    kind: Mapped[str] = mapped_column(String(24))  # mint | burn | withdrawal_requested
    shares: Mapped[int] = mapped_column(BigInteger)  # signed: +mint, -burn; the queued shares for a request
    amount_sats: Mapped[int] = mapped_column(BigInteger)  # paid in (mint) or out (burn); 0 for a request
    nav_sats: Mapped[int] = mapped_column(BigInteger)  # the pool's NAV before the movement
    shares_outstanding: Mapped[int] = mapped_column(BigInteger)  # before the movement
    withdrawal_id: Mapped[int | None] = mapped_column(ForeignKey("pool_withdrawals.id"), nullable=True)
    request_key: Mapped[str] = mapped_column(String(200), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_pool_share_events_account_id_id", "account_id", "id"),)


class PoolWithdrawalRow(Base):
    __tablename__ = "pool_withdrawals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    shares: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    executes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # queued | executed
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    amount_sats: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (UniqueConstraint("account_id", "idempotency_key", name="uq_pool_withdrawals_account_id"),
                      Index("ix_pool_withdrawals_status_executes_at", "status", "executes_at"))


class PoolNavRow(Base):
    __tablename__ = "pool_nav"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    nav_sats: Mapped[int] = mapped_column(BigInteger)
    shares_outstanding: Mapped[int] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BackstopOfferRow(Base):
    __tablename__ = "backstop_offers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # time priority
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    instrument: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))  # the side the backstopper takes: buy takes over longs
    max_quantity: Mapped[int] = mapped_column(BigInteger)
    filled_quantity: Mapped[int] = mapped_column(BigInteger)
    max_discount_bps: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # active | filled | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_backstop_offers_instrument_status", "instrument", "status"),)

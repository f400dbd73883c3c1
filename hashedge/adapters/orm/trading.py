"""SQLAlchemy 2 table mappings for trading: instruments, orders, trades, positions, marks and
settlement runs. The schema is owned by Alembic (``versions/0003_trading.py``,
``versions/0004_order_amendments.py``).

Prices and other exact decimals are fixed-point text (``format(value, "f")``); money is sats.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime

PRICE_LENGTH = 64


class InstrumentRow(Base):
    """A listed contract: the ``ContractSpec`` fields and its life cycle (listed, expired, settled)."""

    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    product: Mapped[str] = mapped_column(String(32))
    underlying: Mapped[str] = mapped_column(String(32))
    multiplier: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    multiplier_unit: Mapped[str] = mapped_column(String(32))
    quote_unit: Mapped[str] = mapped_column(String(32))
    tick_size: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    lot_size: Mapped[int] = mapped_column(Integer)
    last_trading_time: Mapped[datetime] = mapped_column(UTCDateTime)
    settlement_rule: Mapped[str] = mapped_column(String(32))
    floor: Mapped[str | None] = mapped_column(String(PRICE_LENGTH), nullable=True)
    cap: Mapped[str | None] = mapped_column(String(PRICE_LENGTH), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    final_price: Mapped[str | None] = mapped_column(String(PRICE_LENGTH), nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class InstrumentSequenceRow(Base):
    """The last order sequence of an instrument; the row matching locks."""

    __tablename__ = "instrument_sequences"

    instrument: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(BigInteger)


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    instrument: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    side: Mapped[str] = mapped_column(String(4))
    style: Mapped[str] = mapped_column(String(16))  # the API's type: limit, market, ioc, fok, post_only
    order_type: Mapped[str] = mapped_column(String(8))
    time_in_force: Mapped[str] = mapped_column(String(4))
    post_only: Mapped[bool] = mapped_column(Boolean)
    price: Mapped[str | None] = mapped_column(String(PRICE_LENGTH), nullable=True)
    price_ticks: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # price / tick size
    quantity: Mapped[int] = mapped_column(BigInteger)
    filled_quantity: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderAmendmentRow(Base):
    """One cancel/replace of a resting order: what it changed, the sequence it took, the client's key."""

    __tablename__ = "order_amendments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    previous_quantity: Mapped[int] = mapped_column(BigInteger)
    previous_price: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TradeRow(Base):
    """A fill from the book (maker/taker, ``aggressor`` set), an OTC block trade (``kind='block'``), a
    liquidation order's fill against the book (``liquidation``) or an auto-deleveraging close (``adl``)."""

    __tablename__ = "trades"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    instrument: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    price: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    quantity: Mapped[int] = mapped_column(BigInteger)
    buyer_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    seller_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    buy_order_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sell_order_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    aggressor: Mapped[str | None] = mapped_column(String(4), nullable=True)
    buyer_fee_sats: Mapped[int] = mapped_column(BigInteger)
    seller_fee_sats: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PositionRow(Base):
    __tablename__ = "positions"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    open_value: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    realized_pnl_sats: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MarkRow(Base):
    __tablename__ = "marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    price: Mapped[str] = mapped_column(String(PRICE_LENGTH))
    source: Mapped[str] = mapped_column(String(16))
    model_price: Mapped[str | None] = mapped_column(String(PRICE_LENGTH), nullable=True)


class SettlementRunRow(Base):
    """One settlement run, unique per (business date, kind); ``summary`` is JSON."""

    __tablename__ = "settlement_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    business_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

"""What the trading repositories hand out, and the conversions to and from rows: records of stored
instruments, orders, amendments, trades, marks and settlement runs (domain values inside, never ORM
rows). Decimals are stored as fixed-point text and read back exactly."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import text

from hashedge.adapters.orm.trading import OrderRow, TradeRow
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec, spec_for
from hashedge.domain.orders import Order
from hashedge.domain.positions import Position

RESTING_STATUSES = ("open", "partially_filled")


# Spelled as the partial index ``ix_orders_book`` spells it (migration 0009), literals and all:
# SQLite uses a partial index only for a query that repeats its condition.
RESTING_CONDITION = text("status IN ('open', 'partially_filled')")


BULK_BATCH_ROWS = 20_000  # rows per bulk statement (bounded parameter arrays)


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


POSITION_KEY = ("account_id", "instrument")


def position_values(position: Position, at: datetime) -> dict:
    return {"account_id": int(position.account_id), "instrument": position.instrument_id,
            "quantity": position.quantity, "open_value": decimal_text(position.open_value),
            "realized_pnl_sats": position.realized_pnl_sats, "updated_at": at}


def decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def ticks_of(price: Decimal | None, tick_size: Decimal) -> int | None:
    return None if price is None else int(price / tick_size)


@dataclass(frozen=True)
class InstrumentRecord:
    spec: ContractSpec
    status: str  # listed | expired | settled
    listed_at: datetime
    final_price: Decimal | None
    settled_at: datetime | None

    @property
    def symbol(self) -> str:
        return self.spec.symbol


@dataclass(frozen=True)
class StoredOrder:
    order: Order
    style: str
    idempotency_key: str | None
    updated_at: datetime


@dataclass(frozen=True)
class StoredAmendment:
    """A cancel/replace of a resting order: its terms before and after, and the sequence it took."""

    order_id: str
    account_id: int
    sequence: int
    previous_quantity: int
    previous_price: Decimal
    quantity: int
    price: Decimal
    idempotency_key: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class TradeRecord:
    fill: Fill
    kind: str  # book | block
    buyer_fee_sats: int
    seller_fee_sats: int


@dataclass(frozen=True)
class MarkRecord:
    instrument: str
    as_of: datetime
    price: Decimal
    source: str
    model_price: Decimal | None


@dataclass(frozen=True)
class SettlementRunRecord:
    business_date: date
    kind: str
    status: str
    summary: dict
    started_at: datetime
    finished_at: datetime | None


def instrument_record(row) -> InstrumentRecord:
    """A record from an instrument row (ORM or plain)."""
    spec = contract_spec(row.symbol, row.last_trading_time, row.floor, row.cap)
    return InstrumentRecord(spec, row.status, row.listed_at, decimal_or_none(row.final_price), row.settled_at)


@functools.lru_cache(maxsize=4096)
def contract_spec(symbol: str, last_trading_time: datetime, floor: str | None, cap: str | None) -> ContractSpec:
    """``spec_for`` is a pure function of the stored fields and specs are frozen: built once per
    process, not on every request that lists instruments."""
    return spec_for(symbol, last_trading_time=last_trading_time, floor=decimal_or_none(floor), cap=decimal_or_none(cap))


def order_of(row: OrderRow) -> Order:
    return Order(
        order_id=row.id, account_id=str(row.account_id), instrument_id=row.instrument, side=row.side,
        quantity=row.quantity, sequence=row.sequence, created_at=row.created_at, order_type=row.order_type,
        price=decimal_or_none(row.price), time_in_force=row.time_in_force, post_only=row.post_only,
        status=row.status, filled_quantity=row.filled_quantity, cancel_reason=row.cancel_reason,
    )


def stored_order(row: OrderRow) -> StoredOrder:
    return StoredOrder(order_of(row), row.style, row.idempotency_key, row.updated_at)


def trade_record(row: TradeRow) -> TradeRecord:
    fill = Fill(
        fill_id=row.id, instrument_id=row.instrument, price=Decimal(row.price), quantity=row.quantity,
        occurred_at=row.occurred_at, buyer_account_id=str(row.buyer_account_id),
        seller_account_id=str(row.seller_account_id), buy_order_id=row.buy_order_id,
        sell_order_id=row.sell_order_id, aggressor=row.aggressor,
    )
    return TradeRecord(fill, row.kind, row.buyer_fee_sats, row.seller_fee_sats)


@functools.lru_cache(maxsize=64)
def order_values(order: Order, style: str, idempotency_key: str | None, at: datetime, tick_size: Decimal) -> dict:
    return {
        "price_ticks": ticks_of(order.price, tick_size),
        "id": order.order_id, "account_id": int(order.account_id), "instrument": order.instrument_id,
        "side": order.side.value, "style": style, "order_type": order.order_type.value,
        "time_in_force": order.time_in_force.value, "post_only": order.post_only,
        "price": decimal_text(order.price), "quantity": order.quantity, "filled_quantity": order.filled_quantity,
        "status": order.status.value, "cancel_reason": order.cancel_reason.value if order.cancel_reason else None,
        "sequence": order.sequence, "idempotency_key": idempotency_key, "created_at": order.created_at,
        "updated_at": at,
    }

"""Repositories for trading: domain values in and out (``ContractSpec``, ``Order``, ``Fill``,
``Position``), never ORM rows. Decimals are stored as fixed-point text and read back exactly."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

import pandas as pd
from sqlalchemy import (
    BigInteger, String, and_, any_, bindparam, case, column, exists, func, insert, lateral, literal_column, not_, or_,
    select, text, true, union_all, update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from hashedge.adapters.append_order import MARKS_LOCK, appending_in_id_order
from hashedge.adapters.bulk_rows import insert_rows, update_rows
from hashedge.adapters.write_pipeline import pipeline_of
from hashedge.adapters.orm.trading import (
    InstrumentRow,
    InstrumentSequenceRow,
    MarkRow,
    OrderAmendmentRow,
    OrderRow,
    PositionRow,
    SettlementRunRow,
    TradeRow,
)
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec, spec_for
from hashedge.domain.orders import Order
from hashedge.domain.positions import Position

RESTING_STATUSES = ("open", "partially_filled")
# Spelled as the partial index ``ix_orders_book`` spells it (migration 0009), literals and all:
# SQLite uses a partial index only for a query that repeats its condition.
_RESTING_CONDITION = text("status IN ('open', 'partially_filled')")
_BULK_BATCH = 20_000  # rows per bulk statement (bounded parameter arrays)
# PostgreSQL, in a write pipeline: the instruments' rows locked in symbol order
_LOCK_SEQUENCES = text("SELECT instrument, last_sequence FROM instrument_sequences "
                       "WHERE instrument = ANY(CAST(:symbols AS text[])) ORDER BY instrument FOR UPDATE")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


_POSITION_KEY = ("account_id", "instrument")


def _position_values(position: Position, at: datetime) -> dict:
    return {"account_id": int(position.account_id), "instrument": position.instrument_id,
            "quantity": position.quantity, "open_value": _text(position.open_value),
            "realized_pnl_sats": position.realized_pnl_sats, "updated_at": at}


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _ticks(price: Decimal | None, tick_size: Decimal) -> int | None:
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


def _instrument(row) -> InstrumentRecord:
    """A record from an instrument row (ORM or plain)."""
    spec = _spec(row.symbol, row.last_trading_time, row.floor, row.cap)
    return InstrumentRecord(spec, row.status, row.listed_at, _decimal(row.final_price), row.settled_at)


@functools.lru_cache(maxsize=4096)
def _spec(symbol: str, last_trading_time: datetime, floor: str | None, cap: str | None) -> ContractSpec:
    """``spec_for`` is a pure function of the stored fields and specs are frozen: built once per
    process, not on every request that lists instruments."""
    return spec_for(symbol, last_trading_time=last_trading_time, floor=_decimal(floor), cap=_decimal(cap))


def _order(row: OrderRow) -> Order:
    return Order(
        order_id=row.id, account_id=str(row.account_id), instrument_id=row.instrument, side=row.side,
        quantity=row.quantity, sequence=row.sequence, created_at=row.created_at, order_type=row.order_type,
        price=_decimal(row.price), time_in_force=row.time_in_force, post_only=row.post_only,
        status=row.status, filled_quantity=row.filled_quantity, cancel_reason=row.cancel_reason,
    )


def _stored(row: OrderRow) -> StoredOrder:
    return StoredOrder(_order(row), row.style, row.idempotency_key, row.updated_at)


def _trade(row: TradeRow) -> TradeRecord:
    fill = Fill(
        fill_id=row.id, instrument_id=row.instrument, price=Decimal(row.price), quantity=row.quantity,
        occurred_at=row.occurred_at, buyer_account_id=str(row.buyer_account_id),
        seller_account_id=str(row.seller_account_id), buy_order_id=row.buy_order_id,
        sell_order_id=row.sell_order_id, aggressor=row.aggressor,
    )
    return TradeRecord(fill, row.kind, row.buyer_fee_sats, row.seller_fee_sats)


@functools.lru_cache(maxsize=64)
def _order_values(order: Order, style: str, idempotency_key: str | None, at: datetime, tick_size: Decimal) -> dict:
    return {
        "price_ticks": _ticks(order.price, tick_size),
        "id": order.order_id, "account_id": int(order.account_id), "instrument": order.instrument_id,
        "side": order.side.value, "style": style, "order_type": order.order_type.value,
        "time_in_force": order.time_in_force.value, "post_only": order.post_only,
        "price": _text(order.price), "quantity": order.quantity, "filled_quantity": order.filled_quantity,
        "status": order.status.value, "cancel_reason": order.cancel_reason.value if order.cancel_reason else None,
        "sequence": order.sequence, "idempotency_key": idempotency_key, "created_at": order.created_at,
        "updated_at": at,
    }


@functools.lru_cache(maxsize=128)
def _totals_statements(instruments: int, accounts: bool = False):
    """``OrderRepository.resting_totals_of``'s two statements for that many instrument slots,
    built once per number of slots (and compiled once by SQLAlchemy's cache): bound parameters
    per slot, so only the values change from order to order. Callers round the number of
    instruments up to a power of two (``_bound_values`` fills the spare slots with a symbol no
    order has), so a venue of a few hundred contracts compiles a handful of shapes, not one per
    count. ``accounts``: for a list of accounts (``resting_totals_of_accounts``), the sums per
    account too. SQLite's; PostgreSQL takes ``_totals_statements_any``."""
    table = OrderRow.__table__
    c = table.c
    remaining = c.quantity - c.filled_quantity
    big = functools.partial(bindparam, type_=BigInteger)
    in_sums, fees = [], []
    for i in range(instruments):
        in_sums.append((c.instrument == bindparam(f"s_{i}")) & (c.price_ticks <= big(f"hi_{i}"))
                       & (((c.side == "buy") & (c.price_ticks <= big(f"hb_{i}")))
                          | ((c.side == "sell") & (c.price_ticks >= big(f"ls_{i}")))))
        fees.append((c.instrument == bindparam(f"s_{i}"),
                     (c.price_ticks * big(f"n_{i}") + big(f"dm_{i}")) // big(f"d_{i}")))
    whose = c.account_id.in_(bindparam("account_ids", expanding=True)) if accounts else (
        c.account_id == bindparam("account_id"))
    base = [whose, _RESTING_CONDITION, c.id != bindparam("except_order")]
    if not instruments:
        return None, select(table).where(*base)
    summed = or_(*in_sums)
    keys = (c.account_id, c.instrument, c.side) if accounts else (c.instrument, c.side)
    return (select(*keys, func.sum(remaining), func.sum(remaining * case(*fees))).where(*base, summed)
            .group_by(*keys), select(table).where(*base, not_(summed)))


@functools.lru_cache(maxsize=2)
def _totals_statements_any(accounts: bool = False):
    """PostgreSQL: ``_totals_statements`` in one shape whatever the number of instruments, their
    bounds as arrays joined to the orders. The slots' statements grew with the instruments (about
    12 KB and 290 parameters for 24 contracts), past what psycopg keeps converted (4 KB, 50
    parameters): it parsed them again on every execution, a fifth of an account read's profile
    (BENCHMARKS.md, part Q). ``_bound_arrays`` gives the values."""
    table = OrderRow.__table__
    c = table.c
    columns = [column(name, String if name == "s" else BigInteger) for name in _BOUND_NAMES]
    bound = func.unnest(*[bindparam(f"b_{col.name}", type_=ARRAY(col.type)) for col in columns]
                        ).table_valued(*columns).render_derived(name="b")
    summable = and_(c.instrument == bound.c.s, c.price_ticks <= bound.c.hi,
                    or_(and_(c.side == "buy", c.price_ticks <= bound.c.hb),
                        and_(c.side == "sell", c.price_ticks >= bound.c.ls)))
    remaining = c.quantity - c.filled_quantity
    whose = c.account_id.in_(bindparam("account_ids", expanding=True)) if accounts else (
        c.account_id == bindparam("account_id"))
    base = [whose, _RESTING_CONDITION, c.id != bindparam("except_order")]
    keys = (c.account_id, c.instrument, c.side) if accounts else (c.instrument, c.side)
    fee = (c.price_ticks * bound.c.n + bound.c.dm) // bound.c.d
    return (select(*keys, func.sum(remaining), func.sum(remaining * fee)).select_from(table.join(bound, summable))
            .where(*base).group_by(*keys),
            select(table).where(*base, ~exists().where(summable)))


_BOUND_NAMES = ("s", "hb", "ls", "hi", "n", "d", "dm")  # symbol, highest buy, lowest sell, highest, fee


def _bound_arrays(bounds: dict[str, tuple[int, int, int, Fraction]]) -> dict:
    """The values of ``_totals_statements_any``: one array per bound, by instrument."""
    rows = [(symbol, highest_buy, lowest_sell, highest, fee.numerator, fee.denominator, fee.denominator - 1)
            for symbol, (highest_buy, lowest_sell, highest, fee) in sorted(bounds.items())]
    return {f"b_{name}": [row[i] for row in rows] for i, name in enumerate(_BOUND_NAMES)}


_NO_SYMBOL = ""  # a spare slot's instrument: no order has it (symbols are never empty)


def _slots(count: int) -> int:
    """How many slots a statement built per count gets for ``count`` items: rounded up to a power
    of two (0 for none), the rest filled with ``_NO_SYMBOL``, so few shapes are compiled."""
    return 1 << (count - 1).bit_length() if count else 0


def _bound_values(bounds: dict[str, tuple[int, int, int, Fraction]]) -> dict:
    """The bound values of ``_totals_statements(_slots(len(bounds)))``: each instrument's
    bounds, then spare slots that match no order."""
    values = {}
    spare = [(_NO_SYMBOL, (0, 0, 0, Fraction(0)))] * (_slots(len(bounds)) - len(bounds))
    for i, (symbol, (highest_buy, lowest_sell, highest, fee)) in enumerate([*sorted(bounds.items()), *spare]):
        # "name_slot": without the underscore, "d1" of slot 0 and "d" of slot 10 were one parameter
        values |= {f"s_{i}": symbol, f"hb_{i}": highest_buy, f"ls_{i}": lowest_sell, f"hi_{i}": highest,
                   f"n_{i}": fee.numerator, f"d_{i}": fee.denominator, f"dm_{i}": fee.denominator - 1}
    return values


_FIRST_PREFIX_ROWS = 16  # a prefix's first read; most batches need no second
_ANY_TICKS = 2**62  # "any price" as a bound no price reaches


def _side_in_priority(instrument, side: str, bound):
    """The resting orders on ``side`` of ``instrument`` that orders on the other side priced at
    ``bound`` ticks (None: any price) can meet, in price-time priority (values or bound
    parameters)."""
    c = OrderRow.__table__.c
    buying = side == "sell"  # the orders read are met by buys
    query = select(OrderRow.__table__).where(c.instrument == instrument, c.side == side, _RESTING_CONDITION)
    if bound is not None:
        query = query.where((c.price_ticks <= bound) if buying else (c.price_ticks >= bound))
    return query.order_by(c.price_ticks.asc() if buying else c.price_ticks.desc(), c.sequence.asc())


@functools.lru_cache(maxsize=64)
def _first_rows_statement(sells: int, buys: int):
    """The first rows in priority of ``sells`` sell sides and ``buys`` buy sides, each a bound
    instrument and price bound, in one UNION ALL. Its shape depends only on the two counts (the
    callers round them up to powers of two), so it is built and compiled a few times per process
    instead of once per batch."""
    c = OrderRow.__table__.c
    parts = []
    for side, count in (("sell", sells), ("buy", buys)):
        for k in range(count):
            query = _side_in_priority(bindparam(f"{side}_i{k}", type_=c.instrument.type), side,
                                      bindparam(f"{side}_t{k}", type_=c.price_ticks.type))
            parts.append(query.limit(_FIRST_PREFIX_ROWS).subquery().select())
    return union_all(*parts) if len(parts) > 1 else parts[0]


@functools.lru_cache(maxsize=1)
def _first_rows_lateral():
    """PostgreSQL: ``_first_rows_statement`` in one shape whatever the counts, each side's wants
    as two arrays (instruments, price bounds) joined laterally to their first rows. PostgreSQL
    planned the UNION ALL anew for every batch (its shapes are too many to be prepared): 10-23 ms
    of planning a batch at 200 orders/s (BENCHMARKS.md, part J); this is prepared once."""
    c = OrderRow.__table__.c
    parts = []
    for side in ("sell", "buy"):
        wants = func.unnest(bindparam(f"{side}_instruments", type_=ARRAY(c.instrument.type)),
                            bindparam(f"{side}_bounds", type_=ARRAY(c.price_ticks.type))
                            ).table_valued("instrument", "bound").render_derived(name=f"wants_{side}")
        rows = lateral(_side_in_priority(wants.c.instrument, side, wants.c.bound).limit(_FIRST_PREFIX_ROWS),
                       name=f"first_{side}")
        parts.append(select(rows).select_from(wants).join(rows, true()))
    return union_all(*parts)


def _bound_ticks(want: _PrefixWant) -> int:
    """The price bound of a want's first rows; for any price, a bound no price reaches."""
    if want.crossed_by_ticks is not None:
        return want.crossed_by_ticks
    return _ANY_TICKS if want.side == "sell" else -_ANY_TICKS


@functools.lru_cache(maxsize=1)
def _used_keys_any():
    """PostgreSQL: ``used_idempotency_keys``'s statement in one shape whatever the number of
    keys (an array), so that a write pipeline sends it as built once."""
    orders, amendments = OrderRow.__table__.c, OrderAmendmentRow.__table__.c
    keys = bindparam("keys", type_=ARRAY(orders.idempotency_key.type))
    return union_all(
        select(literal_column("0").label("amendment"), orders.idempotency_key).where(
            orders.idempotency_key == func.any(keys)),
        select(literal_column("1"), amendments.idempotency_key).where(amendments.idempotency_key == func.any(keys)))


def _used_keys(rows) -> tuple[set[str], set[str]]:
    """(keys orders were placed with, keys amendments used) from ``used_idempotency_keys``' rows."""
    used: tuple[set[str], set[str]] = (set(), set())
    for amendment, key in rows:
        used[int(amendment)].add(key)
    return used


@dataclass(frozen=True)
class _PrefixWant:
    instrument: str
    side: str  # the side read (met by orders on the other one)
    crossed_by_ticks: int | None
    wanted_quantity: int

    def priority_key(self, row) -> tuple[int, int]:
        return (row.price_ticks if self.side == "sell" else -row.price_ticks, row.sequence)


class InstrumentRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, spec: ContractSpec, listed_at: datetime) -> None:
        self.session.add(InstrumentRow(
            symbol=spec.symbol, product=spec.product.value, underlying=spec.underlying,
            multiplier=_text(spec.multiplier), multiplier_unit=spec.multiplier_unit, quote_unit=spec.quote_unit,
            tick_size=_text(spec.tick_size), lot_size=spec.lot_size, last_trading_time=spec.last_trading_time,
            settlement_rule=spec.settlement_rule.value, floor=_text(spec.floor), cap=_text(spec.cap),
            status="listed", listed_at=listed_at,
        ))
        self.session.add(InstrumentSequenceRow(instrument=spec.symbol, last_sequence=0))
        self.session.flush()

    def get(self, symbol: str) -> InstrumentRecord | None:
        table = InstrumentRow.__table__  # a plain row: read on every order
        row = self.session.execute(select(table).where(table.c.symbol == symbol)).first()
        return _instrument(row) if row else None

    def get_many(self, symbols) -> dict[str, InstrumentRecord]:
        """``get`` for several symbols in one statement: those that exist, by symbol."""
        wanted = sorted(set(symbols))
        if not wanted:
            return {}
        table = InstrumentRow.__table__
        return {row.symbol: _instrument(row) for row in self.session.execute(
            select(table).where(table.c.symbol.in_(wanted)))}

    def all(self, statuses: tuple[str, ...] | None = None) -> list[InstrumentRecord]:
        table = InstrumentRow.__table__  # plain rows: listed on every GET /instruments
        query = select(table).order_by(table.c.last_trading_time, table.c.symbol)
        if statuses:
            query = query.where(table.c.status.in_(statuses))
        return [_instrument(row) for row in self.session.execute(query)]

    def specs(self, symbols) -> dict[str, ContractSpec]:
        """The specs of the instruments among ``symbols`` that exist, in one statement."""
        wanted = sorted(set(symbols))
        if not wanted:
            return {}
        table = InstrumentRow.__table__
        rows = self.session.execute(select(table.c.symbol, table.c.last_trading_time, table.c.floor, table.c.cap)
                                    .where(table.c.symbol.in_(wanted)))
        return {row.symbol: _spec(row.symbol, row.last_trading_time, row.floor, row.cap) for row in rows}

    def symbols(self) -> set[str]:
        return set(self.session.scalars(select(InstrumentRow.symbol)).all())

    def first_listed_at(self) -> datetime | None:
        """When the platform listed its first contract (settled ones included); None before."""
        return self.session.scalar(select(func.min(InstrumentRow.listed_at)))

    def set_status(self, symbol: str, status: str, *, final_price: Decimal | None = None,
                   settled_at: datetime | None = None) -> None:
        values = {"status": status}
        if final_price is not None:
            values |= {"final_price": _text(final_price), "settled_at": settled_at}
        self.session.execute(update(InstrumentRow).where(InstrumentRow.symbol == symbol).values(**values))

    def lock_sequence(self, symbol: str) -> int | None:
        """The instrument's last order sequence, its row locked until the transaction ends."""
        return self.session.scalar(
            select(InstrumentSequenceRow.last_sequence).where(InstrumentSequenceRow.instrument == symbol)
            .with_for_update()
        )

    def lock_sequences(self, symbols) -> dict[str, int]:
        """Lock several instruments' rows, in symbol order (no deadlock between lockers); returns
        their last order sequences."""
        return self.lock_sequences_later(symbols)()

    def lock_sequences_later(self, symbols) -> Callable[[], dict[str, int]]:
        """``lock_sequences``, answered by the function returned: inside a write pipeline the
        locks are queued in their turn and read with the next answer wanted
        (``adapters.write_pipeline``), else taken at once."""
        symbols = sorted(set(symbols))
        if not symbols:
            return dict
        if (pipeline := pipeline_of(self.session)) is not None:
            rows = pipeline.later(_LOCK_SEQUENCES, {"symbols": symbols})
            return lambda: {symbol: last for symbol, last in rows()}
        rows = self.session.execute(
            select(InstrumentSequenceRow.instrument, InstrumentSequenceRow.last_sequence)
            .where(InstrumentSequenceRow.instrument.in_(symbols))
            .order_by(InstrumentSequenceRow.instrument).with_for_update()
        ).all()
        locked = {symbol: last for symbol, last in rows}
        return lambda: locked

    def set_sequence(self, symbol: str, last_sequence: int) -> None:
        self.session.execute(update(InstrumentSequenceRow).where(InstrumentSequenceRow.instrument == symbol)
                             .values(last_sequence=last_sequence))

    def set_sequences(self, last_sequences: dict[str, int]) -> None:
        """``set_sequence`` for several instruments in one statement, in symbol order."""
        update_rows(self.session, InstrumentSequenceRow.__table__, ["instrument"],
                    [{"instrument": s, "last_sequence": n} for s, n in sorted(last_sequences.items())])


class OrderRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, order: Order, *, style: str, idempotency_key: str | None, at: datetime,
            tick_size: Decimal) -> None:
        self.session.execute(insert(OrderRow.__table__), [_order_values(order, style, idempotency_key, at, tick_size)])

    def add_many(self, orders: list[tuple[Order, str, str | None]], *, at: datetime, tick_size: dict[str, Decimal]
                 ) -> None:
        """``add`` for several ``(order, style, idempotency key)`` in one statement (an exchange
        batch's new orders, in their final states); ``tick_size`` per instrument."""
        insert_rows(self.session, OrderRow.__table__, [
            _order_values(order, style, key, at, tick_size[order.instrument_id]) for order, style, key in orders])

    def save_state(self, order: Order, at: datetime) -> None:
        """Store a resting order's new state (fills, cancellation)."""
        self.session.execute(update(OrderRow).where(OrderRow.id == order.order_id).values(
            filled_quantity=order.filled_quantity, status=order.status.value,
            cancel_reason=order.cancel_reason.value if order.cancel_reason else None, updated_at=at,
        ))

    def save_states(self, orders, at: datetime) -> None:
        """``save_state`` for several orders in one statement (the makers of a match)."""
        update_rows(self.session, OrderRow.__table__, ["id"], [
            {"id": o.order_id, "filled_quantity": o.filled_quantity, "status": o.status.value,
             "cancel_reason": o.cancel_reason.value if o.cancel_reason else None, "updated_at": at} for o in orders])

    def save_amended(self, order: Order, at: datetime, tick_size: Decimal) -> None:
        """Store a replaced order's new terms (quantity, price, sequence) and resulting state."""
        self.session.execute(update(OrderRow).where(OrderRow.id == order.order_id).values(
            quantity=order.quantity, price=_text(order.price), price_ticks=_ticks(order.price, tick_size),
            sequence=order.sequence, filled_quantity=order.filled_quantity, status=order.status.value,
            cancel_reason=order.cancel_reason.value if order.cancel_reason else None, updated_at=at,
        ))

    def add_amendment(self, amendment: StoredAmendment) -> None:
        self.session.execute(insert(OrderAmendmentRow), [{
            "order_id": amendment.order_id, "account_id": amendment.account_id, "sequence": amendment.sequence,
            "previous_quantity": amendment.previous_quantity, "previous_price": _text(amendment.previous_price),
            "quantity": amendment.quantity, "price": _text(amendment.price),
            "idempotency_key": amendment.idempotency_key, "occurred_at": amendment.occurred_at,
        }])

    def amendment_by_idempotency_key(self, account_id: int, key: str) -> StoredAmendment | None:
        row = self.session.scalar(select(OrderAmendmentRow).where(OrderAmendmentRow.account_id == account_id,
                                                                  OrderAmendmentRow.idempotency_key == key))
        if row is None:
            return None
        return StoredAmendment(row.order_id, row.account_id, row.sequence, row.previous_quantity,
                               Decimal(row.previous_price), row.quantity, Decimal(row.price), row.idempotency_key,
                               row.occurred_at)

    def get(self, order_id: str) -> StoredOrder | None:
        """The order as stored now: read again even if this session has read it before, so a
        read after taking the instrument's lock sees what other transactions committed."""
        row = self.session.get(OrderRow, order_id, populate_existing=True)
        return _stored(row) if row else None

    def by_ids(self, order_ids) -> list[StoredOrder]:
        """The orders among ``order_ids`` that exist, in the order given (one query)."""
        ids = list(order_ids)
        if not ids:
            return []
        found = {row.id: _stored(row) for row in self.session.scalars(select(OrderRow).where(OrderRow.id.in_(ids)))}
        return [found[order_id] for order_id in ids if order_id in found]

    def by_idempotency_keys(self, keys) -> dict[str, StoredOrder]:
        """The orders placed with any of ``keys`` (stored keys, which name their account), by key."""
        keys = sorted(set(keys))
        if not keys:
            return {}
        table = OrderRow.__table__
        rows = self.session.execute(select(table).where(table.c.idempotency_key.in_(keys))).all()
        return {row.idempotency_key: _stored(row) for row in rows}

    def used_idempotency_keys(self, keys) -> tuple[set[str], set[str]]:
        """Which of ``keys`` (stored keys) orders were placed with, and which amendments used, in
        one statement (the exchange's batch; ``by_idempotency_keys`` then reads only the orders of
        the first, usually none: retries are rare)."""
        return self.used_idempotency_keys_later(keys)()

    def used_idempotency_keys_later(self, keys) -> Callable[[], tuple[set[str], set[str]]]:
        """``used_idempotency_keys``, answered by the function returned: inside a write pipeline
        the statement is queued in its turn and read with the next answer wanted
        (``adapters.write_pipeline``), else read at once."""
        keys = sorted(set(keys))
        if not keys:
            return lambda: (set(), set())
        if (pipeline := pipeline_of(self.session)) is not None:
            rows = pipeline.later(_used_keys_any(), {"keys": keys})
            return lambda: _used_keys(rows())
        orders, amendments = OrderRow.__table__.c, OrderAmendmentRow.__table__.c
        used = _used_keys(self.session.execute(union_all(
            select(literal_column("0").label("amendment"), orders.idempotency_key).where(
                orders.idempotency_key.in_(keys)),
            select(literal_column("1"), amendments.idempotency_key).where(amendments.idempotency_key.in_(keys)))))
        return lambda: used

    def by_idempotency_key(self, account_id: int, key: str) -> StoredOrder | None:
        row = self.session.scalar(select(OrderRow).where(OrderRow.account_id == account_id,
                                                         OrderRow.idempotency_key == key))
        return _stored(row) if row else None

    def _resting(self, condition) -> list[Order]:
        # Plain rows rather than ORM entities: the book is rebuilt from these on every order.
        table = OrderRow.__table__
        rows = self.session.execute(select(table).where(condition, table.c.status.in_(RESTING_STATUSES))).all()
        return [_order(row) for row in rows]

    def resting(self, instrument: str) -> list[Order]:
        return self._resting(OrderRow.__table__.c.instrument == instrument)

    def crossed_by(self, order: Order, tick_size: Decimal) -> list[Order]:
        """The resting orders ``order`` would trade with: the opposite side at prices it crosses
        (all of the opposite side for a market order). Enough to match it exactly."""
        c = OrderRow.__table__.c
        condition = (c.instrument == order.instrument_id) & (c.side == order.side.opposite.value)
        if order.price is not None:
            ticks = int(order.price / tick_size)
            condition &= (c.price_ticks <= ticks) if order.side.value == "buy" else (c.price_ticks >= ticks)
        return self._resting(condition)

    def crossing(self, order: Order, tick_size: Decimal) -> list[Order]:
        """The resting orders ``order`` would meet, best first in price-time priority, only as many
        as it can reach: loaded in growing batches until the other accounts' orders among them
        hold its remaining quantity (orders of its own account are cancelled, not filled, by
        self-trade prevention) or the orders at prices it crosses run out. Matching this prefix
        gives what the whole book gives: matching walks the same priority and stops once filled;
        a FOK sees enough or everything; a post-only order is refused by the first."""
        ticks = None if order.price is None else int(order.price / tick_size)
        return self.priority_prefix(order.instrument_id, order.side.opposite.value, ticks,
                                    order.remaining_quantity, {int(order.account_id)})

    def priority_prefix(self, instrument: str, side: str, crossed_by_ticks: int | None, wanted_quantity: int,
                        takers: set[int]) -> list[Order]:
        """The resting orders on ``side`` that orders on the other side priced at
        ``crossed_by_ticks`` (None: any price) can reach, best first in price-time priority,
        loaded in growing batches until those of accounts outside ``takers`` hold
        ``wanted_quantity`` or the crossed orders run out (``crossing``; the exchange's batches
        load one prefix for all their orders on a side: ``priority_prefixes``)."""
        return self._prefix_from(_PrefixWant(instrument, side, crossed_by_ticks, wanted_quantity), takers, [],
                                 None, _FIRST_PREFIX_ROWS)

    def priority_prefixes(self, wants: list[tuple[str, str, int | None, int, set[int]]]
                          ) -> dict[tuple[str, str], list[Order]]:
        """``priority_prefix`` for several (instrument, side, crossed_by_ticks, wanted_quantity,
        takers): the first rows of every one in one statement (a UNION ALL of each side's first
        rows in priority), then, only for a side whose first rows do not hold what is wanted, the
        following ones as ``priority_prefix`` reads them. By (instrument, side)."""
        return self.priority_prefixes_later(wants)()

    def priority_prefixes_later(self, wants: list[tuple[str, str, int | None, int, set[int]]]
                                ) -> Callable[[], dict[tuple[str, str], list[Order]]]:
        """``priority_prefixes``, answered by the function returned: inside a write pipeline the
        first rows are queued in their turn and read with the next answer wanted
        (``adapters.write_pipeline``; the following rows, rarely wanted, when answered), else read
        at once."""
        takers_of = {(w[0], w[1]): w[4] for w in wants}
        wants = [_PrefixWant(*w[:4]) for w in wants]
        if not wants:
            return dict
        statement, values = self._first_rows(wants)
        if (pipeline := pipeline_of(self.session)) is not None:
            first_rows = pipeline.later_named(statement, values)
        else:
            read = self.session.execute(statement, values).all()
            first_rows = lambda: read  # noqa: E731

        def answer() -> dict[tuple[str, str], list[Order]]:
            rows_of: dict[tuple[str, str], list] = {(w.instrument, w.side): [] for w in wants}
            for row in first_rows():
                rows_of[(row.instrument, row.side)].append(row)
            found = {}
            for want in wants:
                rows = sorted(rows_of[(want.instrument, want.side)], key=want.priority_key)  # a union keeps no order
                found[(want.instrument, want.side)] = self._prefix_from(
                    want, takers_of[(want.instrument, want.side)], [], rows, _FIRST_PREFIX_ROWS)
            return found

        return answer

    def _first_rows(self, wants: list[_PrefixWant]):
        """One statement for the first rows of every want (``_first_rows_statement``; on
        PostgreSQL ``_first_rows_lateral``) and its parameters."""
        if self.session.get_bind().dialect.name == "postgresql":
            values = {}
            for side in ("sell", "buy"):
                mine = [w for w in wants if w.side == side]
                values[f"{side}_instruments"] = [w.instrument for w in mine]
                values[f"{side}_bounds"] = [_bound_ticks(w) for w in mine]
            return _first_rows_lateral(), values
        values, counts = {}, {}
        for side in ("sell", "buy"):
            mine = [w for w in wants if w.side == side]
            counts[side] = _slots(len(mine))
            for k in range(counts[side]):
                if k < len(mine):
                    values |= {f"{side}_i{k}": mine[k].instrument, f"{side}_t{k}": _bound_ticks(mine[k])}
                else:  # a spare slot
                    values |= {f"{side}_i{k}": _NO_SYMBOL, f"{side}_t{k}": 0}
        return _first_rows_statement(counts["sell"], counts["buy"]), values

    def _prefix_query(self, want: _PrefixWant, after: tuple[int, int] | None):
        query = _side_in_priority(want.instrument, want.side, want.crossed_by_ticks)
        if after is not None:
            c = OrderRow.__table__.c
            last_ticks, last_sequence = after
            beyond = c.price_ticks > last_ticks if want.side == "sell" else c.price_ticks < last_ticks
            query = query.where(beyond | ((c.price_ticks == last_ticks) & (c.sequence > last_sequence)))
        return query

    def _prefix_from(self, want: _PrefixWant, takers: set[int], found: list[Order], rows: list | None,
                     batch: int) -> list[Order]:
        """Continue a prefix: ``rows`` are the next ``batch`` rows in priority already read (None:
        read them), then read on in batches eight times larger while needed."""
        wanted, after = want.wanted_quantity, None
        while True:
            if rows is None:
                rows = self.session.execute(self._prefix_query(want, after).limit(batch)).all()
            for row in rows:
                found.append(_order(row))
                if row.account_id not in takers:
                    wanted -= row.quantity - row.filled_quantity
            if wanted <= 0 or len(rows) < batch:
                return found
            after, batch, rows = (rows[-1].price_ticks, rows[-1].sequence), batch * 8, None

    def resting_of(self, account_id: int) -> list[Order]:
        return self._resting(OrderRow.__table__.c.account_id == account_id)

    def resting_instruments_of(self, account_id: int) -> set[str]:
        c = OrderRow.__table__.c
        return set(self.session.scalars(select(c.instrument).where(c.account_id == account_id, _RESTING_CONDITION)
                                        .distinct()))

    def resting_instruments_of_accounts(self, account_ids) -> dict[str, set[str]]:
        """``resting_instruments_of`` for several accounts in one query, by account id as text."""
        c = OrderRow.__table__.c
        found: dict[str, set[str]] = {}
        ids = sorted(int(a) for a in account_ids)
        if ids:
            for account_id, instrument in self.session.execute(
                    select(c.account_id, c.instrument).where(c.account_id.in_(ids), _RESTING_CONDITION).distinct()):
                found.setdefault(str(account_id), set()).add(instrument)
        return found

    def _totals(self, bounds: dict[str, tuple[int, int, int, Fraction]], *, accounts: bool):
        """The statements of ``resting_totals_of`` (``accounts``: of several accounts) and the
        bounds' values: on PostgreSQL one shape with arrays, on SQLite one per number of slots."""
        if self.session.get_bind().dialect.name == "postgresql":
            return _totals_statements_any(accounts), _bound_arrays(bounds)
        return _totals_statements(_slots(len(bounds)), accounts), _bound_values(bounds)

    def resting_totals_of(self, account_id: int, bounds: dict[str, tuple[int, int, int, Fraction]], *,
                          except_order: str | None = None) -> tuple[list[tuple[str, str, int, int]], list[Order]]:
        """The account's resting orders summed by the database per (instrument, side), and the
        orders outside the sums one by one (``domain.order_levels``). ``bounds`` gives per
        instrument ``(highest buy, lowest sell, highest price, fee per tick)`` in ticks: an
        order is summed if its price is at most the highest price and not beyond its side's
        bound; the sum rows are ``(instrument, side, remaining, remaining x fee of one contract
        at the order's price)``, that fee ``ceil(ticks x fee per tick)`` in integers. Every other
        resting order (another instrument, priced through the mark) comes back as itself.
        ``except_order`` leaves one order out of both."""
        (summed, each), values = self._totals(bounds, accounts=False)
        values |= {"account_id": account_id, "except_order": except_order or ""}
        totals = [] if not bounds else [
            (instrument, side, int(quantity), int(fee_sats))
            for instrument, side, quantity, fee_sats in self.session.execute(summed, values)]
        return totals, [_order(row) for row in self.session.execute(each, values)]

    def resting_totals_of_accounts(self, account_ids, bounds: dict[str, tuple[int, int, int, Fraction]]
                                   ) -> dict[str, tuple[list[tuple[str, str, int, int]], list[Order]]]:
        """``resting_totals_of`` for several accounts in two statements, by account id as text
        (the summing bounds are the instrument's, whoever's orders they sum)."""
        ids = sorted({int(a) for a in account_ids})
        found: dict[str, tuple[list, list]] = {str(a): ([], []) for a in ids}
        if not ids:
            return found
        (summed, each), values = self._totals(bounds, accounts=True)
        values |= {"account_ids": ids, "except_order": ""}
        if bounds:
            for account_id, instrument, side, quantity, fee_sats in self.session.execute(summed, values):
                found[str(account_id)][0].append((instrument, side, int(quantity), int(fee_sats)))
        for row in self.session.execute(each, values):
            found[str(row.account_id)][1].append(_order(row))
        return found

    def resting_of_accounts(self, account_ids: list[int]) -> dict[str, list[Order]]:
        """Resting orders of several accounts, by account id as text."""
        found: dict[str, list[Order]] = {}
        for order in self._resting(OrderRow.__table__.c.account_id.in_(account_ids)):
            found.setdefault(order.account_id, []).append(order)
        return found

    def depth(self, instrument: str, side: str, levels: int) -> list[tuple[Decimal, int]]:
        """Resting quantity per price level on one side, best first, at most ``levels`` levels:
        aggregated by the database walking ``ix_orders_book`` in price order, so the cost is the
        orders at the levels returned, not the whole book."""
        rows = self.session.execute(_depth_statement(side), {"instrument": instrument, "levels": levels}).all()
        return [(Decimal(price), int(quantity)) for price, quantity in rows]

    @staticmethod
    def _of_account(account_id: int, instrument: str | None, open_only: bool, start: datetime | None,
                    end: datetime | None):
        c = OrderRow.__table__.c
        conditions = [c.account_id == account_id]
        if instrument:
            conditions.append(c.instrument == instrument)
        if open_only:
            conditions.append(c.status.in_(RESTING_STATUSES))
        if start is not None:
            conditions.append(c.created_at >= start)
        if end is not None:
            conditions.append(c.created_at <= end)
        return conditions

    def of_account(self, account_id: int, *, instrument: str | None = None, open_only: bool = False,
                   start: datetime | None = None, end: datetime | None = None, limit: int = 100,
                   offset: int = 0) -> list[StoredOrder]:
        """The account's orders, newest first (ties by id). Plain rows, not ORM objects: a page
        is up to 500 orders read to be shown, in a read-only unit of work (its callers')."""
        table = OrderRow.__table__
        query = select(table).where(*self._of_account(account_id, instrument, open_only, start, end))
        query = query.order_by(table.c.created_at.desc(), table.c.id).limit(limit).offset(offset)
        return [_stored(row) for row in self.session.execute(query).all()]

    def count_of_account(self, account_id: int, *, instrument: str | None = None, open_only: bool = False,
                         start: datetime | None = None, end: datetime | None = None) -> int:
        conditions = self._of_account(account_id, instrument, open_only, start, end)
        return int(self.session.scalar(select(func.count()).select_from(OrderRow).where(*conditions)) or 0)


class TradeRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, fill: Fill, *, kind: str, fees_sats: dict[str, int]) -> None:
        self.session.execute(insert(TradeRow), [{
            "id": fill.fill_id, "kind": kind, "instrument": fill.instrument_id, "price": _text(fill.price),
            "quantity": fill.quantity, "buyer_account_id": int(fill.buyer_account_id),
            "seller_account_id": int(fill.seller_account_id), "buy_order_id": fill.buy_order_id,
            "sell_order_id": fill.sell_order_id,
            "aggressor": fill.aggressor.value if fill.aggressor else None,
            "buyer_fee_sats": fees_sats.get(fill.buyer_account_id, 0),
            "seller_fee_sats": fees_sats.get(fill.seller_account_id, 0), "occurred_at": fill.occurred_at,
        }])

    def add_many(self, trades: list[tuple[Fill, dict[str, int]]], *, kind: str) -> None:
        """``add`` for several fills, each with its fees per account, in one statement."""
        insert_rows(self.session, TradeRow.__table__, [{
            "id": fill.fill_id, "kind": kind, "instrument": fill.instrument_id, "price": _text(fill.price),
            "quantity": fill.quantity, "buyer_account_id": int(fill.buyer_account_id),
            "seller_account_id": int(fill.seller_account_id), "buy_order_id": fill.buy_order_id,
            "sell_order_id": fill.sell_order_id, "aggressor": fill.aggressor.value if fill.aggressor else None,
            "buyer_fee_sats": fees.get(fill.buyer_account_id, 0),
            "seller_fee_sats": fees.get(fill.seller_account_id, 0), "occurred_at": fill.occurred_at,
        } for fill, fees in trades])

    @staticmethod
    def _of_account(account_id: int, instrument: str | None, start: datetime | None, end: datetime | None):
        conditions = [or_(TradeRow.buyer_account_id == account_id, TradeRow.seller_account_id == account_id)]
        if instrument:
            conditions.append(TradeRow.instrument == instrument)
        if start is not None:
            conditions.append(TradeRow.occurred_at >= start)
        if end is not None:
            conditions.append(TradeRow.occurred_at <= end)
        return conditions

    def of_account(self, account_id: int, *, instrument: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, limit: int = 100, offset: int = 0) -> list[TradeRecord]:
        """The account's trades, newest first (ties by id)."""
        query = select(TradeRow).where(*self._of_account(account_id, instrument, start, end))
        query = query.order_by(TradeRow.occurred_at.desc(), TradeRow.id).limit(limit).offset(offset)
        return [_trade(row) for row in self.session.scalars(query).all()]

    def count_of_account(self, account_id: int, *, instrument: str | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> int:
        conditions = self._of_account(account_id, instrument, start, end)
        return int(self.session.scalar(select(func.count()).select_from(TradeRow).where(*conditions)) or 0)

    def of_orders(self, order_ids) -> dict[str, list[TradeRecord]]:
        """The fills each order took part in, oldest first, in one query."""
        ids = list(order_ids)
        found: dict[str, list[TradeRecord]] = {order_id: [] for order_id in ids}
        if not ids:
            return found
        table = TradeRow.__table__
        c = table.c
        if self.session.get_bind().dialect.name == "postgresql":
            # one array, not two lists of a parameter per id: psycopg keeps a statement of at most
            # 50 parameters converted, and a page's 100 orders made 200 (parsed on every request)
            wanted = bindparam("order_ids", ids, type_=ARRAY(c.buy_order_id.type))
            matching = or_(c.buy_order_id == any_(wanted), c.sell_order_id == any_(wanted))
        else:
            matching = or_(c.buy_order_id.in_(ids), c.sell_order_id.in_(ids))
        # plain rows, not ORM objects (its callers read in read-only units of work)
        for row in self.session.execute(select(table).where(matching).order_by(c.occurred_at, c.id)).all():
            record = _trade(row)
            for order_id in {row.buy_order_id, row.sell_order_id} & found.keys():
                found[order_id].append(record)
        return found

    def get(self, trade_id: str) -> TradeRecord | None:
        row = self.session.get(TradeRow, trade_id) if isinstance(trade_id, str) else None
        return _trade(row) if row else None

    def recent_blocks(self, *, limit: int, offset: int = 0) -> list[TradeRecord]:
        query = select(TradeRow).where(TradeRow.kind == "block").order_by(TradeRow.occurred_at.desc(), TradeRow.id)
        return [_trade(row) for row in self.session.scalars(query.limit(limit).offset(offset)).all()]

    def count_blocks(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(TradeRow).where(TradeRow.kind == "block")) or 0)

    def of_order(self, order_id: str) -> list[TradeRecord]:
        """The fills an order took part in, as buyer or seller, oldest first."""
        query = select(TradeRow).where(or_(TradeRow.buy_order_id == order_id, TradeRow.sell_order_id == order_id))
        return [_trade(row) for row in self.session.scalars(query.order_by(TradeRow.occurred_at)).all()]

    def blocks_of(self, account_id: int) -> list[Fill]:
        """The OTC block trades the account is a party to, oldest first."""
        query = select(TradeRow).where(TradeRow.kind == "block", or_(TradeRow.buyer_account_id == account_id,
                                                                     TradeRow.seller_account_id == account_id))
        return [_trade(row).fill for row in self.session.scalars(query.order_by(TradeRow.occurred_at, TradeRow.id))]

    def book_prices_since(self, instrument: str, since: datetime) -> list[tuple[Decimal, int]]:
        """(price, quantity) of the instrument's book trades at or after ``since`` (the mark rule's
        recent trades: block trades and forced closes are not prices anyone offered on the book)."""
        rows = self.session.execute(select(TradeRow.price, TradeRow.quantity).where(
            TradeRow.instrument == instrument, TradeRow.kind == "book", TradeRow.occurred_at >= since)).all()
        return [(Decimal(price), quantity) for price, quantity in rows]

    def of_instrument(self, instrument: str) -> list[TradeRecord]:
        query = select(TradeRow).where(TradeRow.instrument == instrument).order_by(TradeRow.occurred_at)
        return [_trade(row) for row in self.session.scalars(query).all()]


class PositionRepository:
    def __init__(self, session: Session):
        self.session = session

    @staticmethod
    def _position(row: PositionRow, multiplier: Decimal) -> Position:
        return Position(account_id=str(row.account_id), instrument_id=row.instrument, multiplier=multiplier,
                        quantity=row.quantity, open_value=Decimal(row.open_value),
                        realized_pnl_sats=row.realized_pnl_sats)

    def _multipliers(self) -> dict[str, Decimal]:
        return {s: Decimal(m) for s, m in self.session.execute(
            select(InstrumentRow.symbol, InstrumentRow.multiplier)).all()}

    def get(self, account_id: int, spec: ContractSpec) -> Position:
        """The stored position, or a flat one."""
        row = self.session.get(PositionRow, (account_id, spec.symbol))
        if row is None:
            return Position(account_id=str(account_id), instrument_id=spec.symbol, multiplier=spec.multiplier)
        return self._position(row, spec.multiplier)

    def of_account(self, account_id: int, *, include_flat: bool = False, instrument: str | None = None) -> list[Position]:
        query = select(PositionRow).where(PositionRow.account_id == account_id)
        if instrument:
            query = query.where(PositionRow.instrument == instrument)
        if not include_flat:
            query = query.where(PositionRow.quantity != 0)
        # each row with its contract's multiplier, in the one statement
        rows = self.session.execute(query.add_columns(InstrumentRow.multiplier)
                                    .join(InstrumentRow, InstrumentRow.symbol == PositionRow.instrument)
                                    .order_by(PositionRow.instrument)).all()
        return [self._position(row, Decimal(multiplier)) for row, multiplier in rows]

    def of_accounts(self, account_ids: list[int]) -> dict[str, list[Position]]:
        """Open positions of several accounts, by account id as text, each sorted by instrument."""
        table = PositionRow.__table__
        rows = self.session.execute(select(table).where(table.c.account_id.in_(account_ids), table.c.quantity != 0)
                                    .order_by(table.c.account_id, table.c.instrument)).all()
        multipliers = self._multipliers()
        found: dict[str, list[Position]] = {}
        for row in rows:
            found.setdefault(str(row.account_id), []).append(self._position(row, multipliers[row.instrument]))
        return found

    def open_in(self, instrument: str, multiplier: Decimal) -> list[Position]:
        table = PositionRow.__table__  # plain rows: settlement reads every open position
        rows = self.session.execute(select(table).where(
            table.c.instrument == instrument, table.c.quantity != 0).order_by(table.c.account_id)).all()
        return [self._position(row, multiplier) for row in rows]

    def open_frame(self) -> pd.DataFrame:
        """Every open position as ``domain.margin_batch`` takes them (account ids as text)."""
        table = PositionRow.__table__
        rows = self.session.execute(select(table.c.account_id, table.c.instrument, table.c.quantity,
                                           table.c.open_value).where(table.c.quantity != 0)).all()
        return pd.DataFrame({"account_id": [str(r[0]) for r in rows], "instrument_id": [r[1] for r in rows],
                             "quantity": [r[2] for r in rows], "open_value": [Decimal(r[3]) for r in rows]},
                            columns=["account_id", "instrument_id", "quantity", "open_value"])

    def instruments_with_positions(self) -> set[str]:
        return set(self.session.scalars(select(PositionRow.instrument).where(PositionRow.quantity != 0)).all())

    def in_instrument(self, account_ids, spec: ContractSpec) -> tuple[dict[str, Position], set[str]]:
        """The accounts' positions in one instrument (flat ones for accounts without a row), by
        account id as text, and the ids that have a stored row: one plain query."""
        table = PositionRow.__table__
        rows = self.session.execute(select(table).where(table.c.instrument == spec.symbol,
                                                        table.c.account_id.in_(sorted(int(a) for a in account_ids))))
        found = {str(row.account_id): self._position(row, spec.multiplier) for row in rows}
        stored = set(found)
        for account in account_ids:
            found.setdefault(str(account), Position(account_id=str(account), instrument_id=spec.symbol,
                                                    multiplier=spec.multiplier))
        return found, stored

    def in_instruments(self, parties: dict[str, set[str]],
                       specs: dict[str, ContractSpec]) -> dict[str, tuple[dict[str, Position], set[str]]]:
        """``in_instrument`` for several instruments (``parties`` by symbol) in one statement."""
        if not parties:
            return {}
        table = PositionRow.__table__
        accounts = sorted({int(a) for ids in parties.values() for a in ids})
        rows = self.session.execute(select(table).where(table.c.instrument.in_(sorted(parties)),
                                                        table.c.account_id.in_(accounts)))
        found: dict[str, tuple[dict[str, Position], set[str]]] = {s: ({}, set()) for s in parties}
        for row in rows:
            if str(row.account_id) in parties[row.instrument]:
                positions, stored = found[row.instrument]
                positions[str(row.account_id)] = self._position(row, specs[row.instrument].multiplier)
                stored.add(str(row.account_id))
        for symbol, ids in parties.items():
            for account in ids:
                found[symbol][0].setdefault(str(account), Position(account_id=str(account), instrument_id=symbol,
                                                                   multiplier=specs[symbol].multiplier))
        return found

    def save_new_states(self, positions: list[Position], stored: set[str], at: datetime) -> None:
        """Store positions read by ``in_instrument``: one INSERT of the new ones, one UPDATE
        statement for those with a row (``stored``)."""
        self.save_read_states([p for p in positions if p.account_id not in stored],
                              [p for p in positions if p.account_id in stored], at)

    def save_read_states(self, new: list[Position], old: list[Position], at: datetime) -> None:
        """Store positions read by ``in_instrument(s)``, of any instruments: one INSERT of those
        without a row (``new``), one UPDATE statement for those with one (``old``)."""
        insert_rows(self.session, PositionRow.__table__, [_position_values(p, at) for p in new])
        update_rows(self.session, PositionRow.__table__, _POSITION_KEY, [_position_values(p, at) for p in old])

    def save(self, position: Position, at: datetime) -> None:
        key = (int(position.account_id), position.instrument_id)
        row = self.session.get(PositionRow, key)
        values = {"quantity": position.quantity, "open_value": _text(position.open_value),
                  "realized_pnl_sats": position.realized_pnl_sats, "updated_at": at}
        if row is None:
            self.session.add(PositionRow(account_id=key[0], instrument=key[1], **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        self.session.flush()

    def save_many(self, positions: list[Position], at: datetime) -> None:
        """Store new states of positions that exist already (settlement): one statement per
        ``_BULK_BATCH`` positions (bounded parameter arrays on PostgreSQL)."""
        self.session.flush()
        for start in range(0, len(positions), _BULK_BATCH):
            update_rows(self.session, PositionRow.__table__, _POSITION_KEY,
                        [_position_values(p, at) for p in positions[start:start + _BULK_BATCH]])

    def count_holders(self, instrument: str, *, long: bool, excluding: int) -> int:
        """How many accounts other than ``excluding`` hold a long (or short) position in ``instrument``."""
        side = PositionRow.quantity > 0 if long else PositionRow.quantity < 0
        return self.session.scalar(select(func.count()).select_from(PositionRow).where(
            PositionRow.instrument == instrument, side, PositionRow.account_id != excluding)) or 0

    def net_quantity(self, instrument: str) -> int:
        return int(self.session.scalar(select(func.coalesce(func.sum(PositionRow.quantity), 0))
                                       .where(PositionRow.instrument == instrument)) or 0)


class MarkRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, instrument: str, as_of: datetime, price: Decimal, source: str,
            model_price: Decimal | None) -> None:
        appending_in_id_order(self.session, MARKS_LOCK)  # the newest id versions the kept list
        self.session.add(MarkRow(instrument=instrument, as_of=as_of, price=_text(price), source=source,
                                 model_price=_text(model_price)))
        self.session.flush()

    def latest(self, instruments=None, *, at_or_before: datetime | None = None) -> dict[str, MarkRecord]:
        """The latest mark of each instrument (optionally as of a moment): one statement reading
        the newest entry of ``ix_marks_instrument_id`` per instrument, however many marks are
        stored."""
        params = {}
        if instruments is not None:
            params["symbols"] = sorted(set(instruments))
            if not params["symbols"]:
                return {}
        if at_or_before is not None:
            params["at_or_before"] = at_or_before
        statement = _latest_marks(instruments is not None, at_or_before is not None)
        return {row.instrument: MarkRecord(row.instrument, row.as_of, Decimal(row.price), row.source,
                                           _decimal(row.model_price))
                for row in self.session.execute(statement, params)}


@functools.cache
def _depth_statement(side: str):
    """``depth``'s statement for one side, built once per process: a public GET reads it twice per
    request, and building it cost a third of the request's CPU."""
    c = OrderRow.__table__.c
    best_first = c.price_ticks.desc() if side == "buy" else c.price_ticks.asc()
    return (select(func.min(c.price), func.sum(c.quantity - c.filled_quantity))
            .where(c.instrument == bindparam("instrument"), c.side == side, _RESTING_CONDITION)
            .group_by(c.price_ticks).order_by(best_first).limit(bindparam("levels")))


@functools.cache
def _latest_marks(some_instruments: bool, as_of_bound: bool):
    """``SELECT marks WHERE id IN (newest mark id of each instrument)``, the newest found by a
    subquery correlated to the instruments table: one statement shape for any set of symbols."""
    marks, instruments = MarkRow.__table__, InstrumentRow.__table__
    newer = marks.alias("newer")
    newest = select(newer.c.id).where(newer.c.instrument == instruments.c.symbol)
    if as_of_bound:
        newest = newest.where(newer.c.as_of <= bindparam("at_or_before"))
    newest = newest.order_by(newer.c.id.desc()).limit(1).correlate(instruments).scalar_subquery()
    ids = select(newest).select_from(instruments)
    if some_instruments:
        ids = ids.where(instruments.c.symbol.in_(bindparam("symbols", expanding=True)))
    return select(marks).where(marks.c.id.in_(ids))


class SettlementRunRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, business_date: date, kind: str) -> SettlementRunRecord | None:
        row = self.session.scalar(select(SettlementRunRow).where(
            SettlementRunRow.business_date == business_date, SettlementRunRow.kind == kind))
        if row is None:
            return None
        return SettlementRunRecord(row.business_date, row.kind, row.status, json.loads(row.summary),
                                   row.started_at, row.finished_at)

    def recent(self, *, limit: int, offset: int = 0, kind: str | None = None) -> list[SettlementRunRecord]:
        query = select(SettlementRunRow).order_by(SettlementRunRow.business_date.desc(), SettlementRunRow.kind)
        if kind is not None:
            query = query.where(SettlementRunRow.kind == kind)
        return [SettlementRunRecord(row.business_date, row.kind, row.status, json.loads(row.summary),
                                    row.started_at, row.finished_at)
                for row in self.session.scalars(query.limit(limit).offset(offset))]

    def count(self, *, kind: str | None = None) -> int:
        query = select(func.count()).select_from(SettlementRunRow)
        if kind is not None:
            query = query.where(SettlementRunRow.kind == kind)
        return int(self.session.scalar(query) or 0)

    def latest_date(self, kind: str) -> date | None:
        return self.session.scalar(select(func.max(SettlementRunRow.business_date)).where(
            SettlementRunRow.kind == kind))

    def add_completed(self, business_date: date, kind: str, summary: dict, started_at: datetime,
                      finished_at: datetime) -> None:
        self.session.add(SettlementRunRow(business_date=business_date, kind=kind, status="completed",
                                          summary=json.dumps(summary, default=str), started_at=started_at,
                                          finished_at=finished_at))
        self.session.flush()

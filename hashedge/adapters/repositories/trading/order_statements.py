"""The order repository's statements that are built once per process or per shape, and their
parameters: an account's resting sums per instrument and side (slots of bounds, or on PostgreSQL
arrays of any length), the books' first rows in price-time priority (a ``UNION ALL`` of one select
per side, or on PostgreSQL one lateral join over arrays), the idempotency keys in use, and the
depth of a book's side. Built once, they are compiled once; on PostgreSQL one shape is prepared once
(ORDER_PATH.md, "The exchange's batches")."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import (BigInteger, String, and_, bindparam, case, column, exists, func, lateral, literal_column, not_,
                        or_, select, true, union_all)
from sqlalchemy.dialects.postgresql import ARRAY

from hashedge.adapters.orm.trading import OrderAmendmentRow, OrderRow
from hashedge.adapters.repositories.trading.records import RESTING_CONDITION


@functools.lru_cache(maxsize=128)
def totals_statements(instruments: int, accounts: bool = False):
    """``OrderRepository.resting_totals_of``'s two statements for that many instrument slots,
    built once per number of slots (and compiled once by SQLAlchemy's cache): bound parameters
    per slot, so only the values change from order to order. Callers round the number of
    instruments up to a power of two (``bound_values`` fills the spare slots with a symbol no
    order has), so a venue of a few hundred contracts compiles a handful of shapes, not one per
    count. ``accounts``: for a list of accounts (``resting_totals_of_accounts``), the sums per
    account too. SQLite's; PostgreSQL takes ``totals_statements_any``."""
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
    base = [whose, RESTING_CONDITION, c.id != bindparam("except_order")]
    if not instruments:
        return None, select(table).where(*base)
    summed = or_(*in_sums)
    keys = (c.account_id, c.instrument, c.side) if accounts else (c.instrument, c.side)
    return (select(*keys, func.sum(remaining), func.sum(remaining * case(*fees))).where(*base, summed)
            .group_by(*keys), select(table).where(*base, not_(summed)))


@functools.lru_cache(maxsize=2)
def totals_statements_any(accounts: bool = False):
    """PostgreSQL: ``totals_statements`` in one shape whatever the number of instruments, their
    bounds as arrays joined to the orders. The slots' statements grew with the instruments (about
    12 KB and 290 parameters for 24 contracts), past what psycopg keeps converted (4 KB, 50
    parameters): it parsed them again on every execution, a fifth of an account read's profile
    (BENCHMARKS.md, part Q). ``bound_arrays`` gives the values."""
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
    base = [whose, RESTING_CONDITION, c.id != bindparam("except_order")]
    keys = (c.account_id, c.instrument, c.side) if accounts else (c.instrument, c.side)
    fee = (c.price_ticks * bound.c.n + bound.c.dm) // bound.c.d
    return (select(*keys, func.sum(remaining), func.sum(remaining * fee)).select_from(table.join(bound, summable))
            .where(*base).group_by(*keys),
            select(table).where(*base, ~exists().where(summable)))


_BOUND_NAMES = ("s", "hb", "ls", "hi", "n", "d", "dm")  # symbol, highest buy, lowest sell, highest, fee


def bound_arrays(bounds: dict[str, tuple[int, int, int, Fraction]]) -> dict:
    """The values of ``totals_statements_any``: one array per bound, by instrument."""
    rows = [(symbol, highest_buy, lowest_sell, highest, fee.numerator, fee.denominator, fee.denominator - 1)
            for symbol, (highest_buy, lowest_sell, highest, fee) in sorted(bounds.items())]
    return {f"b_{name}": [row[i] for row in rows] for i, name in enumerate(_BOUND_NAMES)}


NO_SYMBOL = ""  # a spare slot's instrument: no order has it (symbols are never empty)


def slots_for(count: int) -> int:
    """How many slots a statement built per count gets for ``count`` items: rounded up to a power
    of two (0 for none), the rest filled with ``NO_SYMBOL``, so few shapes are compiled."""
    return 1 << (count - 1).bit_length() if count else 0


def bound_values(bounds: dict[str, tuple[int, int, int, Fraction]]) -> dict:
    """The bound values of ``totals_statements(slots_for(len(bounds)))``: each instrument's
    bounds, then spare slots that match no order."""
    values = {}
    spare = [(NO_SYMBOL, (0, 0, 0, Fraction(0)))] * (slots_for(len(bounds)) - len(bounds))
    for i, (symbol, (highest_buy, lowest_sell, highest, fee)) in enumerate([*sorted(bounds.items()), *spare]):
        # "name_slot": without the underscore, "d1" of slot 0 and "d" of slot 10 were one parameter
        values |= {f"s_{i}": symbol, f"hb_{i}": highest_buy, f"ls_{i}": lowest_sell, f"hi_{i}": highest,
                   f"n_{i}": fee.numerator, f"d_{i}": fee.denominator, f"dm_{i}": fee.denominator - 1}
    return values


FIRST_PREFIX_ROWS = 16  # a prefix's first read; most batches need no second


_ANY_TICKS = 2**62  # "any price" as a bound no price reaches


def side_in_priority(instrument, side: str, bound):
    """The resting orders on ``side`` of ``instrument`` that orders on the other side priced at
    ``bound`` ticks (None: any price) can meet, in price-time priority (values or bound
    parameters)."""
    c = OrderRow.__table__.c
    buying = side == "sell"  # the orders read are met by buys
    query = select(OrderRow.__table__).where(c.instrument == instrument, c.side == side, RESTING_CONDITION)
    if bound is not None:
        query = query.where((c.price_ticks <= bound) if buying else (c.price_ticks >= bound))
    return query.order_by(c.price_ticks.asc() if buying else c.price_ticks.desc(), c.sequence.asc())


@functools.lru_cache(maxsize=64)
def first_rows_statement(sells: int, buys: int):
    """The first rows in priority of ``sells`` sell sides and ``buys`` buy sides, each a bound
    instrument and price bound, in one UNION ALL. Its shape depends only on the two counts (the
    callers round them up to powers of two), so it is built and compiled a few times per process
    instead of once per batch."""
    c = OrderRow.__table__.c
    parts = []
    for side, count in (("sell", sells), ("buy", buys)):
        for k in range(count):
            query = side_in_priority(bindparam(f"{side}_i{k}", type_=c.instrument.type), side,
                                      bindparam(f"{side}_t{k}", type_=c.price_ticks.type))
            parts.append(query.limit(FIRST_PREFIX_ROWS).subquery().select())
    return union_all(*parts) if len(parts) > 1 else parts[0]


@functools.lru_cache(maxsize=1)
def first_rows_lateral():
    """PostgreSQL: ``first_rows_statement`` in one shape whatever the counts, each side's wants
    as two arrays (instruments, price bounds) joined laterally to their first rows. PostgreSQL
    planned the UNION ALL anew for every batch (its shapes are too many to be prepared): 10-23 ms
    of planning a batch at 200 orders/s (BENCHMARKS.md, part J); this is prepared once."""
    c = OrderRow.__table__.c
    parts = []
    for side in ("sell", "buy"):
        wants = func.unnest(bindparam(f"{side}_instruments", type_=ARRAY(c.instrument.type)),
                            bindparam(f"{side}_bounds", type_=ARRAY(c.price_ticks.type))
                            ).table_valued("instrument", "bound").render_derived(name=f"wants_{side}")
        rows = lateral(side_in_priority(wants.c.instrument, side, wants.c.bound).limit(FIRST_PREFIX_ROWS),
                       name=f"first_{side}")
        parts.append(select(rows).select_from(wants).join(rows, true()))
    return union_all(*parts)


def bound_ticks(want: PrefixWant) -> int:
    """The price bound of a want's first rows; for any price, a bound no price reaches."""
    if want.crossed_by_ticks is not None:
        return want.crossed_by_ticks
    return _ANY_TICKS if want.side == "sell" else -_ANY_TICKS


@functools.lru_cache(maxsize=1)
def used_keys_statement():
    """PostgreSQL: ``used_idempotency_keys``'s statement in one shape whatever the number of
    keys (an array), so that a write pipeline sends it as built once."""
    orders, amendments = OrderRow.__table__.c, OrderAmendmentRow.__table__.c
    keys = bindparam("keys", type_=ARRAY(orders.idempotency_key.type))
    return union_all(
        select(literal_column("0").label("amendment"), orders.idempotency_key).where(
            orders.idempotency_key == func.any(keys)),
        select(literal_column("1"), amendments.idempotency_key).where(amendments.idempotency_key == func.any(keys)))


def used_keys_of(rows) -> tuple[set[str], set[str]]:
    """(keys orders were placed with, keys amendments used) from ``used_idempotency_keys``' rows."""
    used: tuple[set[str], set[str]] = (set(), set())
    for amendment, key in rows:
        used[int(amendment)].add(key)
    return used


@dataclass(frozen=True)
class PrefixWant:
    instrument: str
    side: str  # the side read (met by orders on the other one)
    crossed_by_ticks: int | None
    wanted_quantity: int

    def priority_key(self, row) -> tuple[int, int]:
        return (row.price_ticks if self.side == "sell" else -row.price_ticks, row.sequence)


@functools.cache
def depth_statement(side: str):
    """``depth``'s statement for one side, built once per process: a public GET reads it twice per
    request, and building it cost a third of the request's CPU."""
    c = OrderRow.__table__.c
    best_first = c.price_ticks.desc() if side == "buy" else c.price_ticks.asc()
    return (select(func.min(c.price), func.sum(c.quantity - c.filled_quantity))
            .where(c.instrument == bindparam("instrument"), c.side == side, RESTING_CONDITION)
            .group_by(c.price_ticks).order_by(best_first).limit(bindparam("levels")))

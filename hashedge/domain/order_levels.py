"""An account's open orders summarized by price level, for the margin checks, exactly.

``domain.margin``'s order margin of a set of orders is, per order, (a) the most its fills can pay
in taker fees, ``q x fee of one contract at its price``: linear in q; (b) the loss it would book
at once against the mark, for a buy above the (effective) mark or a sell below it, rounded up
*per order*; plus per instrument (c) a term of the buys' and the sells' total quantities. The
reduce-only test sums remaining quantities per side. So the orders of one account at one
(instrument, side, price) can stand as ONE order of their summed remaining quantity, and every
figure comes out to the same sat, except where (b) is not zero: at a level priced through the
mark, rounding each order up is not rounding their sum up once. Those levels (rare: such an
order would usually have traded) are taken order by order.

The service asks storage for the levels (the database sums them), decides with
``needs_each_order`` which levels to load order by order, and hands ``pre_trade_check`` the
orders of ``summarized_orders``: its cost follows the account's price levels, not its orders.
Tested equal to the check over every order by a property test (tests/unit/test_order_levels.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import effective_mark
from hashedge.domain.orders import Order, OrderStatus, OrderType, Side


@dataclass(frozen=True)
class RestingLevel:
    """The remaining quantity of ``orders`` resting orders of one account at one price."""

    instrument_id: str
    side: Side
    price: Decimal
    remaining_quantity: int
    orders: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))


def priced_through_mark(level: RestingLevel, spec: ContractSpec, mark: Decimal) -> bool:
    """A buy above the effective mark or a sell below it: its orders book a loss at once."""
    return (level.price - effective_mark(spec, mark)) * level.side.sign > 0


def needs_each_order(level: RestingLevel, marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec]) -> bool:
    """Whether the level's orders must be counted one by one (see the module notes)."""
    return level.orders > 1 and priced_through_mark(level, specs[level.instrument_id], marks[level.instrument_id])


def level_order(account_id: str, level: RestingLevel, created_at: datetime) -> Order:
    """One resting limit order standing for the whole level."""
    return Order(order_id=f"level:{level.instrument_id}:{level.side.value}:{level.price}", account_id=account_id,
                 instrument_id=level.instrument_id, side=level.side, quantity=level.remaining_quantity,
                 sequence=0, created_at=created_at, order_type=OrderType.LIMIT, price=level.price,
                 status=OrderStatus.OPEN)


def summarized_orders(account_id: str, levels: Iterable[RestingLevel], each: Iterable[Order],
                      marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec],
                      created_at: datetime) -> tuple[Order, ...]:
    """The open orders margin counts: one order per level, and ``each`` (the orders of the levels
    ``needs_each_order`` picked, loaded one by one) in place of their levels."""
    levels, each = tuple(levels), tuple(each)
    loaded = {(o.instrument_id, o.side, o.price) for o in each}
    merged = [level_order(account_id, level, created_at) for level in levels
              if not needs_each_order(level, marks, specs)]
    missing = [level for level in levels if needs_each_order(level, marks, specs)
               and (level.instrument_id, level.side, level.price) not in loaded]
    if missing:
        raise InvalidValue("each", missing, "levels priced through the mark need their orders")
    return (*merged, *each)

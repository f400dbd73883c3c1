"""The central limit order book of one instrument: price-time priority matching.

The book is rebuilt from stored resting orders (``OrderBook.from_resting``), takes one
command (``submit``, ``cancel``, ``replace``), and answers with what changed: the incoming
order's resulting state, the fills, and the resting orders that were filled or cancelled.
The service saves exactly that. Matching for one instrument is serialized by the service.

Rules
-----
- Priority: better price first, then lower ``sequence`` (arrival order, given by the
  caller and strictly increasing per instrument; the book refuses a stale one).
- A fill trades at the maker's (resting order's) price.
- A command is atomic: a denial (``Rejected``) or a killed FOK leaves the book unchanged.
- Self-trade prevention is chosen per incoming order (default ``cancel_resting``): the
  resting order of the same account is cancelled and matching goes on; ``cancel_taker``
  cancels what is left of the incoming order; ``cancel_both`` does both. No fill ever has
  the same account on both sides. A FOK counts only liquidity it could really take.
- Post-only: rejected if it would cross the best opposite price, own orders included.
- Cancel/replace: ``quantity`` is the new total (filled included) and must exceed what is
  filled. Lowering the quantity at the same price keeps the order's place in the queue;
  any other change (a new price, a larger quantity) loses priority: the order takes the new
  sequence and, if its new price crosses, matches as a taker before resting.
- The book never rests crossed: after every command best bid < best ask.

The book owns its internal index and changes it in place; the ``Order`` values handed in
and out are immutable, so nothing the caller holds changes under it.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import InstrumentMismatch, InvalidBookState, InvalidValue, StaleSequence
from hashedge.domain.fills import Fill
from hashedge.domain.orders import (
    CancelReason,
    Order,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TradingRules,
    validate_order,
)


@dataclass(frozen=True)
class MatchResult:
    """The outcome of ``submit`` or ``replace``.

    ``order`` is the incoming order's resulting state (rejected, resting, filled or
    cancelled); ``maker_updates`` are the resting orders whose state changed, in match order.
    """

    order: Order
    fills: tuple[Fill, ...] = ()
    maker_updates: tuple[Order, ...] = ()
    rejected: Rejected | None = None

    @property
    def accepted(self) -> bool:
        return self.rejected is None

    @property
    def filled_quantity(self) -> int:
        return sum(f.quantity for f in self.fills)


@dataclass(frozen=True)
class BookDepth:
    """Aggregated quantity per price level, best first: ``((price, quantity), ...)``."""

    bids: tuple[tuple[Decimal, int], ...]
    asks: tuple[tuple[Decimal, int], ...]


@dataclass(frozen=True)
class _Plan:
    fills: tuple[Fill, ...]
    makers: tuple[Order, ...]
    filled: int
    self_trade_stop: bool


class _BookSide:
    """Resting orders of one side: price levels kept sorted, each level in arrival order."""

    def __init__(self, side: Side):
        self.side = side
        self._prices: list[Decimal] = []  # ascending
        self._levels: dict[Decimal, dict[str, Order]] = {}

    def best(self) -> Decimal | None:
        if not self._prices:
            return None
        return self._prices[-1] if self.side is Side.BUY else self._prices[0]

    def _prices_best_first(self) -> Iterable[Decimal]:
        return reversed(self._prices) if self.side is Side.BUY else self._prices

    def in_priority(self) -> Iterator[Order]:
        for price in self._prices_best_first():
            yield from self._levels[price].values()

    def add(self, order: Order) -> None:
        level = self._levels.get(order.price)
        if level is None:
            level = self._levels[order.price] = {}
            bisect.insort(self._prices, order.price)
        level[order.order_id] = order

    def update(self, order: Order) -> None:
        """Replace an order's state in place, keeping its place in the queue."""
        self._levels[order.price][order.order_id] = order

    def remove(self, order: Order) -> None:
        level = self._levels[order.price]
        del level[order.order_id]
        if not level:
            del self._levels[order.price]
            del self._prices[bisect.bisect_left(self._prices, order.price)]

    def depth(self, levels: int | None) -> tuple[tuple[Decimal, int], ...]:
        prices = list(self._prices_best_first())[:levels]
        return tuple((p, sum(o.remaining_quantity for o in self._levels[p].values())) for p in prices)


class OrderBook:
    def __init__(self, rules: TradingRules, *, last_sequence: int = 0):
        self.rules = rules
        self._last_sequence = last_sequence
        self._sides = {Side.BUY: _BookSide(Side.BUY), Side.SELL: _BookSide(Side.SELL)}
        self._orders: dict[str, Order] = {}

    @classmethod
    def from_resting(
        cls, rules: TradingRules, orders: Iterable[Order], *, last_sequence: int | None = None
    ) -> OrderBook:
        """Rebuild the book from stored resting orders (any order; sorted by sequence here).

        ``last_sequence`` is the instrument's last assigned sequence (defaults to the highest
        resting one). Orders that are not resting, duplicates, or a crossed set fail fast.
        """
        ordered = sorted(orders, key=lambda o: o.sequence)
        top = ordered[-1].sequence if ordered else 0
        if last_sequence is not None and last_sequence < top:
            raise InvalidBookState(f"last_sequence {last_sequence} is below a resting order's {top}")
        book = cls(rules, last_sequence=top if last_sequence is None else last_sequence)
        for previous, order in zip([None, *ordered], ordered):
            if previous is not None and previous.sequence == order.sequence:
                raise InvalidBookState(f"duplicate sequence {order.sequence}", order.order_id)
            book._check_resting(order)
            book._add(order)
        if book.is_crossed():
            raise InvalidBookState(f"resting orders cross: bid {book.best_bid()} >= ask {book.best_ask()}")
        return book

    def _check_resting(self, order: Order) -> None:
        if order.instrument_id != self.instrument_id:
            raise InstrumentMismatch(self.instrument_id, order.instrument_id)
        if not order.is_resting or order.time_in_force is not TimeInForce.GTC or order.price is None:
            raise InvalidBookState(f"not a resting GTC limit order ({order.status.value})", order.order_id)
        if order.order_id in self._orders:
            raise InvalidBookState("duplicate order id", order.order_id)

    # --- reading ------------------------------------------------------------------------

    @property
    def instrument_id(self) -> str:
        return self.rules.instrument_id

    @property
    def last_sequence(self) -> int:
        return self._last_sequence

    def best_bid(self) -> Decimal | None:
        return self._sides[Side.BUY].best()

    def best_ask(self) -> Decimal | None:
        return self._sides[Side.SELL].best()

    def is_crossed(self) -> bool:
        bid, ask = self.best_bid(), self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def resting_orders(self) -> tuple[Order, ...]:
        """Every resting order: bids then asks, each in priority order."""
        return tuple(self._sides[Side.BUY].in_priority()) + tuple(self._sides[Side.SELL].in_priority())

    def orders_of(self, account_id: str) -> tuple[Order, ...]:
        return tuple(o for o in self.resting_orders() if o.account_id == account_id)

    def depth(self, levels: int | None = None) -> BookDepth:
        return BookDepth(self._sides[Side.BUY].depth(levels), self._sides[Side.SELL].depth(levels))

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    # --- commands -----------------------------------------------------------------------

    def admission_denial(self, order: Order) -> Rejected | None:
        """What ``submit`` would refuse ``order`` for before matching (its rules, a post-only
        order that would cross), without touching the book: a caller with further checks (the
        exchange's margin check) runs them between this and ``submit``, in the same order as
        the direct path."""
        return validate_order(order, self.rules) or self._post_only_denial(order)

    def submit(self, order: Order) -> MatchResult:
        """Validate, match and (for GTC limit orders) rest ``order``, a NEW order."""
        self._admit(order)
        denial = self.admission_denial(order)
        if denial is not None:
            return MatchResult(order.rejected(), rejected=denial)
        return self._execute(order, order.created_at)

    def cancel(self, order_id: str, *, reason: CancelReason = CancelReason.USER) -> Order | Rejected:
        """Remove a resting order; return its cancelled state, or a denial if it is not resting."""
        current = self._orders.get(order_id)
        if current is None:
            return _unknown(order_id)
        self._remove(current)
        return current.cancelled(reason)

    def cancel_all(self, account_id: str, *, reason: CancelReason = CancelReason.USER) -> tuple[Order, ...]:
        """Cancel every resting order of one account (e.g. first step of a liquidation)."""
        return tuple(self._cancel_known(o, reason) for o in self.orders_of(account_id))

    def _cancel_known(self, order: Order, reason: CancelReason) -> Order:
        self._remove(order)
        return order.cancelled(reason)

    def replace(
        self, order_id: str, *, quantity: int, price: Decimal, sequence: int, occurred_at: datetime
    ) -> MatchResult | Rejected:
        """Cancel/replace a resting order atomically (see the module notes on priority)."""
        self._take_sequence(sequence)
        current = self._orders.get(order_id)
        if current is None:
            return _unknown(order_id)
        if type(quantity) is int and quantity <= current.filled_quantity:
            return Rejected(
                RejectReason.QUANTITY_NOT_ABOVE_FILLED,
                "quantity",
                f"new quantity {quantity} must exceed the {current.filled_quantity} already filled",
            )
        amended = current.amended(quantity=quantity, price=price, sequence=sequence)
        denial = validate_order(amended, self.rules) or self._post_only_denial(amended)
        if denial is not None:
            return denial
        if price == current.price and quantity <= current.quantity:
            kept = dataclasses.replace(amended, sequence=current.sequence).rested()
            self._sides[kept.side].update(kept)
            self._orders[kept.order_id] = kept
            return MatchResult(kept)
        self._remove(current)
        return self._execute(amended, occurred_at)

    # --- matching -----------------------------------------------------------------------

    def _admit(self, order: Order) -> None:
        if order.instrument_id != self.instrument_id:
            raise InstrumentMismatch(self.instrument_id, order.instrument_id)
        if order.status is not OrderStatus.NEW or order.filled_quantity:
            raise InvalidValue("status", order.status.value, "only a new, unfilled order can be submitted")
        if order.order_id in self._orders:
            raise InvalidBookState("an order with this id is already resting", order.order_id)
        self._take_sequence(order.sequence)

    def _take_sequence(self, sequence: int) -> None:
        if sequence <= self._last_sequence:
            raise StaleSequence(sequence, self._last_sequence)
        self._last_sequence = sequence

    def _post_only_denial(self, order: Order) -> Rejected | None:
        best = self._sides[order.side.opposite].best()
        if not order.post_only or best is None or not order.crosses(best):
            return None
        return Rejected(
            RejectReason.POST_ONLY_WOULD_CROSS,
            "price",
            f"post-only {order.side.value} at {order.price} would cross the best opposite price {best}",
        )

    def _execute(self, taker: Order, at: datetime) -> MatchResult:
        plan = self._plan(taker, at)
        if taker.time_in_force is TimeInForce.FOK and plan.filled < taker.remaining_quantity:
            return MatchResult(taker.cancelled(CancelReason.FOK_NOT_FILLABLE))
        for maker in plan.makers:
            if maker.is_terminal:
                self._remove(maker)
            else:
                self._update(maker)
        return MatchResult(self._finish(taker, plan), plan.fills, plan.makers)

    def _plan(self, taker: Order, at: datetime) -> _Plan:
        """What matching would do, computed without touching the book."""
        remaining, fills, makers = taker.remaining_quantity, [], []
        mode = taker.self_trade_prevention
        for maker in self._sides[taker.side.opposite].in_priority():
            if remaining == 0 or not taker.crosses(maker.price):
                break
            if maker.account_id == taker.account_id:
                if mode is not SelfTradePrevention.CANCEL_TAKER:
                    makers.append(maker.cancelled(CancelReason.SELF_TRADE))
                if mode is not SelfTradePrevention.CANCEL_RESTING:
                    return _Plan(tuple(fills), tuple(makers), taker.remaining_quantity - remaining, True)
                continue
            quantity = min(remaining, maker.remaining_quantity)
            fills.append(self._fill(taker, maker, quantity, at, number=len(fills) + 1))
            makers.append(maker.with_fill(quantity))
            remaining -= quantity
        return _Plan(tuple(fills), tuple(makers), taker.remaining_quantity - remaining, False)

    def _fill(self, taker: Order, maker: Order, quantity: int, at: datetime, *, number: int) -> Fill:
        buy, sell = (taker, maker) if taker.side is Side.BUY else (maker, taker)
        return Fill(
            fill_id=f"{self.instrument_id}-{taker.sequence}-{number}",
            instrument_id=self.instrument_id,
            price=maker.price,
            quantity=quantity,
            occurred_at=at,
            buyer_account_id=buy.account_id,
            seller_account_id=sell.account_id,
            buy_order_id=buy.order_id,
            sell_order_id=sell.order_id,
            aggressor=taker.side,
        )

    def _finish(self, taker: Order, plan: _Plan) -> Order:
        if plan.filled:
            taker = taker.with_fill(plan.filled)
        if taker.status is OrderStatus.FILLED:
            return taker
        if plan.self_trade_stop:
            return taker.cancelled(CancelReason.SELF_TRADE)
        if taker.order_type is OrderType.MARKET or taker.time_in_force is not TimeInForce.GTC:
            return taker.cancelled(CancelReason.IOC_REMAINDER)
        rested = taker.rested()
        self._add(rested)
        return rested

    # --- index maintenance --------------------------------------------------------------

    def _add(self, order: Order) -> None:
        self._sides[order.side].add(order)
        self._orders[order.order_id] = order

    def _update(self, order: Order) -> None:
        self._sides[order.side].update(order)
        self._orders[order.order_id] = order

    def _remove(self, order: Order) -> None:
        self._sides[order.side].remove(order)
        del self._orders[order.order_id]


def _unknown(order_id: str) -> Rejected:
    return Rejected(RejectReason.UNKNOWN_ORDER, "order_id", f"order {order_id!r} is not resting in this book")

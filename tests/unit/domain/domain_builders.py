"""Small builders for domain tests: readable orders, books and times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import count

from hashedge.domain.book import OrderBook
from hashedge.domain.orders import Order, OrderType, SelfTradePrevention, Side, TimeInForce, TradingRules

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
INSTRUMENT = "HP-2026-12"
RULES = TradingRules(INSTRUMENT, tick_size=Decimal("0.5"))


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Orders:
    """Makes orders with increasing sequence numbers and readable ids (o1, o2, ...)."""

    def __init__(self, first_sequence: int = 1):
        self._sequence = count(first_sequence)

    def next_sequence(self) -> int:
        return next(self._sequence)

    def make(
        self,
        account: str,
        side: str,
        quantity: int,
        price: str | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        tif: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        stp: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING,
        instrument: str = INSTRUMENT,
    ) -> Order:
        sequence = self.next_sequence()
        return Order(
            order_id=f"o{sequence}",
            account_id=account,
            instrument_id=instrument,
            side=Side(side),
            quantity=quantity,
            price=None if price is None else Decimal(price),
            order_type=order_type,
            time_in_force=tif,
            post_only=post_only,
            self_trade_prevention=stp,
            sequence=sequence,
            created_at=at(sequence),
        )

    def buy(self, account: str, quantity: int, price: str | None = None, **kw) -> Order:
        return self.make(account, "buy", quantity, price, **kw)

    def sell(self, account: str, quantity: int, price: str | None = None, **kw) -> Order:
        return self.make(account, "sell", quantity, price, **kw)

    def market(self, account: str, side: str, quantity: int, tif: TimeInForce = TimeInForce.IOC) -> Order:
        return self.make(account, side, quantity, order_type=OrderType.MARKET, tif=tif)


def book_with(*resting: Order) -> OrderBook:
    """A book where each given order was submitted in turn (each must rest without matching)."""
    book = OrderBook(RULES)
    for order in resting:
        result = book.submit(order)
        assert result.accepted and not result.fills, result
    return book

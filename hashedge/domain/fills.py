"""Fills: one execution of ``quantity`` contracts between a buyer and a seller at one price.

A fill from the book has a maker (the resting order, whose price is the fill price) and a
taker (the incoming order, ``aggressor`` is its side). An OTC block trade is a fill with no
aggressor and no order ids: neither party is maker or taker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hashedge.domain.errors import InvalidValue, NotAParty
from hashedge.domain.orders import Side
from hashedge.domain.units import require_price


@dataclass(frozen=True, kw_only=True)
class Fill:
    fill_id: str
    instrument_id: str
    price: Decimal
    quantity: int
    occurred_at: datetime
    buyer_account_id: str
    seller_account_id: str
    buy_order_id: str | None = None
    sell_order_id: str | None = None
    aggressor: Side | None = None

    def __post_init__(self) -> None:
        if self.aggressor is not None:
            object.__setattr__(self, "aggressor", Side(self.aggressor))
        require_price(self.price)
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) or self.quantity <= 0:
            raise InvalidValue("quantity", self.quantity, "a fill quantity is a positive int")
        if self.buyer_account_id == self.seller_account_id:
            raise InvalidValue("seller_account_id", self.seller_account_id, "an account cannot trade with itself")
        if self.occurred_at.tzinfo is None:
            raise InvalidValue("occurred_at", self.occurred_at, "must be timezone-aware (UTC)")

    @classmethod
    def block_trade(
        cls,
        *,
        fill_id: str,
        instrument_id: str,
        buyer_account_id: str,
        seller_account_id: str,
        quantity: int,
        price: Decimal,
        occurred_at: datetime,
    ) -> Fill:
        """A negotiated OTC trade booked by the desk (no maker, no taker)."""
        return cls(
            fill_id=fill_id,
            instrument_id=instrument_id,
            price=price,
            quantity=quantity,
            occurred_at=occurred_at,
            buyer_account_id=buyer_account_id,
            seller_account_id=seller_account_id,
        )

    def side_of(self, account_id: str) -> Side:
        if account_id == self.buyer_account_id:
            return Side.BUY
        if account_id == self.seller_account_id:
            return Side.SELL
        raise NotAParty(account_id, self.fill_id)

    def signed_quantity_for(self, account_id: str) -> int:
        """+quantity for the buyer, -quantity for the seller."""
        return self.side_of(account_id).sign * self.quantity

    @property
    def taker_account_id(self) -> str | None:
        if self.aggressor is None:
            return None
        return self.buyer_account_id if self.aggressor is Side.BUY else self.seller_account_id

    @property
    def maker_account_id(self) -> str | None:
        if self.aggressor is None:
            return None
        return self.seller_account_id if self.aggressor is Side.BUY else self.buyer_account_id

    @property
    def taker_order_id(self) -> str | None:
        if self.aggressor is None:
            return None
        return self.buy_order_id if self.aggressor is Side.BUY else self.sell_order_id

    @property
    def maker_order_id(self) -> str | None:
        if self.aggressor is None:
            return None
        return self.sell_order_id if self.aggressor is Side.BUY else self.buy_order_id

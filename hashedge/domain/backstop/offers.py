"""Standing backstop offers and what the liquidation stages record about them (BACKSTOP.md §4).

An offer takes over up to ``remaining`` contracts of ``instrument_id`` on ``side`` (a buy offer
takes over longs being sold) at no worse, for its owner, than the mark less ``max_discount_bps``:
a buy offer pays at most ``mark x (1 - bps/10,000)``, a sell offer receives at least
``mark x (1 + bps/10,000)``, on the tick in the owner's favour.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hashedge.domain.orders import Side
from hashedge.domain.units import Rounding, exact, round_to_tick

MAX_DISCOUNT_BPS = 2_500  # 25%: the widest liquidation band the parameters allow


@dataclass(frozen=True)
class BackstopOffer:
    offer_id: int  # time priority: lower first
    account_id: str
    instrument_id: str
    side: Side  # the side the backstopper takes
    remaining: int  # contracts it still takes
    max_discount_bps: int


@dataclass(frozen=True)
class OfferFill:
    offer_id: int
    quantity: int


@dataclass(frozen=True)
class SkippedOffer:
    offer_id: int
    step: int
    reason: str  # initial_margin (its owner would breach initial margin) | price (beyond what the account allows)


def offer_price(offer: BackstopOffer, mark: Decimal, tick_size: Decimal) -> Decimal:
    """The offer's price: its worst, on the tick in its owner's favour, at least one tick."""
    discount = exact(Decimal(offer.max_discount_bps)) / 10_000
    if offer.side is Side.BUY:
        return max(round_to_tick(exact(mark) * (1 - discount), tick_size, Rounding.DOWN), tick_size)
    return round_to_tick(exact(mark) * (1 + discount), tick_size, Rounding.UP)


def pool_price(side: Side, mark: Decimal, discount_ratio: Decimal, tick_size: Decimal) -> Decimal:
    """The pool's takeover price when it takes ``side``: the mark less the governed discount."""
    discount = exact(discount_ratio)
    if side is Side.BUY:
        return max(round_to_tick(exact(mark) * (1 - discount), tick_size, Rounding.DOWN), tick_size)
    return round_to_tick(exact(mark) * (1 + discount), tick_size, Rounding.UP)

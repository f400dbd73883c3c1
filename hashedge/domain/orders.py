"""Orders: sides, types, time in force, self-trade prevention, states, and validation.

An order is an immutable value; every state change returns a new ``Order``. Quantities are
integer contracts, prices ``Decimal`` in the instrument's quote unit.

Order styles (``order_style`` maps the API's ``type`` names):

==============  ==========  =============  =========  ===========================================
API ``type``    order_type  time_in_force  post_only  behaviour
==============  ==========  =============  =========  ===========================================
``limit``       limit       gtc            no         matches what crosses, rests the remainder
``market``      market      ioc            no         matches at any price, cancels the remainder
``ioc``         limit       ioc            no         matches what crosses, cancels the remainder
``fok``         limit       fok            no         fills completely at once, or does nothing
``post_only``   limit       gtc            yes        rests only; rejected if it would cross
==============  ==========  =============  =========  ===========================================

A market order may also be FOK. Market orders carry no price and no protection band: a
service that wants one sends a limit IOC at the band's edge instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum

from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import InvalidValue
from hashedge.domain.units import is_on_tick, require_price


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1


class OrderType(str, Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(str, Enum):
    GTC = "gtc"  # good till cancelled: the remainder rests
    IOC = "ioc"  # immediate or cancel: the remainder is cancelled
    FOK = "fok"  # fill or kill: all of it at once, or nothing


class SelfTradePrevention(str, Enum):
    """What happens when an order would match a resting order of the same account."""

    CANCEL_RESTING = "cancel_resting"  # cancel the resting order, keep matching (default)
    CANCEL_TAKER = "cancel_taker"  # cancel what is left of the incoming order
    CANCEL_BOTH = "cancel_both"  # cancel both


DEFAULT_SELF_TRADE_PREVENTION = SelfTradePrevention.CANCEL_RESTING


class OrderStatus(str, Enum):
    NEW = "new"  # not yet submitted to the book
    OPEN = "open"  # resting, nothing filled
    PARTIALLY_FILLED = "partially_filled"  # resting, or in the middle of matching
    FILLED = "filled"
    CANCELLED = "cancelled"  # possibly after partial fills; see cancel_reason
    REJECTED = "rejected"  # refused before matching; see the MatchResult's Rejected


class CancelReason(str, Enum):
    USER = "user"
    IOC_REMAINDER = "ioc_remainder"  # IOC and market orders: what did not fill at once
    FOK_NOT_FILLABLE = "fok_not_fillable"
    SELF_TRADE = "self_trade"
    LIQUIDATION = "liquidation"
    EXPIRY = "expiry"


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})
_RESTING = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


@dataclass(frozen=True)
class OrderStyle:
    order_type: OrderType
    time_in_force: TimeInForce
    post_only: bool = False


ORDER_STYLES = {
    "limit": OrderStyle(OrderType.LIMIT, TimeInForce.GTC),
    "market": OrderStyle(OrderType.MARKET, TimeInForce.IOC),
    "ioc": OrderStyle(OrderType.LIMIT, TimeInForce.IOC),
    "fok": OrderStyle(OrderType.LIMIT, TimeInForce.FOK),
    "post_only": OrderStyle(OrderType.LIMIT, TimeInForce.GTC, post_only=True),
}


def order_style(name: str) -> OrderStyle | Rejected:
    """The style for an API ``type`` name, or a denial naming the ``type`` field."""
    style = ORDER_STYLES.get(name)
    if style is None:
        allowed = ", ".join(ORDER_STYLES)
        message = f"unknown order type {name!r}; use one of {allowed}"
        return Rejected(RejectReason.UNKNOWN_ORDER_TYPE, "type", message)
    return style


@dataclass(frozen=True)
class TradingRules:
    """What the book checks on every order of one instrument."""

    instrument_id: str
    tick_size: Decimal
    lot_size: int = 1
    min_quantity: int = 1
    max_quantity: int | None = None

    def __post_init__(self) -> None:
        tick = require_price(self.tick_size, "tick_size")
        if tick <= 0:
            raise InvalidValue("tick_size", tick, "must be positive")
        for field in ("lot_size", "min_quantity"):
            if _require_int(getattr(self, field), field) < 1:
                raise InvalidValue(field, getattr(self, field), "must be at least 1")
        if self.max_quantity is not None and _require_int(self.max_quantity, "max_quantity") < self.min_quantity:
            raise InvalidValue("max_quantity", self.max_quantity, "must be at least min_quantity")


def _require_int(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, value, f"must be an int, not {type(value).__name__}")
    return value


@dataclass(frozen=True, kw_only=True)
class Order:
    """An order and its state. ``quantity`` is the total ever asked for (filled included).

    ``sequence`` is the arrival number given by the caller, strictly increasing per
    instrument; among resting orders at one price the lower sequence has priority.
    """

    order_id: str
    account_id: str
    instrument_id: str
    side: Side
    quantity: int
    sequence: int
    created_at: datetime
    order_type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = DEFAULT_SELF_TRADE_PREVENTION
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: int = 0
    cancel_reason: CancelReason | None = None

    def __post_init__(self) -> None:
        for field, enum in (
            ("side", Side),
            ("order_type", OrderType),
            ("time_in_force", TimeInForce),
            ("self_trade_prevention", SelfTradePrevention),
            ("status", OrderStatus),
        ):
            object.__setattr__(self, field, enum(getattr(self, field)))
        if self.cancel_reason is not None:
            object.__setattr__(self, "cancel_reason", CancelReason(self.cancel_reason))
        self._check_types()
        self._check_state()

    def _check_types(self) -> None:
        _require_int(self.quantity, "quantity")
        _require_int(self.filled_quantity, "filled_quantity")
        if _require_int(self.sequence, "sequence") < 0:
            raise InvalidValue("sequence", self.sequence, "must not be negative")
        if self.price is not None and not isinstance(self.price, Decimal):
            raise InvalidValue("price", self.price, f"must be a Decimal or None, not {type(self.price).__name__}")
        if not isinstance(self.post_only, bool):
            raise InvalidValue("post_only", self.post_only, "must be a bool")
        if self.created_at.tzinfo is None:
            raise InvalidValue("created_at", self.created_at, "must be timezone-aware (UTC)")

    def _check_state(self) -> None:
        filled, status = self.filled_quantity, self.status
        if filled < 0 or filled > max(self.quantity, 0):
            raise InvalidValue("filled_quantity", filled, f"must be within 0..{self.quantity}")
        expected = {
            OrderStatus.OPEN: filled == 0 and self.quantity > 0,
            OrderStatus.PARTIALLY_FILLED: 0 < filled < self.quantity,
            OrderStatus.FILLED: filled == self.quantity > 0,
        }.get(status, True)
        if not expected:
            raise InvalidValue("status", status.value, f"inconsistent with {filled} of {self.quantity} filled")
        if (status is OrderStatus.CANCELLED) != (self.cancel_reason is not None):
            message = f"must be set exactly when cancelled ({status.value})"
            raise InvalidValue("cancel_reason", self.cancel_reason, message)

    # --- reading -----------------------------------------------------------------------

    @property
    def remaining_quantity(self) -> int:
        """What is still to fill; zero once the order is terminal."""
        if self.status in _TERMINAL:
            return 0
        return max(self.quantity - self.filled_quantity, 0)

    @property
    def is_resting(self) -> bool:
        return self.status in _RESTING and self.order_type is OrderType.LIMIT

    @property
    def is_terminal(self) -> bool:
        return self.status in _TERMINAL

    def crosses(self, price: Decimal) -> bool:
        """Whether this order is willing to trade at ``price`` (market orders at any price)."""
        if self.order_type is OrderType.MARKET:
            return True
        assert self.price is not None
        return price <= self.price if self.side is Side.BUY else price >= self.price

    # --- state changes (each returns a new Order) ---------------------------------------

    def with_fill(self, quantity: int) -> Order:
        filled = self.filled_quantity + quantity
        status = OrderStatus.FILLED if filled == self.quantity else OrderStatus.PARTIALLY_FILLED
        return dataclasses.replace(self, filled_quantity=filled, status=status)

    def cancelled(self, reason: CancelReason) -> Order:
        return dataclasses.replace(self, status=OrderStatus.CANCELLED, cancel_reason=CancelReason(reason))

    def rejected(self) -> Order:
        return dataclasses.replace(self, status=OrderStatus.REJECTED)

    def rested(self) -> Order:
        status = OrderStatus.OPEN if self.filled_quantity == 0 else OrderStatus.PARTIALLY_FILLED
        return dataclasses.replace(self, status=status)

    def amended(self, *, quantity: int, price: Decimal, sequence: int) -> Order:
        """The order with a new total quantity, price and sequence (status recomputed later)."""
        return dataclasses.replace(self, quantity=quantity, price=price, sequence=sequence, status=OrderStatus.NEW)


# --- validation: denials as data ---------------------------------------------------------


def validate_order(order: Order, rules: TradingRules) -> Rejected | None:
    """Why the book would refuse ``order`` before matching, or ``None``."""
    return _validate_quantity(order.quantity, rules) or _validate_style(order) or _validate_price(order, rules)


def _validate_quantity(quantity: int, rules: TradingRules) -> Rejected | None:
    def deny(reason: RejectReason, message: str) -> Rejected:
        return Rejected(reason, "quantity", message)

    if quantity <= 0:
        return deny(RejectReason.QUANTITY_NOT_POSITIVE, f"quantity must be positive, got {quantity}")
    if quantity % rules.lot_size:
        message = f"quantity {quantity} is not a multiple of the lot size {rules.lot_size}"
        return deny(RejectReason.QUANTITY_NOT_MULTIPLE_OF_LOT, message)
    if quantity < rules.min_quantity:
        message = f"quantity {quantity} is below the minimum {rules.min_quantity}"
        return deny(RejectReason.QUANTITY_BELOW_MINIMUM, message)
    if rules.max_quantity is not None and quantity > rules.max_quantity:
        message = f"quantity {quantity} is above the maximum {rules.max_quantity}"
        return deny(RejectReason.QUANTITY_ABOVE_MAXIMUM, message)
    return None


def _validate_style(order: Order) -> Rejected | None:
    if order.order_type is OrderType.MARKET:
        if order.price is not None:
            return Rejected(RejectReason.PRICE_NOT_ALLOWED, "price", "a market order takes no price")
        if order.time_in_force is TimeInForce.GTC:
            reason = RejectReason.MARKET_ORDER_MUST_BE_IOC_OR_FOK
            return Rejected(reason, "time_in_force", "a market order cannot rest")
    gtc_limit = order.order_type is OrderType.LIMIT and order.time_in_force is TimeInForce.GTC
    if order.post_only and not gtc_limit:
        return Rejected(RejectReason.POST_ONLY_MUST_BE_GTC_LIMIT, "post_only", "post-only applies to GTC limit orders")
    return None


def _validate_price(order: Order, rules: TradingRules) -> Rejected | None:
    def deny(reason: RejectReason, message: str) -> Rejected:
        return Rejected(reason, "price", message)

    price = order.price
    if order.order_type is OrderType.MARKET:
        return None
    if price is None:
        return deny(RejectReason.PRICE_REQUIRED, "a limit order needs a price")
    if not price.is_finite():
        return deny(RejectReason.PRICE_INVALID, f"price must be a finite number, got {price}")
    if price <= 0:
        return deny(RejectReason.PRICE_NOT_POSITIVE, f"price must be positive, got {price}")
    if not is_on_tick(price, rules.tick_size):
        message = f"price {price} is not a multiple of the tick size {rules.tick_size}"
        return deny(RejectReason.PRICE_NOT_ON_TICK, message)
    return None

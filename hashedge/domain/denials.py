"""Expected business denials, returned as data: what was refused, why, and which field.

A denial is not an error: a price off the tick or a withdrawal above free collateral is
an ordinary answer the user can act on. Services pass it on (the API as a 4xx with field
details, the desk as a form error); nothing is raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class RejectReason(str, Enum):
    # order quantity
    QUANTITY_NOT_POSITIVE = "quantity_not_positive"
    QUANTITY_NOT_MULTIPLE_OF_LOT = "quantity_not_multiple_of_lot"
    QUANTITY_BELOW_MINIMUM = "quantity_below_minimum"
    QUANTITY_ABOVE_MAXIMUM = "quantity_above_maximum"
    QUANTITY_NOT_ABOVE_FILLED = "quantity_not_above_filled"
    # order price and style
    PRICE_REQUIRED = "price_required"
    PRICE_NOT_ALLOWED = "price_not_allowed"
    PRICE_INVALID = "price_invalid"
    PRICE_NOT_POSITIVE = "price_not_positive"
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    PRICE_OUTSIDE_BAND = "price_outside_band"
    MARKET_ORDER_MUST_BE_IOC_OR_FOK = "market_order_must_be_ioc_or_fok"
    POST_ONLY_MUST_BE_GTC_LIMIT = "post_only_must_be_gtc_limit"
    UNKNOWN_ORDER_TYPE = "unknown_order_type"
    # book
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    UNKNOWN_ORDER = "unknown_order"
    # collateral
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    INSUFFICIENT_FREE_COLLATERAL = "insufficient_free_collateral"


@dataclass(frozen=True)
class Rejected:
    """A refusal with a machine-readable reason, the offending field and a one-line message.

    ``shortfall_sats`` is set when the denial is about money (how much is missing).
    """

    reason: RejectReason
    field: str | None
    message: str
    shortfall_sats: int | None = None

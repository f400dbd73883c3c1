"""Positions: net quantity per (account, instrument), average entry price, realized PnL.

A position changes only by applying facts: ``apply(fill)`` for a trade, ``mark_to(price)``
for daily variation margin. Each returns a new ``Position``.

Conventions
-----------
- ``quantity`` is signed: positive long, negative short, zero flat.
- ``multiplier`` is sats per one unit of price per contract (from the instrument), so
  PnL in sats = (exit price - entry price) x signed quantity x multiplier.
- Average cost: the position keeps ``open_value``, the signed entry value of the open
  quantity (sum of price x signed quantity, in price units x contracts), and
  ``average_price = open_value / quantity``. Adding to a position adds the fill's value;
  reducing removes the closed share ``open_value x closed / quantity``, rounded half-even to
  12 decimal places (the only rounding of a price-like amount, far below a satoshi); closing
  removes all of it, so a round trip realizes exactly the cash it made. Flipping through
  zero starts again at the fill price. Flat is ``open_value == 0``.
- ``realized_pnl_sats`` is the running total of PnL crystallized into collateral: by
  reducing, closing or flipping, and by re-marking (``mark_to``). Each crystallization is
  computed exactly and rounded once, down (towards -infinity, against the account: a gain
  of 10.7 sats is 10, a loss of 10.3 sats is -11), and is what the service posts; the
  difference between two positions' ``realized_pnl_sats`` is the amount of one posting.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import Enum
from fractions import Fraction

from hashedge.domain.errors import InstrumentMismatch, InvalidValue
from hashedge.domain.fills import Fill
from hashedge.domain.units import PNL_ROUNDING, exact, require_price, require_sats, to_sats

OPEN_VALUE_PLACES = Decimal("1e-12")
_PRICE_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)


class PositionSide(str, Enum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"


def pnl_sats(entry_price: Decimal, exit_price: Decimal, quantity: int, multiplier: Decimal) -> int:
    """(exit - entry) x signed quantity x multiplier, computed exactly, rounded down once."""
    value = (exact(exit_price, "exit_price") - exact(entry_price, "entry_price")) * quantity * exact(multiplier)
    return to_sats(value, PNL_ROUNDING)


def _value_pnl_sats(exit_value: Fraction, entry_value: Fraction, multiplier: Decimal) -> int:
    return to_sats((exit_value - entry_value) * exact(multiplier), PNL_ROUNDING)


def _exact_decimal(value: Fraction) -> Decimal:
    """The Decimal exactly equal to ``value``, whose denominator must divide a power of ten."""
    places, scaled = 0, value
    while scaled.denominator != 1:
        if places > 60:
            raise InvalidValue("value", value, "is not a finite decimal")
        places, scaled = places + 1, scaled * 10
    digits = Decimal(abs(scaled.numerator)).as_tuple().digits
    return Decimal((int(scaled < 0), digits, -places))


def _round_places(value: Fraction) -> Decimal:
    """``value`` rounded half-even to ``OPEN_VALUE_PLACES`` (12 decimal places), exactly."""
    scale = Fraction(1) / Fraction(OPEN_VALUE_PLACES)
    return _exact_decimal(Fraction(round(value * scale)) / scale)


@dataclass(frozen=True, kw_only=True)
class Position:
    account_id: str
    instrument_id: str
    multiplier: Decimal
    quantity: int = 0
    open_value: Decimal = Decimal(0)
    realized_pnl_sats: int = 0

    def __post_init__(self) -> None:
        if require_price(self.multiplier, "multiplier") <= 0:
            raise InvalidValue("multiplier", self.multiplier, "must be positive")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int):
            raise InvalidValue("quantity", self.quantity, "must be an int number of contracts")
        require_price(self.open_value, "open_value")
        require_sats(self.realized_pnl_sats, "realized_pnl_sats")
        if self.quantity == 0 and self.open_value != 0:
            raise InvalidValue("open_value", self.open_value, "a flat position has no open value")

    @property
    def side(self) -> PositionSide:
        if self.quantity > 0:
            return PositionSide.LONG
        return PositionSide.SHORT if self.quantity < 0 else PositionSide.FLAT

    @property
    def average_price(self) -> Decimal:
        """Average entry price of the open quantity (34 significant digits); 0 when flat."""
        if self.quantity == 0:
            return Decimal(0)
        return _PRICE_CONTEXT.divide(self.open_value, Decimal(self.quantity))

    def apply(self, fill: Fill) -> Position:
        """The position after ``fill`` (this account must be its buyer or its seller)."""
        if fill.instrument_id != self.instrument_id:
            raise InstrumentMismatch(self.instrument_id, fill.instrument_id)
        change, price = fill.signed_quantity_for(self.account_id), Fraction(fill.price)
        held, value = self.quantity, Fraction(self.open_value)
        if held == 0 or (held > 0) == (change > 0):
            return dataclasses.replace(self, quantity=held + change, open_value=_exact_decimal(value + price * change))
        after = held + change
        if abs(change) < abs(held):  # reduce: remove the closed share of the entry value
            closed = -change
            removed = Fraction(_round_places(value * closed / held))
            remaining_value = value - removed
        else:  # close, or close and open the other way at the fill price
            closed, removed, remaining_value = held, value, price * after
        realized = _value_pnl_sats(price * closed, removed, self.multiplier)
        return dataclasses.replace(
            self,
            quantity=after,
            open_value=_exact_decimal(remaining_value),
            realized_pnl_sats=self.realized_pnl_sats + realized,
        )

    def unrealized_pnl_sats(self, mark_price: Decimal) -> int:
        """PnL of the open quantity at ``mark_price``, rounded down (as it would be posted)."""
        mark = exact(require_price(mark_price, "mark_price"))
        return _value_pnl_sats(mark * self.quantity, exact(self.open_value), self.multiplier)

    def mark_to(self, settlement_price: Decimal) -> Position:
        """Re-mark at a settlement price (variation margin): the open PnL is crystallized and
        the open quantity is re-valued at the settlement price. A flat position is unchanged."""
        if self.quantity == 0:
            return self
        realized = self.unrealized_pnl_sats(settlement_price)
        value = _exact_decimal(Fraction(settlement_price) * self.quantity)
        return dataclasses.replace(self, open_value=value, realized_pnl_sats=self.realized_pnl_sats + realized)

    def expire(self, final_price: Decimal) -> Position:
        """Final settlement: crystallize the open PnL at ``final_price`` and close the position."""
        settled = self.mark_to(final_price)
        return dataclasses.replace(settled, quantity=0, open_value=Decimal(0))

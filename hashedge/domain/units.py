"""Units: money is an ``int`` of satoshis, prices are ``Decimal``, rounding happens once.

Conventions
-----------
- An amount of money is a plain ``int`` of satoshis (``amount_sats``). ``bool`` is not an
  amount (it is an ``int`` subclass in Python), nor is ``float`` or ``Decimal``.
- A price is a finite ``Decimal`` in the instrument's quote unit (e.g. sats per PH/s per day
  for hashprice, difficulty units for difficulty futures). A ``float`` is never accepted.
- Arithmetic that produces money from prices is done exactly (``fractions.Fraction``) and
  rounded once, at the point it becomes satoshis, in a stated direction:

  * ``Rounding.UP`` (towards +infinity): anything the platform *requires or charges*
    (margin required, fees);
  * ``Rounding.DOWN`` (towards -infinity): anything *paid out or credited* (PnL,
    settlement payouts). A gain of 10.7 sats credits 10; a loss of 10.3 sats debits 11.
    Rounding always goes against the account, so the platform never pays out a fraction it
    does not hold; the sub-satoshi residue stays in the settlement clearing account.
"""

from __future__ import annotations

import functools
import math
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from hashedge.domain.errors import InvalidValue

SATS_PER_BTC = 100_000_000


class Rounding(str, Enum):
    UP = "up"  # ceiling, towards +infinity
    DOWN = "down"  # floor, towards -infinity


MARGIN_ROUNDING = Rounding.UP
FEE_ROUNDING = Rounding.UP
PAYOUT_ROUNDING = Rounding.DOWN
PNL_ROUNDING = Rounding.DOWN


def require_sats(value: object, field: str = "amount_sats") -> int:
    """Return ``value`` if it is an ``int`` of satoshis; raise ``InvalidValue`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, value, f"must be an int number of satoshis, not {type(value).__name__}")
    return value


def exact(value: Decimal | int | Fraction, field: str = "value") -> Fraction:
    """The exact rational value of a Decimal or int (floats refused, non-finite refused)."""
    kind = type(value)
    if kind is Fraction:
        return value
    if kind is Decimal and value.is_finite():
        return _decimal_fraction(value)
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidValue(field, value, "must be a Decimal or int, not " + type(value).__name__)
    if isinstance(value, Decimal) and not value.is_finite():
        raise InvalidValue(field, value, "must be finite")
    if not isinstance(value, (Decimal, int, Fraction)):
        raise InvalidValue(field, value, "must be a Decimal or int, not " + type(value).__name__)
    return Fraction(value)


@functools.lru_cache(maxsize=8192)
def _decimal_fraction(value: Decimal) -> Fraction:
    # Margin and fees turn the same few marks, multipliers and ratios into fractions over and
    # over; a Fraction is immutable, so one may be shared. Equal Decimals (1.0 and 1.00) have
    # the same exact value, so they may share an entry.
    return Fraction(value)


def to_sats(amount: Decimal | int | Fraction, rounding: Rounding) -> int:
    """Round an exact amount of satoshis to an ``int`` in the stated direction."""
    value = exact(amount, "amount")
    if rounding is not Rounding.UP and rounding is not Rounding.DOWN:
        rounding = Rounding(rounding)
    return math.ceil(value) if rounding is Rounding.UP else math.floor(value)


def btc_to_sats(btc: Decimal) -> int:
    """Exact conversion; a BTC amount with a fraction of a satoshi is refused."""
    sats = exact(btc, "amount_btc") * SATS_PER_BTC
    if sats.denominator != 1:
        raise InvalidValue("amount_btc", btc, "is not a whole number of satoshis")
    return int(sats)


def sats_to_btc(amount_sats: int) -> Decimal:
    return Decimal(require_sats(amount_sats)) / SATS_PER_BTC


def require_price(value: object, field: str = "price") -> Decimal:
    """Return ``value`` if it is a finite Decimal; raise ``InvalidValue`` otherwise."""
    if not isinstance(value, Decimal):
        raise InvalidValue(field, value, f"must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise InvalidValue(field, value, "must be finite")
    return value


def is_on_tick(price: Decimal, tick_size: Decimal) -> bool:
    """True when ``price`` is a whole multiple of ``tick_size`` (both finite Decimals)."""
    return (exact(price, "price") / exact(tick_size, "tick_size")).denominator == 1


def round_to_tick(price: Decimal, tick_size: Decimal, rounding: Rounding) -> Decimal:
    """The nearest multiple of ``tick_size`` in the stated direction (for price bands)."""
    ticks = to_sats(exact(price, "price") / exact(tick_size, "tick_size"), rounding)
    return tick_size * ticks


def notional_sats(price: Decimal, quantity: int, multiplier: Decimal, rounding: Rounding) -> int:
    """price x quantity x multiplier, rounded once; ``multiplier`` is sats per price unit per contract."""
    value = exact(price, "price") * exact(quantity, "quantity") * exact(multiplier, "multiplier")
    return to_sats(value, rounding)

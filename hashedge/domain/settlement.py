"""Final settlement prices from index fixings, and what each side is paid.

Which fixings settle a contract
-------------------------------
- ``AVERAGE_OF_DAILY_FIXINGS`` (monthly hashprice): the mean of one daily fixing per calendar
  day of the window. Day ``d`` is represented by the fixing as of the midnight that closes it,
  ``d + 1`` at 00:00 UTC (the index value at the last block stamped before that midnight). So
  ``HP-2026-12`` averages the 31 daily HASHPRICE fixings as of 2026-12-02T00:00Z through
  2027-01-01T00:00Z, and is fully known at the window end, its last trading time. Every day
  must be present; otherwise ``MissingFixings`` names the missing days.
- ``SINGLE_RETARGET_FIXING`` (BME14, capped BME14, DIFF): the underlying's ``retarget`` fixing
  whose block range ends at the settlement height (the first block of the window's last epoch):
  the record must carry ``end_height`` (as ``indices.fixings.FixingValue`` does), because the
  block's time is not known in advance.

The records are duck-typed (``index``, ``kind``, ``as_of``, ``value``, and ``end_height`` for
retarget fixings), so ``indices.fixings.FixingValue`` and stored rows both work. The caller
passes the *current version* of each fixing (corrections are new versions); two different
values for one fixing raise ``ConflictingFixings``.

Rounding: the exact mean (or the single value) is converted to the quote unit exactly, then
rounded **half-even to the nearest tick**: the one rounding between the chain and the ledger.
A directed rounding would favour one side of a zero-sum contract every time; nearest-tick is
the exchange convention. Everything after it (PnL, payouts) is exact integer sats, because a
tick is worth whole sats (``instruments``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from hashedge.domain.errors import DomainError, InvalidValue
from hashedge.domain.instruments import PRODUCT_TERMS, ContractSpec, EpochWindow, MonthWindow, SettlementRule
from hashedge.domain.positions import pnl_sats
from hashedge.domain.units import PAYOUT_ROUNDING, exact, require_price, to_sats

DAILY_FIXING = "daily"  # indices.fixings.DAILY
RETARGET_FIXING = "retarget"  # indices.fixings.RETARGET


class FixingLike(Protocol):
    index: str
    kind: str
    as_of: datetime
    value: Decimal


class MissingFixings(DomainError):
    """The fixings a settlement needs are not all there; ``missing`` lists what is absent."""

    def __init__(self, symbol: str, missing: tuple, what: str):
        super().__init__(f"cannot settle {symbol}: missing {what}")
        self.symbol, self.missing = symbol, missing


class ConflictingFixings(DomainError):
    """Two records of one fixing with different values (pass only the current version)."""

    def __init__(self, symbol: str, as_of: datetime, values: tuple[Decimal, ...]):
        listed = ", ".join(str(v) for v in values)
        super().__init__(f"cannot settle {symbol}: fixing as of {as_of.isoformat()} has values {listed}")
        self.symbol, self.as_of, self.values = symbol, as_of, values


def daily_fixing_times(window: MonthWindow) -> list[datetime]:
    """As-of times of the daily fixings a month settles on: each day's closing midnight."""
    return [window.start + timedelta(days=day) for day in range(1, window.days + 1)]


def quote_from_index(spec: ContractSpec, index_value: Decimal | int | Fraction) -> Fraction:
    """An index value in the contract's quote unit, exactly (e.g. BME14 x 10**11 -> sats/PH/day)."""
    return exact(index_value, "index_value") * PRODUCT_TERMS[spec.product].index_to_quote


def round_to_tick(spec: ContractSpec, value: Fraction | Decimal | int) -> Decimal:
    """``value`` (in the quote unit) rounded half-even to the nearest tick, as a Decimal."""
    ticks = round(exact(value, "value") / exact(spec.tick_size))  # Fraction rounds half-even
    return spec.tick_size * ticks


def settlement_price(spec: ContractSpec, fixings: Iterable[FixingLike]) -> Decimal:
    """The final settlement price in the quote unit, on the tick (module docstring)."""
    relevant = [f for f in fixings if f.index == spec.underlying]
    if spec.settlement_rule is SettlementRule.AVERAGE_OF_DAILY_FIXINGS:
        assert isinstance(spec.window, MonthWindow)
        mean = _mean_of_daily(spec, relevant, spec.window)
        return round_to_tick(spec, quote_from_index(spec, mean))
    assert isinstance(spec.window, EpochWindow)
    value = _retarget_value(spec, relevant, spec.window)
    return round_to_tick(spec, quote_from_index(spec, value))


def _mean_of_daily(spec: ContractSpec, fixings: list[FixingLike], window: MonthWindow) -> Fraction:
    wanted = daily_fixing_times(window)
    found: dict[datetime, Decimal] = {}
    for fixing in fixings:
        if fixing.kind == DAILY_FIXING and fixing.as_of in wanted:
            _keep_one(spec, found, fixing.as_of, fixing.value)
    missing = tuple(_day_closed_by(t) for t in wanted if t not in found)
    if missing:
        days = ", ".join(d.isoformat() for d in missing)
        raise MissingFixings(spec.symbol, missing, f"the daily {spec.underlying} fixing for {days}"
                             " (each day's fixing is the one as of the following midnight UTC)")
    return sum((exact(found[t], "value") for t in wanted), Fraction(0)) / len(wanted)


def _retarget_value(spec: ContractSpec, fixings: list[FixingLike], window: EpochWindow) -> Decimal:
    height = window.settlement_height
    found: dict[datetime, Decimal] = {}
    for fixing in fixings:
        if fixing.kind == RETARGET_FIXING and getattr(fixing, "end_height", None) == height:
            _keep_one(spec, found, fixing.as_of, fixing.value)
    if not found:
        raise MissingFixings(spec.symbol, (height,), f"the retarget {spec.underlying} fixing at height"
                             f" {height} (first block of epoch {window.last})")
    if len(found) > 1:
        times = sorted(found)
        raise ConflictingFixings(spec.symbol, times[0], tuple(found[t] for t in times))
    return next(iter(found.values()))


def _keep_one(spec: ContractSpec, found: dict[datetime, Decimal], as_of: datetime, value: Decimal) -> None:
    require_price(value, "value")
    if as_of in found and found[as_of] != value:
        raise ConflictingFixings(spec.symbol, as_of, (found[as_of], value))
    found[as_of] = value


def _day_closed_by(midnight: datetime) -> date:
    return (midnight - timedelta(days=1)).date()


# --- what the sides receive ---------------------------------------------------------------------


def final_price(spec: ContractSpec, settlement: Decimal) -> Decimal:
    """The price positions expire at: the settlement price, clamped to [floor, cap] if capped."""
    price = require_price(settlement, "settlement_price")
    if spec.is_capped:
        assert spec.floor is not None and spec.cap is not None
        return min(max(price, spec.floor), spec.cap)
    return price


def final_payoff_sats(spec: ContractSpec, quantity: int, entry_price: Decimal, settlement: Decimal) -> int:
    """PnL of ``quantity`` (signed) contracts entered at ``entry_price``, settled at ``settlement``.

    Equal to ``Position.expire(final_price(spec, settlement))`` for a position opened at
    ``entry_price`` (same formula, same rounding: down, against the account).
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidValue("quantity", quantity, "must be an int number of contracts")
    return pnl_sats(entry_price, final_price(spec, settlement), quantity, spec.multiplier)


def capped_payouts_sats(spec: ContractSpec, quantity: int, settlement: Decimal) -> tuple[int, int]:
    """(long, short) payouts of ``quantity`` capped contracts: (P - floor) m q and (cap - P) m q.

    They sum to the range (cap - floor) x multiplier x quantity, which the two sides posted.
    """
    if not spec.is_capped:
        raise InvalidValue("spec", spec.symbol, "is not a capped contract")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise InvalidValue("quantity", quantity, "must be a non-negative int number of contracts")
    assert spec.floor is not None and spec.cap is not None
    price, size = exact(final_price(spec, settlement)), exact(spec.multiplier) * quantity
    long_sats = to_sats((price - exact(spec.floor)) * size, PAYOUT_ROUNDING)
    short_sats = to_sats((exact(spec.cap) - price) * size, PAYOUT_ROUNDING)
    return long_sats, short_sats

"""Instruments: standardized contract specs and their human symbols.

Products
--------
=================  ===============  ==========  ================  ============  ==================
product            symbol           underlying  quote unit        tick          one contract
=================  ===============  ==========  ================  ============  ==================
HASHPRICE_MONTHLY  ``HP-2026-12``   HASHPRICE   sats/PH/day       1 sat         1 PH/s x the days
                                                                                of the month
BME14_EPOCH        ``BME14-E420``   BME14       sats/PH/day       1 sat         1 PH/s x 14 days
BME14_CAPPED       ``BME14C-E420``  BME14       sats/PH/day       1 sat         1 PH/s x 14 days,
                                                                                floor and cap
DIFF_EPOCH         ``DIFF-E421``    DIFF        T (1e12 diff.)    0.01 T        10,000 sats per T
=================  ===============  ==========  ================  ============  ==================

``multiplier`` is what ``hashedge.domain.positions`` calls it: sats per one quote unit per
contract, so PnL in sats = (exit - entry) x signed quantity x multiplier. Its unit times the
quote unit is always sats: (PH/s x days) x (sats per PH/s per day), or (sats per T) x T.

Why these sizes and units
-------------------------
- **1 PH/s** is the hedge unit of the hashprice products (about five current ASICs): a miner
  with 100 PH/s sells 100 contracts. A monthly contract is that hashrate for every day of the
  month (``multiplier`` = 28..31 PH/s x days), an epoch contract for the 14 nominal days of one
  difficulty epoch (``multiplier`` = 14).
- **BME is quoted in sats per PH/s per day**, not in its published BTC per TH/s per day: the
  same unit as hashprice, whole numbers around 40,000 instead of 4e-7. The conversion is an
  exact shift of the decimal point: 1 BTC/TH/day = 10**8 sats x 10**3 TH/PH = 10**11 sats/PH/day.
- **DIFF is quoted in T = 10**12 difficulty units** (about 150 T in 2026), tick 0.01 T; a
  contract pays 10,000 sats per T (notional about 0.015 BTC, like a monthly hashprice contract).
  One PH/s for an epoch loses about 590,000 sats / 150 = 3,900 sats per T of difficulty rise, so a
  miner hedges 100 PH/s for an epoch with about 39 contracts.
- ``tick_size x multiplier`` is a whole number of sats for every product (31, 14 and 100 sats
  per tick): with prices on the tick, PnL, variation margin and settlement are exact integers.
  The only rounding between the chain and the ledger is the settlement price's rounding to the
  tick (``settlement``).

Windows and trading
-------------------
- Monthly: the calendar month ``[start, end)`` in UTC; last trading time = ``end``.
- Epoch: difficulty epochs ``[first, last]``; the contract settles on the underlying's retarget
  fixing at the first block of ``last`` (height ``last * 2016``), and for BME14 and DIFF
  ``first == last``. The last trading time is the *expected* start of that epoch, estimated at
  listing from 600 s blocks (``listing``); because blocks are not on a schedule, trading also
  stops once the chain reaches ``halt_height`` (``last * 2016 - 1``, the block whose timestamp
  fixes the new difficulty): see ``is_trading_open``.
- Capped (``BME14C``): fully collateralized, never liquidated. At settlement price P clamped
  to [floor, cap] the long receives (P - floor) x multiplier and the short (cap - P) x
  multiplier per contract: together exactly the range (cap - floor) x multiplier.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from hashedge.domain.errors import DomainError, InvalidValue
from hashedge.domain.orders import TradingRules
from hashedge.domain.units import exact, require_price

BLOCKS_PER_EPOCH = 2016
BLOCK_INTERVAL = timedelta(seconds=600)
EPOCH_NOMINAL_DAYS = 14
DIFFICULTY_PER_T = 10**12
SATS_PER_PHD_PER_BTC_PER_THD = 10**11  # 10**8 sats/BTC x 10**3 TH/PH


class Product(str, Enum):
    HASHPRICE_MONTHLY = "hashprice_monthly"
    BME14_EPOCH = "bme14_epoch"
    DIFF_EPOCH = "diff_epoch"
    BME14_CAPPED = "bme14_capped"


class SettlementRule(str, Enum):
    AVERAGE_OF_DAILY_FIXINGS = "average_of_daily_fixings"
    SINGLE_RETARGET_FIXING = "single_retarget_fixing"


class InvalidSymbol(DomainError, ValueError):
    """A symbol that names no contract; ``reason`` says what is wrong."""

    def __init__(self, symbol: object, reason: str):
        super().__init__(
            f"invalid symbol {symbol!r}: {reason}. Symbols look like HP-2026-12 (monthly hashprice),"
            " BME14-E420, BME14C-E420 (capped) or DIFF-E421 (epoch futures)"
        )
        self.symbol, self.reason = symbol, reason


@dataclass(frozen=True)
class ProductTerms:
    """What every contract of a product shares."""

    product: Product
    prefix: str
    underlying: str
    index_unit: str
    quote_unit: str
    multiplier_unit: str
    tick_size: Decimal
    settlement_rule: SettlementRule
    index_to_quote: Fraction  # quote value = index value x index_to_quote (exact)
    capped: bool = False


_PHD = "sats/PH/day"
PRODUCT_TERMS: dict[Product, ProductTerms] = {
    Product.HASHPRICE_MONTHLY: ProductTerms(
        Product.HASHPRICE_MONTHLY, "HP", "HASHPRICE", _PHD, _PHD, "PH/s x days", Decimal(1),
        SettlementRule.AVERAGE_OF_DAILY_FIXINGS, Fraction(1)),
    Product.BME14_EPOCH: ProductTerms(
        Product.BME14_EPOCH, "BME14", "BME14", "BTC/TH/day", _PHD, "PH/s x days", Decimal(1),
        SettlementRule.SINGLE_RETARGET_FIXING, Fraction(SATS_PER_PHD_PER_BTC_PER_THD)),
    Product.BME14_CAPPED: ProductTerms(
        Product.BME14_CAPPED, "BME14C", "BME14", "BTC/TH/day", _PHD, "PH/s x days", Decimal(1),
        SettlementRule.SINGLE_RETARGET_FIXING, Fraction(SATS_PER_PHD_PER_BTC_PER_THD), capped=True),
    Product.DIFF_EPOCH: ProductTerms(
        Product.DIFF_EPOCH, "DIFF", "DIFF", "difficulty", "T (1e12 difficulty)", "sats per T",
        Decimal("0.01"), SettlementRule.SINGLE_RETARGET_FIXING, Fraction(1, DIFFICULTY_PER_T)),
}
EPOCH_MULTIPLIER = {
    Product.BME14_EPOCH: Decimal(EPOCH_NOMINAL_DAYS),
    Product.BME14_CAPPED: Decimal(EPOCH_NOMINAL_DAYS),
    Product.DIFF_EPOCH: Decimal(10_000),
}
_BY_PREFIX = {terms.prefix: terms for terms in PRODUCT_TERMS.values()}


@dataclass(frozen=True)
class MonthWindow:
    """A calendar month in UTC: ``[start, end)``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int) or not 2009 <= self.year <= 9998:
            raise InvalidValue("year", self.year, "must be an int year from 2009 to 9998")
        if isinstance(self.month, bool) or not isinstance(self.month, int) or not 1 <= self.month <= 12:
            raise InvalidValue("month", self.month, "must be an int from 1 to 12")

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        return (self.start + timedelta(days=32)).replace(day=1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> MonthWindow:
        return MonthWindow(self.year + self.month // 12, self.month % 12 + 1)

    @classmethod
    def containing(cls, moment: datetime) -> MonthWindow:
        utc = _require_utc(moment, "moment")
        return cls(utc.year, utc.month)


@dataclass(frozen=True)
class EpochWindow:
    """Difficulty epochs ``[first, last]``; settlement at the retarget that starts ``last``."""

    first: int
    last: int

    def __post_init__(self) -> None:
        for field in ("first", "last"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValue(field, value, "must be an int epoch number of at least 1")
        if self.last < self.first:
            raise InvalidValue("last", self.last, f"must not be before the first epoch {self.first}")

    @property
    def settlement_height(self) -> int:
        """The retarget height whose fixing settles the contract (first block of ``last``)."""
        return self.last * BLOCKS_PER_EPOCH

    @property
    def halt_height(self) -> int:
        """Trading stops once the chain reaches this height: its timestamp fixes the new difficulty."""
        return self.settlement_height - 1


Window = MonthWindow | EpochWindow


@dataclass(frozen=True)
class SymbolParts:
    product: Product
    window: Window


def format_symbol(product: Product, window: Window) -> str:
    terms = PRODUCT_TERMS[Product(product)]
    if terms.settlement_rule is SettlementRule.AVERAGE_OF_DAILY_FIXINGS:
        if not isinstance(window, MonthWindow):
            raise InvalidValue("window", window, f"{terms.product.value} needs a calendar month")
        return f"{terms.prefix}-{window.year:04d}-{window.month:02d}"
    if not isinstance(window, EpochWindow) or window.first != window.last:
        raise InvalidValue("window", window, f"{terms.product.value} needs a single difficulty epoch")
    return f"{terms.prefix}-E{window.last}"


_MONTHLY = re.compile(r"^([A-Z0-9]+)-([0-9]{4})-([0-9]{2})$")
_EPOCH = re.compile(r"^([A-Z0-9]+)-E([1-9][0-9]*)$")


def parse_symbol(symbol: str) -> SymbolParts:
    """The product and window a symbol names; ``InvalidSymbol`` says why a symbol is not one."""
    if not isinstance(symbol, str):
        raise InvalidSymbol(symbol, f"a symbol is a string, not {type(symbol).__name__}")
    if symbol != symbol.strip().upper():
        raise InvalidSymbol(symbol, f"symbols are upper case without spaces ({symbol.strip().upper()!r})")
    prefix = symbol.split("-", 1)[0]
    terms = _BY_PREFIX.get(prefix)
    if terms is None:
        raise InvalidSymbol(symbol, f"unknown product prefix {prefix!r} (known: {', '.join(_BY_PREFIX)})")
    if terms.settlement_rule is SettlementRule.AVERAGE_OF_DAILY_FIXINGS:
        match = _MONTHLY.match(symbol)
        if not match:
            raise InvalidSymbol(symbol, f"a {prefix} symbol is {prefix}-YYYY-MM")
        year, month = int(match.group(2)), int(match.group(3))
        if not 1 <= month <= 12:
            raise InvalidSymbol(symbol, f"month {match.group(3)} is not 01 to 12")
        if not 2009 <= year <= 9998:
            raise InvalidSymbol(symbol, f"year {year} is out of range")
        return SymbolParts(terms.product, MonthWindow(year, month))
    match = _EPOCH.match(symbol)
    if not match:
        raise InvalidSymbol(symbol, f"a {prefix} symbol is {prefix}-E<epoch>, the epoch without leading zeros")
    epoch = int(match.group(2))
    return SymbolParts(terms.product, EpochWindow(epoch, epoch))


@dataclass(frozen=True, kw_only=True)
class ContractSpec:
    """One listed contract. Build it with ``hashprice_monthly``, ``epoch_future`` or ``spec_for``."""

    symbol: str
    product: Product
    underlying: str
    window: Window
    multiplier: Decimal
    multiplier_unit: str
    quote_unit: str
    tick_size: Decimal
    lot_size: int
    last_trading_time: datetime
    settlement_rule: SettlementRule
    floor: Decimal | None = None
    cap: Decimal | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "product", Product(self.product))
        object.__setattr__(self, "settlement_rule", SettlementRule(self.settlement_rule))
        expected = format_symbol(self.product, self.window)
        if self.symbol != expected:
            raise InvalidValue("symbol", self.symbol, f"does not name this contract ({expected})")
        for field in ("multiplier", "tick_size"):
            if require_price(getattr(self, field), field) <= 0:
                raise InvalidValue(field, getattr(self, field), "must be positive")
        if (exact(self.tick_size) * exact(self.multiplier)).denominator != 1:
            raise InvalidValue("multiplier", self.multiplier, "one tick must be worth whole sats")
        if isinstance(self.lot_size, bool) or not isinstance(self.lot_size, int) or self.lot_size < 1:
            raise InvalidValue("lot_size", self.lot_size, "must be an int of at least 1")
        _require_utc(self.last_trading_time, "last_trading_time")
        self._check_range()

    def _check_range(self) -> None:
        if not PRODUCT_TERMS[self.product].capped:
            if self.floor is not None or self.cap is not None:
                raise InvalidValue("cap", self.cap, f"{self.product.value} has no floor or cap")
            return
        if self.floor is None or self.cap is None:
            raise InvalidValue("cap", self.cap, "a capped contract needs a floor and a cap")
        for field in ("floor", "cap"):
            value = require_price(getattr(self, field), field)
            if value < 0 or not (exact(value) / exact(self.tick_size)).denominator == 1:
                raise InvalidValue(field, value, "must be a non-negative multiple of the tick size")
        if self.cap <= self.floor:
            raise InvalidValue("cap", self.cap, f"must exceed the floor {self.floor}")

    @property
    def is_capped(self) -> bool:
        return self.floor is not None

    @property
    def tick_value_sats(self) -> int:
        """Sats one tick is worth per contract (always whole)."""
        return int(exact(self.tick_size) * exact(self.multiplier))

    def trading_rules(self) -> TradingRules:
        """The book's per-order checks for this contract (instrument id = symbol)."""
        return TradingRules(self.symbol, tick_size=self.tick_size, lot_size=self.lot_size,
                            min_quantity=self.lot_size)

    def is_trading_open(self, now: datetime, tip_height: int | None = None) -> bool:
        """Before the last trading time and, for epoch contracts, before the halt height."""
        if _require_utc(now, "now") >= self.last_trading_time:
            return False
        if isinstance(self.window, EpochWindow) and tip_height is not None:
            return tip_height < self.window.halt_height
        return True


def hashprice_monthly(year: int, month: int) -> ContractSpec:
    """The monthly hashprice future: 1 PH/s for every day of the month, last trading at month end."""
    window = MonthWindow(year, month)
    terms = PRODUCT_TERMS[Product.HASHPRICE_MONTHLY]
    return _spec(terms, window, Decimal(window.days), window.end)


def epoch_future(
    product: Product, epoch: int, *, last_trading_time: datetime,
    floor: Decimal | None = None, cap: Decimal | None = None,
) -> ContractSpec:
    """A BME14, capped BME14 or DIFF future settling at the retarget that starts ``epoch``."""
    terms = PRODUCT_TERMS[Product(product)]
    if terms.settlement_rule is not SettlementRule.SINGLE_RETARGET_FIXING:
        raise InvalidValue("product", product, "is not an epoch product")
    window = EpochWindow(epoch, epoch)
    return _spec(terms, window, EPOCH_MULTIPLIER[terms.product], last_trading_time, floor, cap)


def spec_for(
    symbol: str, *, last_trading_time: datetime | None = None,
    floor: Decimal | None = None, cap: Decimal | None = None,
) -> ContractSpec:
    """The spec a symbol names; epoch contracts need their last trading time (and range)."""
    parts = parse_symbol(symbol)
    if isinstance(parts.window, MonthWindow):
        return hashprice_monthly(parts.window.year, parts.window.month)
    if last_trading_time is None:
        raise InvalidValue("last_trading_time", None, f"{symbol} needs its last trading time")
    return epoch_future(parts.product, parts.window.last, last_trading_time=last_trading_time,
                        floor=floor, cap=cap)


def _spec(terms: ProductTerms, window: Window, multiplier: Decimal, last_trading: datetime,
          floor: Decimal | None = None, cap: Decimal | None = None) -> ContractSpec:
    return ContractSpec(
        symbol=format_symbol(terms.product, window), product=terms.product,
        underlying=terms.underlying, window=window, multiplier=multiplier,
        multiplier_unit=terms.multiplier_unit, quote_unit=terms.quote_unit,
        tick_size=terms.tick_size, lot_size=1, last_trading_time=last_trading,
        settlement_rule=terms.settlement_rule, floor=floor, cap=cap,
    )


def _require_utc(moment: object, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise InvalidValue(field, moment, "must be a timezone-aware datetime")
    return moment.astimezone(timezone.utc)

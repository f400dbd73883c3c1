"""Mark prices: the model's fair value as the anchor, moved by the market only with real depth.

The rule (MARKS.md beside this module has the why, the attack it stops and the numbers)
--------------------------------------------------------------------------------------
1. M = the model fair value, rounded half-even to the tick.
2. Qualifying depth: only resting orders priced within ``mark.book_band_ratio`` of M count.
   A side qualifies when it holds at least ``mark.min_book_notional_sats`` of notional there;
   its robust price is the quantity-weighted average price of exactly that much depth, best
   first (the price a trade of that size would get). The book counts only when both sides
   qualify: then B = M clipped into [robust bid, robust ask] (``book_mid``: their mid).
3. Recent trades: the book trades of the last ``mark.trade_window_minutes`` priced within the
   same band; with at least the minimum notional among them, T = their average price.
4. The candidate (``mark.anchoring``, default ``median``): median(M, B, T) when both B and T
   exist, B when only the book qualifies, otherwise M. Trades alone never move a mark (two
   accounts can trade with each other at no risk); they can only hold the book's move back.
5. Bounds: the premium (candidate - M) changes by at most ``mark.max_change_ratio`` x M from
   the previous mark's premium (the model's own moves pass through: they come from the chain,
   not from a participant), and the mark never leaves ``mark.band_ratio`` of M (band edges
   rounded inwards to the tick). A capped contract's mark is then clamped into [floor, cap].

Without a model value the previous mark stands; a contract never marked takes the mid of the
robust bid and ask if both sides qualify (anywhere in the book); else there is no mark
(``NoMark``) and the service keeps the instrument out of trading.

Model fair values come in as plain numbers, computed by the service with ``pricing`` along one
forward difficulty path (``pricing.forward``, built once per marking run; pricing/README.md,
"Forward path for marks"): the current and past epochs known from stored blocks and epochs, the
next epoch from the next-difficulty forecast (``indices.forecast``, retarget rule with the 4x
clamp), later epochs grown at the trend g = exp(mean ln(D_e / D_(e-1))) - 1 over the trailing 26
epochs (about a year) ending at the current one, fees per block held at the mean of the last
2016 stored blocks. This module turns them into prices:

- epoch BME14 / capped BME14 / DIFF futures (``epoch_forward_price``): the predicted settlement
  fixing, i.e. the underlying's retarget fixing at the first block of the contract's epoch k
  (height ``k * 2016``). That block already lies in epoch k, so DIFF there is D_k and BME14
  (T = 1 epoch, the current one included) is K x subsidy_k / D_k for epoch k alone
  (``pricing.futures.bme_settlement_btc_per_th_day(path, k, 1)``), converted exactly to the quote
  unit and rounded to the tick. Once that fixing is published, the model value *is* the
  settlement price (``settlement.settlement_price``); a capped contract's mark is then clamped
  to its range like its final price (rule 5 above);
- monthly hashprice (``hashprice_monthly_forward_price``): the mean of the window's daily
  fixings, each published day at its fixing and the others at the path's prediction
  (``ForwardPath.hashprice_mean_sats_per_phd``: per-epoch hashprice with the flat fees,
  weighted by the days each epoch covers), rounded to the tick like the settlement, so a fully
  fixed window marks at its settlement price. The path's step at each retarget matches the
  settlement rule more closely than a continuous decay from the latest fixing.

Without stored blocks (a database holding fixings only) there is no path, and the service falls
back to the flat model: ``epoch_forward_price`` on the underlying's latest fixing, and
``hashprice_monthly_model_price`` from the latest HASHPRICE fixing with growth 0 (for a growth g
it projects each day not yet fixed as ``latest x (1 + g) ** -(days ahead / 14)``, hashprice moving
as 1/difficulty when fees and the subsidy stay put). Halvings are in the path (per-epoch subsidy);
the next one, around April 2028, is outside the listing horizon until late 2027.

A float enters only as a model value, converted through its shortest repr and rounded to the
tick at once.

OTC band: a block trade's price must lie within ``otc_band_ratio`` of the mark, the band's
edges rounded *inwards* to the tick (``price_band``), so a price on the edge is never further
from the mark than the ratio allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import DomainError, InvalidValue
from hashedge.domain.instruments import EPOCH_NOMINAL_DAYS, ContractSpec, EpochWindow, MonthWindow
from hashedge.domain.parameters import MarkAnchoring, RiskParameters
from hashedge.domain.settlement import (
    FixingLike,
    MissingFixings,
    daily_fixing_times,
    quote_from_index,
    round_to_tick,
    settlement_price,
)
from hashedge.domain.units import Rounding, exact, is_on_tick, require_price
from hashedge.domain.units import round_to_tick as round_to_tick_directed


class MarkSource(str, Enum):
    MODEL = "model"  # the model value: no qualifying book, or the model inside it
    BOOK = "book"  # the model clipped into (or the mid of) the qualifying book
    TRADES = "trades"  # the recent-trade average, between the model and the book
    CHANGE_LIMIT = "change_limit"  # the premium over the model moved at most max_change per re-mark
    BAND = "band"  # held at the edge of the mark band around the model
    MID = "mid"  # no model, never marked: mid of the robust bid and ask
    PREVIOUS = "previous"  # no model: the previous mark


class NoMark(DomainError):
    """Nothing to mark an instrument at: no model value, qualifying book or previous mark."""

    def __init__(self, instrument_id: str):
        super().__init__(f"no mark for {instrument_id}: no model value, qualifying book or previous mark")
        self.instrument_id = instrument_id


@dataclass(frozen=True)
class Mark:
    instrument_id: str
    price: Decimal
    source: MarkSource
    model_price: Decimal | None = None
    book_price: Decimal | None = None  # B on the tick, when the book qualified
    trade_price: Decimal | None = None  # T on the tick, when recent trades qualified


Level = tuple[Decimal, int]  # (price, quantity), as ``book.BookDepth`` and recent trades give them
_DEFAULTS = RiskParameters()


def model_value(value: Decimal | float | int, field: str = "model_price") -> Decimal:
    """A plain number from the pricing library as a Decimal (floats through their shortest repr)."""
    if isinstance(value, bool):
        raise InvalidValue(field, value, "must be a number")
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, int):
        value = Decimal(value)
    price = require_price(value, field)
    if price <= 0:
        raise InvalidValue(field, value, "must be positive")
    return price


def mark_price(
    spec: ContractSpec, *, model_price: Decimal | float | None, bids: Sequence[Level] = (),
    asks: Sequence[Level] = (), trades: Sequence[Level] = (), previous_mark: Decimal | None = None,
    previous_model: Decimal | None = None, params: RiskParameters = _DEFAULTS,
) -> Mark:
    """The mark of ``spec`` (module docstring), on the tick.

    ``bids``/``asks``: resting depth, best first; ``trades``: recent book trades (the caller picks
    the window); ``previous_mark``/``previous_model``: the last mark and the model value it had.
    """
    bids, asks = _levels(bids, "bids", descending=True), _levels(asks, "asks", descending=False)
    if bids and asks and not bids[0][0] < asks[0][0]:
        raise InvalidValue("asks", asks[0][0], f"a two-sided book has bid < ask (bid {bids[0][0]})")
    trades = _levels(trades, "trades", descending=None)
    if model_price is None:
        return _without_model(spec, bids, asks, previous_mark, params)
    model = _on_tick(spec, model_value(model_price))
    m, minimum = exact(model), exact(params.mark_min_book_notional_sats)
    inside = (m * (1 - exact(params.mark_book_band_ratio)), m * (1 + exact(params.mark_book_band_ratio)))
    robust_bid = _robust_price(spec, bids, inside, minimum)
    robust_ask = _robust_price(spec, asks, inside, minimum)
    book = None
    if robust_bid is not None and robust_ask is not None:
        if params.mark_anchoring is MarkAnchoring.BOOK_MID:
            book = (robust_bid + robust_ask) / 2
        else:
            book = min(max(m, robust_bid), robust_ask)
    trade = _trade_average(spec, trades, inside, minimum)
    candidate, source = _candidate(params.mark_anchoring, m, book, trade)
    price, source = _bounded(spec, model, candidate, source, previous_mark, previous_model, params)
    if spec.is_capped:
        assert spec.floor is not None and spec.cap is not None
        price = min(max(price, spec.floor), spec.cap)
    return Mark(spec.symbol, price, source, model, None if book is None else _on_tick(spec, book),
                None if trade is None else _on_tick(spec, trade))


def _candidate(anchoring: MarkAnchoring, model: Fraction, book: Fraction | None,
               trade: Fraction | None) -> tuple[Fraction, MarkSource]:
    if anchoring is MarkAnchoring.MODEL_ONLY or book is None:
        return model, MarkSource.MODEL
    if anchoring is MarkAnchoring.MEDIAN and trade is not None:
        middle = sorted((model, book, trade))[1]
        if middle == model:
            return model, MarkSource.MODEL
        return middle, MarkSource.BOOK if middle == book else MarkSource.TRADES
    return book, MarkSource.MODEL if book == model else MarkSource.BOOK


def _bounded(spec: ContractSpec, model: Decimal, candidate: Fraction, source: MarkSource,
             previous_mark: Decimal | None, previous_model: Decimal | None,
             params: RiskParameters) -> tuple[Decimal, MarkSource]:
    """Rule 5: the premium's change per re-mark, then the mark band; on the tick."""
    m = exact(model)
    premium = candidate - m
    before = Fraction(0)
    if previous_mark is not None and previous_model is not None:
        before = exact(require_price(previous_mark, "previous_mark")) - exact(
            require_price(previous_model, "previous_model"))
    step = m * exact(params.mark_max_change_ratio)
    limited = min(max(premium, before - step), before + step)
    if limited != premium:
        source = MarkSource.CHANGE_LIMIT
    price = _on_tick(spec, m + limited)
    low, high = price_band(spec, model, params.mark_band_ratio)
    low, high = min(low, model), max(high, model)  # a band narrower than a tick is the model
    if not low <= price <= high:
        price, source = min(max(price, low), high), MarkSource.BAND
    return price, source


def _without_model(spec: ContractSpec, bids: list[Level], asks: list[Level], previous: Decimal | None,
                   params: RiskParameters) -> Mark:
    if previous is not None:
        return Mark(spec.symbol, require_price(previous, "previous_mark"), MarkSource.PREVIOUS)
    anywhere = (Fraction(0), None)
    minimum = exact(params.mark_min_book_notional_sats)
    robust_bid = _robust_price(spec, bids, anywhere, minimum)
    robust_ask = _robust_price(spec, asks, anywhere, minimum)
    if robust_bid is None or robust_ask is None:
        raise NoMark(spec.symbol)
    mid = _on_tick(spec, (robust_bid + robust_ask) / 2)
    return Mark(spec.symbol, mid, MarkSource.MID, None, mid)


def _levels(levels: Sequence[Level], field: str, *, descending: bool | None) -> list[tuple[Decimal, int]]:
    checked = []
    for price, quantity in levels:
        if require_price(price, field) <= 0:
            raise InvalidValue(field, price, "prices must be positive")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise InvalidValue(field, quantity, "quantities must be positive ints")
        if descending is not None and checked and (price >= checked[-1][0] if descending else price <= checked[-1][0]):
            raise InvalidValue(field, price, "levels must be best first, one per price")
        checked.append((price, quantity))
    return checked


def _within(price: Fraction, inside: tuple[Fraction, Fraction | None]) -> bool:
    low, high = inside
    return low <= price and (high is None or price <= high)


def _robust_price(spec: ContractSpec, levels: list[Level], inside: tuple[Fraction, Fraction | None],
                  minimum: Fraction) -> Fraction | None:
    """Quantity-weighted price of the first ``minimum`` sats of notional within ``inside``
    (the last level taken in part), or ``None`` if the side holds less than that there."""
    size = exact(spec.multiplier)
    needed, contracts, value = minimum, Fraction(0), Fraction(0)
    for price, quantity in levels:
        p = exact(price)
        if not _within(p, inside):
            continue
        taken = min(Fraction(quantity), needed / (p * size))
        contracts, value, needed = contracts + taken, value + taken * p, needed - taken * p * size
        if needed <= 0:
            return value / contracts
    return None


def _trade_average(spec: ContractSpec, trades: list[Level], inside: tuple[Fraction, Fraction | None],
                   minimum: Fraction) -> Fraction | None:
    kept = [(exact(p), q) for p, q in trades if _within(exact(p), inside)]
    contracts = sum(q for _, q in kept)
    value = sum((p * q for p, q in kept), Fraction(0))
    if not contracts or value * exact(spec.multiplier) < minimum:
        return None
    return value / contracts


def _on_tick(spec: ContractSpec, value: Fraction | Decimal) -> Decimal:
    return max(round_to_tick(spec, value), spec.tick_size)  # a mark is at least one tick


def epoch_model_price(spec: ContractSpec, predicted_index_value: Decimal | float) -> Decimal:
    """A predicted settlement fixing (BME14 in BTC/TH/day, DIFF in difficulty) as a price on tick."""
    return _on_tick(spec, quote_from_index(spec, model_value(predicted_index_value, "predicted_index_value")))


def hashprice_monthly_model_price(
    spec: ContractSpec, *, latest_fixing_sats_per_phd: Decimal | float, latest_fixing_at: datetime,
    growth_per_epoch: float = 0.0, window_fixings: Mapping[datetime, Decimal] | None = None,
) -> Decimal:
    """Fair value of a monthly hashprice future from the latest fixing (module docstring).

    ``window_fixings`` holds the daily fixings of the window already published (as-of -> value);
    the other days are projected from ``latest_fixing_sats_per_phd`` as of ``latest_fixing_at``.
    """
    if not isinstance(spec.window, MonthWindow):
        raise InvalidValue("spec", spec.symbol, "is not a monthly contract")
    if latest_fixing_at.tzinfo is None:
        raise InvalidValue("latest_fixing_at", latest_fixing_at, "must be timezone-aware (UTC)")
    if not -0.75 < growth_per_epoch < 3.0:
        raise InvalidValue("growth_per_epoch", growth_per_epoch, "must lie in (-0.75, 3) (the retarget clamp)")
    latest = model_value(latest_fixing_sats_per_phd, "latest_fixing_sats_per_phd")
    known = dict(window_fixings or {})
    total = Fraction(0)
    for moment in daily_fixing_times(spec.window):
        if moment in known:
            total += exact(require_price(known[moment], "window_fixings"))
        else:
            total += _projected(latest, moment - latest_fixing_at, growth_per_epoch)
    return _on_tick(spec, total / spec.window.days)


def epoch_forward_price(
    spec: ContractSpec, *, predicted_index_value: Decimal | float | None,
    retarget_fixings: Iterable[FixingLike] = (),
) -> Decimal | None:
    """Model value of an epoch future (module docstring): the settlement price once its retarget
    fixing is among ``retarget_fixings``, else the predicted fixing as a price on the tick
    (``None`` without a prediction)."""
    if not isinstance(spec.window, EpochWindow):
        raise InvalidValue("spec", spec.symbol, "is not an epoch contract")
    try:
        return settlement_price(spec, retarget_fixings)
    except MissingFixings:
        pass
    return None if predicted_index_value is None else epoch_model_price(spec, predicted_index_value)


def hashprice_monthly_forward_price(
    spec: ContractSpec, *, window_fixings: Mapping[datetime, Decimal],
    predicted_mean: Callable[[Sequence[datetime]], Decimal | float] | None,
) -> Decimal | None:
    """Model value of a monthly hashprice future (module docstring).

    ``window_fixings`` holds the window's published daily fixings (as-of -> value);
    ``predicted_mean(times)`` is the predicted mean of the fixings as of ``times`` (the days not
    fixed yet), e.g. ``pricing.ForwardPath.hashprice_mean_sats_per_phd``. With every day fixed
    the result is the settlement price; with days missing and no prediction, ``None``.
    """
    if not isinstance(spec.window, MonthWindow):
        raise InvalidValue("spec", spec.symbol, "is not a monthly contract")
    times = daily_fixing_times(spec.window)
    total = sum((exact(require_price(window_fixings[t], "window_fixings")) for t in times if t in window_fixings),
                Fraction(0))
    missing = [t for t in times if t not in window_fixings]
    if missing:
        if predicted_mean is None:
            return None
        total += len(missing) * exact(model_value(predicted_mean(missing), "predicted_mean"))
    return _on_tick(spec, quote_from_index(spec, total / len(times)))


def _projected(latest: Decimal, ahead: timedelta, growth_per_epoch: float) -> Fraction:
    if growth_per_epoch == 0.0 or ahead <= timedelta(0):
        return exact(latest)
    epochs = ahead / timedelta(days=EPOCH_NOMINAL_DAYS)
    factor = (1.0 + growth_per_epoch) ** -epochs
    return exact(latest) * Fraction(Decimal(repr(factor)))


# --- price band around the mark -----------------------------------------------------------------


def price_band(spec: ContractSpec, mark: Decimal, ratio: Decimal) -> tuple[Decimal, Decimal]:
    """[mark x (1 - ratio), mark x (1 + ratio)], each edge rounded inwards to the tick."""
    price, band = require_price(mark, "mark_price"), require_price(ratio, "ratio")
    low = round_to_tick_directed(price * (1 - band), spec.tick_size, Rounding.UP)
    high = round_to_tick_directed(price * (1 + band), spec.tick_size, Rounding.DOWN)
    return max(low, spec.tick_size), high


def limit_price_check(spec: ContractSpec, price: Decimal, mark: Decimal, params: RiskParameters) -> Rejected | None:
    """``None`` if a limit order at ``price`` lies within ``orders.price_band_ratio`` of the mark
    (the band's edges rounded inwards to the tick), else the denial with the allowed range."""
    low, high = price_band(spec, mark, params.order_price_band_ratio)
    if low <= require_price(price, "price") <= high:
        return None
    percent = _percent(params.order_price_band_ratio)
    message = (f"price {price} is outside the price band {low} to {high} ({percent}% around the mark"
               f" {mark}) for {spec.symbol}")
    return Rejected(RejectReason.PRICE_OUTSIDE_BAND, "price", message)


def otc_price_check(spec: ContractSpec, price: Decimal, mark: Decimal, params: RiskParameters) -> Rejected | None:
    """``None`` if a block trade at ``price`` is on the tick and within the OTC band around ``mark``."""
    if not is_on_tick(require_price(price, "price"), spec.tick_size):
        message = f"price {price} is not a multiple of the tick size {spec.tick_size}"
        return Rejected(RejectReason.PRICE_NOT_ON_TICK, "price", message)
    low, high = price_band(spec, mark, params.otc_band_ratio)
    if low <= price <= high:
        return None
    percent = _percent(params.otc_band_ratio)
    message = (f"price {price} is outside the OTC band {low} to {high} ({percent}% around the mark"
               f" {mark}) for {spec.symbol}")
    return Rejected(RejectReason.PRICE_INVALID, "price", message)


def _percent(ratio: Decimal) -> str:
    return format((ratio * 100).normalize(), "f")  # 0.2 -> "20", 0.025 -> "2.5"

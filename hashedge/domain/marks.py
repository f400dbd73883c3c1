"""Mark prices: the model's fair value, anchored to the order book when it is two-sided.

The rule (``RiskParameters.mark_anchoring``, default ``model_clipped_to_book``)
--------------------------------------------------------------------------------
1. Round the model fair value half-even to the tick.
2. If the book is two-sided (a best bid and a best ask), clip it into ``[bid, ask]``: a model
   inside the spread stands; a model below the bid marks at the bid (someone will pay that
   much), above the ask at the ask. A one-sided or empty book leaves the model alone.
3. A capped contract's mark is then clamped into ``[floor, cap]`` (it can be worth no more).

Why model-clipped rather than mid: in a thin market the mid of a wide book is whatever the
last quotes happened to be, and a single participant can move it by quoting; the model moves
with difficulty, and the book only overrides it when someone is actually willing to trade
through it. ``book_mid`` (mid of a two-sided book, rounded to the tick, else the model) and
``model_only`` are the governed alternatives. Without a model value the mark falls back to
the mid of a two-sided book, then to the previous mark; with none of them there is no mark
(``NoMark``), and the service keeps the instrument out of trading.

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
  to its range like its final price (rule 3 above);
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
    MODEL = "model"  # the model value, the book not two-sided (or ignored)
    MODEL_IN_BOOK = "model_in_book"  # the model value, inside the two-sided book
    BID = "bid"  # the model was below the best bid
    ASK = "ask"  # the model was above the best ask
    MID = "mid"  # mid of the two-sided book
    PREVIOUS = "previous"  # no model, no two-sided book: the previous mark


class NoMark(DomainError):
    """Nothing to mark an instrument at: no model value, no two-sided book, no previous mark."""

    def __init__(self, instrument_id: str):
        super().__init__(f"no mark for {instrument_id}: no model value, two-sided book or previous mark")
        self.instrument_id = instrument_id


@dataclass(frozen=True)
class Mark:
    instrument_id: str
    price: Decimal
    source: MarkSource
    model_price: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None


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
    spec: ContractSpec, *, model_price: Decimal | float | None, best_bid: Decimal | None,
    best_ask: Decimal | None, anchoring: MarkAnchoring = MarkAnchoring.MODEL_CLIPPED_TO_BOOK,
    previous_mark: Decimal | None = None,
) -> Mark:
    """The mark of ``spec`` under ``anchoring`` (module docstring), on the tick."""
    model = None if model_price is None else _on_tick(spec, model_value(model_price))
    two_sided = best_bid is not None and best_ask is not None
    if two_sided:
        bid, ask = require_price(best_bid, "best_bid"), require_price(best_ask, "best_ask")
        if not bid < ask:
            raise InvalidValue("best_ask", best_ask, f"a two-sided book has bid < ask (bid {best_bid})")
    price, source = _choose(spec, MarkAnchoring(anchoring), model, best_bid if two_sided else None,
                            best_ask if two_sided else None, previous_mark)
    if spec.is_capped:
        assert spec.floor is not None and spec.cap is not None
        price = min(max(price, spec.floor), spec.cap)
    return Mark(spec.symbol, price, source, model, best_bid, best_ask)


def _choose(spec: ContractSpec, anchoring: MarkAnchoring, model: Decimal | None, bid: Decimal | None,
            ask: Decimal | None, previous: Decimal | None) -> tuple[Decimal, MarkSource]:
    two_sided = bid is not None and ask is not None
    if anchoring is MarkAnchoring.BOOK_MID and two_sided:
        return _mid(spec, bid, ask), MarkSource.MID
    if model is not None:
        if not two_sided or anchoring is not MarkAnchoring.MODEL_CLIPPED_TO_BOOK:
            return model, MarkSource.MODEL
        if model < bid:
            return bid, MarkSource.BID
        if model > ask:
            return ask, MarkSource.ASK
        return model, MarkSource.MODEL_IN_BOOK
    if two_sided:
        return _mid(spec, bid, ask), MarkSource.MID
    if previous is not None:
        return require_price(previous, "previous_mark"), MarkSource.PREVIOUS
    raise NoMark(spec.symbol)


def _mid(spec: ContractSpec, bid: Decimal, ask: Decimal) -> Decimal:
    return _on_tick(spec, (exact(bid) + exact(ask)) / 2)


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


def otc_price_check(spec: ContractSpec, price: Decimal, mark: Decimal, params: RiskParameters) -> Rejected | None:
    """``None`` if a block trade at ``price`` is on the tick and within the OTC band around ``mark``."""
    if not is_on_tick(require_price(price, "price"), spec.tick_size):
        message = f"price {price} is not a multiple of the tick size {spec.tick_size}"
        return Rejected(RejectReason.PRICE_NOT_ON_TICK, "price", message)
    low, high = price_band(spec, mark, params.otc_band_ratio)
    if low <= price <= high:
        return None
    percent = (params.otc_band_ratio * 100).normalize()
    message = (f"price {price} is outside the OTC band {low} to {high} ({percent}% around the mark"
               f" {mark}) for {spec.symbol}")
    return Rejected(RejectReason.PRICE_INVALID, "price", message)

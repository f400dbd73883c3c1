"""Instruments: listing by the cycle, marks, and what the API and CLI show about them.

Mark model (the formulas: ``domain.marks`` and pricing/README.md, "Forward path for marks"):
once per marking run the service loads the chain data and builds one forward difficulty path
with ``pricing.forward``: the current and earlier epochs known (stored blocks, then the epoch
history), the next epoch from the next-difficulty forecast (``indices.forecast``, as the index
service computes it), later epochs grown at the trend of the trailing 26 epochs, fees per block
held at the mean of the last 2016 blocks. Then, per contract:

- BME14 / capped BME14 / DIFF epoch futures: the path's prediction of the settlement retarget
  fixing (``ForwardPath.retarget_fixing``), or the settlement price once that fixing is
  published (``domain.marks.epoch_forward_price``);
- monthly HASHPRICE futures: published days at their fixings, the others at the path's
  prediction (``domain.marks.hashprice_monthly_forward_price``).

Without stored blocks there is no path and the flat model is the fallback (the underlying's
latest fixing; ``hashprice_monthly_model_price`` with growth 0). The model value is the anchor:
``domain.marks.mark_price`` moves it only with qualifying depth on both sides of the book (and
recent book trades), within the governed bands (MARKS.md); without a model the previous mark is
kept. Every mark is stored with its source.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hashedge.adapters.repositories.listing_version import listing_version
from hashedge.adapters.repositories.trading import InstrumentRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.book import OrderBook
from hashedge.adapters.repositories.indices import PublishedFixing
from hashedge.domain.instruments import (
    BLOCK_INTERVAL,
    BLOCKS_PER_EPOCH,
    PRODUCT_TERMS,
    EpochWindow,
    MonthWindow,
    Product,
)
from hashedge.domain.listing import instruments_to_list
from hashedge.domain.marks import (
    NoMark,
    epoch_forward_price,
    hashprice_monthly_forward_price,
    hashprice_monthly_model_price,
    mark_price,
)
from hashedge.domain.settlement import DAILY_FIXING, RETARGET_FIXING, daily_fixing_times
from hashedge.errors import DataUnavailable, NotFound
from hashedge.services.index_queries import forecast_blocks
from hashedge.services.margin import risk_parameters
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page
from hashedge.services.versioned_reads import VERSIONED
from indices.forecast import forecast_next_difficulty
from pricing.errors import PricingInputError
from pricing.forward import (
    TREND_WINDOW_EPOCHS,
    ChainObservation,
    ForwardPath,
    forward_path,
    known_epochs,
    mean_fees_per_block_sats,
    trend_growth_per_epoch,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InstrumentView:
    record: InstrumentRecord
    mark_price: Decimal | None
    mark_source: str | None
    marked_at: datetime | None
    trading_open: bool

    def __getattr__(self, name):  # spec fields (symbol, tick_size, multiplier, ...) for schemas
        return getattr(self.record.spec, name)

    @property
    def status(self) -> str:
        return self.record.status


@dataclass(frozen=True)
class ListingResult:
    listed: list[str]
    expired: list[str]
    tip_height: int


@dataclass(frozen=True)
class MarkResult:
    marked: dict[str, Decimal]
    unmarked: list[str]


def _tip(uow: UnitOfWork) -> int:
    tip = uow.blocks.tip_height()
    if tip is None:
        raise DataUnavailable("no blocks stored yet: ingest chain data before listing instruments")
    return tip


def instrument_page(uow: UnitOfWork, clock: Clock, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
                    include_settled: bool = False) -> Page[InstrumentView]:
    """``list_instruments`` as a page of the API's list convention (``services.pages``)."""
    offset = check_page(page, page_size)
    views = list_instruments(uow, clock, include_settled=include_settled)
    return Page(views[offset:offset + page_size], len(views), page, page_size)


def list_instruments(uow: UnitOfWork, clock: Clock, *, include_settled: bool = False) -> list[InstrumentView]:
    """Listed and expired contracts (settled ones too with ``include_settled``) in listing order,
    with their latest marks; ``trading_open`` as of the clock's now. The rows are kept between
    calls while the database's version of them is unchanged (``services.versioned_reads``)."""
    now = clock.now()
    records, marks, tip = VERSIONED.current(uow, ("instruments", include_settled), listing_version,
                                            lambda reading: _listing(reading, include_settled))
    views = []
    for record in records:
        mark = marks.get(record.symbol)
        views.append(InstrumentView(record, mark.price if mark else None, mark.source if mark else None,
                                    mark.as_of if mark else None,
                                    record.status == "listed" and record.spec.is_trading_open(now, tip)))
    return views


def _listing(uow: UnitOfWork, include_settled: bool) -> tuple:
    """Inside a read-only block: the records in listing order, their latest marks, the tip."""
    records = tuple(uow.instruments.all(None if include_settled else ("listed", "expired")))
    return records, uow.marks.latest([r.symbol for r in records]), uow.blocks.tip_height()


def get_instrument(uow: UnitOfWork, symbol: str) -> InstrumentRecord:
    """Inside an open unit of work; NotFound for an unknown symbol."""
    record = uow.instruments.get(symbol) if isinstance(symbol, str) else None
    if record is None:
        raise NotFound(f"no instrument {symbol!r}", fields={"instrument": ["unknown instrument"]})
    return record


def _latest_value(uow: UnitOfWork, index: str, kind: str | None = None):
    fixings = uow.fixings.latest(index, kind=kind, limit=1, newest_first=True)
    return fixings[0] if fixings else None


def run_listing(uow: UnitOfWork, clock: Clock) -> ListingResult:
    """List what the cycle wants (``domain.listing``) and retire contracts whose trading closed.
    Idempotent: a second run lists nothing new."""
    now = clock.now()
    with uow:
        tip = _tip(uow)
        bme = _latest_value(uow, "BME14")
        reference = None
        if bme is not None:
            reference = bme14_in_quote_unit(bme.value)
        specs = instruments_to_list(now, tip // BLOCKS_PER_EPOCH, uow.instruments.symbols(), tip_height=tip,
                                    capped_reference_price=reference)
        for spec in specs:
            uow.instruments.add(spec, now)
        expired = []
        for record in uow.instruments.all(("listed",)):
            if not record.spec.is_trading_open(now, tip):
                uow.instruments.set_status(record.symbol, "expired")
                expired.append(record.symbol)
        uow.commit()
    return ListingResult([s.symbol for s in specs], expired, tip)


def bme14_in_quote_unit(value: Decimal) -> Decimal:
    """A BME14 value (BTC/TH/day) in sats/PH/day: the capped contracts' range reference."""
    factor = PRODUCT_TERMS[Product.BME14_EPOCH].index_to_quote
    return value * factor.numerator / factor.denominator


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc)


def load_forward_path(uow: UnitOfWork, records: Sequence[InstrumentRecord]) -> ForwardPath | None:
    """The forward difficulty path covering ``records`` (module docstring), inside an open unit
    of work; ``None`` without stored blocks."""
    if uow.blocks.tip_height() is None:
        return None
    blocks = forecast_blocks(uow)
    tip, tip_time = int(blocks["height"].iat[-1]), int(blocks["time"].iat[-1])
    current = tip // BLOCKS_PER_EPOCH
    first = max(0, current - TREND_WINDOW_EPOCHS)  # the trend window's changes start at first + 1
    history = uow.epochs.load_frame()
    history = history[(history["epoch"] >= first) & (history["epoch"] <= current)]
    heights = [epoch * BLOCKS_PER_EPOCH for epoch in range(first, current + 1)]
    heights.append(max(uow.blocks.first_height(), first * BLOCKS_PER_EPOCH))  # a partial first epoch
    observations = [ChainObservation(int(h), int(b)) for h, b in zip(history["start_height"], history["bits"])]
    observations += [ChainObservation(h, b, _utc(t)) for h, t, b in uow.blocks.headers_at(heights)]
    observations.append(ChainObservation(tip, int(blocks["bits"].iat[-1])))
    try:
        forecast = forecast_next_difficulty(blocks)
        next_difficulty, next_time = forecast.next_difficulty, forecast.expected_retarget_time
    except ValueError:  # too few blocks for either projection: trend from the current difficulty
        next_difficulty = None
        next_time = _utc(tip_time) + ((current + 1) * BLOCKS_PER_EPOCH - tip) * BLOCK_INTERVAL
    epochs = [r.spec.window.last for r in records if isinstance(r.spec.window, EpochWindow)]
    months = [r.spec.window.end for r in records if isinstance(r.spec.window, MonthWindow)]
    try:
        known = known_epochs(observations)
        trend = trend_growth_per_epoch(known.difficulty, current)
        return forward_path(
            known_difficulty=known.difficulty, known_starts=known.starts, current_epoch=current,
            next_difficulty=next_difficulty, next_retarget_time=next_time,
            growth_per_epoch=trend.growth_per_epoch,
            fees_per_block_sats=mean_fees_per_block_sats(blocks["total_fees_sats"].tolist()),
            last_epoch=max(epochs, default=current + 1), until=max(months, default=None))
    except PricingInputError as exc:
        log.warning("no forward difficulty path (marking on the flat model): %s", exc)
        return None


def _model_price(uow: UnitOfWork, record: InstrumentRecord, now: datetime, path: ForwardPath | None,
                 settling: Mapping[str, list[PublishedFixing]]) -> Decimal | None:
    spec = record.spec
    if isinstance(spec.window, MonthWindow):
        times = daily_fixing_times(spec.window)
        published = uow.fixings.latest("HASHPRICE", kind=DAILY_FIXING, start=times[0], end=times[-1])
        window = {f.as_of: f.value for f in published if f.as_of <= now}
        if path is not None:
            return hashprice_monthly_forward_price(spec, window_fixings=window,
                                                   predicted_mean=path.hashprice_mean_sats_per_phd)
        latest = _latest_value(uow, "HASHPRICE", DAILY_FIXING)
        if latest is None:
            return None
        return hashprice_monthly_model_price(spec, latest_fixing_sats_per_phd=latest.value,
                                             latest_fixing_at=latest.as_of, window_fixings=window)
    if path is not None:
        # The settlement fixing is the retarget fixing at height last * 2016, the first block of
        # epoch ``last``: DIFF = D_last, BME14 = K x subsidy / D over epoch ``last`` alone.
        predicted = path.retarget_fixing(spec.underlying, spec.window.last)
    else:
        latest = _latest_value(uow, spec.underlying)
        predicted = None if latest is None else latest.value
    return epoch_forward_price(spec, predicted_index_value=predicted,
                               retarget_fixings=settling.get(spec.underlying, []))


def _settlement_fixings(uow: UnitOfWork, records: Sequence[InstrumentRecord]) -> dict[str, list[PublishedFixing]]:
    """The published retarget fixings that settle the epoch contracts among ``records``."""
    heights: dict[str, set[int]] = {}
    for record in records:
        if isinstance(record.spec.window, EpochWindow):
            heights.setdefault(record.spec.underlying, set()).add(record.spec.window.settlement_height)
    return {index: uow.fixings.latest_ending_at(index, RETARGET_FIXING, wanted) for index, wanted in heights.items()}


def update_marks(uow: UnitOfWork, clock: Clock) -> MarkResult:
    """Mark every listed instrument now (module docstring) and store the marks."""
    now, params = clock.now(), risk_parameters(uow)
    marked, unmarked = {}, []
    with uow:
        records = uow.instruments.all(("listed", "expired"))
        previous = uow.marks.latest([r.symbol for r in records])
        path = load_forward_path(uow, records) if records else None
        settling = _settlement_fixings(uow, records)
        since = now - timedelta(minutes=int(params.mark_trade_window_minutes))
        for record in records:
            book = OrderBook.from_resting(record.spec.trading_rules(), uow.orders.resting(record.symbol))
            depth = book.depth()
            trades = uow.trades.book_prices_since(record.symbol, since)
            before = previous.get(record.symbol)
            try:
                model = _model_price(uow, record, now, path, settling)
            except PricingInputError as exc:  # e.g. an epoch the path does not reach
                log.warning("no model value for %s: %s", record.symbol, exc)
                model = None
            try:
                mark = mark_price(record.spec, model_price=model, bids=depth.bids, asks=depth.asks, trades=trades,
                                  previous_mark=before.price if before else None,
                                  previous_model=before.model_price if before else None, params=params)
            except NoMark:
                unmarked.append(record.symbol)
                continue
            uow.marks.add(record.symbol, now, mark.price, mark.source.value, mark.model_price)
            marked[record.symbol] = mark.price
        uow.commit()
    return MarkResult(marked, unmarked)


@dataclass(frozen=True)
class Depth:
    instrument: str
    bids: list[tuple[Decimal, int]]
    asks: list[tuple[Decimal, int]]


def depth(uow: UnitOfWork, symbol: str, levels: int = 20) -> Depth:
    """The best ``levels`` price levels a side, aggregated by the database (the same levels as
    ``OrderBook.depth`` over the stored book, without rebuilding it)."""
    with uow.read_only():
        get_instrument(uow, symbol)
        bids = uow.orders.depth(symbol, "buy", levels)
        asks = uow.orders.depth(symbol, "sell", levels)
    return Depth(symbol, bids, asks)

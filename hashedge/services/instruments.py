"""Instruments: listing by the cycle, marks, and what the API and CLI show about them.

Mark model (kept simple on purpose; the rule that anchors it to the book is ``domain.marks``):

- monthly HASHPRICE futures: ``domain.marks.hashprice_monthly_model_price`` from the latest daily
  HASHPRICE fixing, flat difficulty (growth 0), with the window's published fixings counted as
  they are;
- BME14 / capped BME14 / DIFF epoch futures: the latest fixing of the underlying (daily or
  retarget, the newest) taken as the prediction of the settlement fixing (a flat curve),
  converted by ``domain.marks.epoch_model_price``.

The model value is then clipped into the two-sided book (``RiskParameters.mark_anchoring``), and
without a model the previous mark is kept. Every mark is stored with its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hashedge.adapters.trading_repositories import InstrumentRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.book import OrderBook
from hashedge.domain.instruments import BLOCKS_PER_EPOCH, PRODUCT_TERMS, MonthWindow, Product
from hashedge.domain.listing import instruments_to_list
from hashedge.domain.marks import NoMark, epoch_model_price, hashprice_monthly_model_price, mark_price
from hashedge.domain.settlement import DAILY_FIXING, daily_fixing_times
from hashedge.errors import DataUnavailable, NotFound
from hashedge.services.margin import risk_parameters


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


def list_instruments(uow: UnitOfWork, clock: Clock, *, include_settled: bool = False) -> list[InstrumentView]:
    now = clock.now()
    with uow:
        records = uow.instruments.all(None if include_settled else ("listed", "expired"))
        marks = uow.marks.latest([r.symbol for r in records])
        tip = uow.blocks.tip_height()
    views = []
    for record in records:
        mark = marks.get(record.symbol)
        views.append(InstrumentView(record, mark.price if mark else None, mark.source if mark else None,
                                    mark.as_of if mark else None,
                                    record.status == "listed" and record.spec.is_trading_open(now, tip)))
    return views


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


def _model_price(uow: UnitOfWork, record: InstrumentRecord, now: datetime) -> Decimal | None:
    spec = record.spec
    if isinstance(spec.window, MonthWindow):
        latest = _latest_value(uow, "HASHPRICE", DAILY_FIXING)
        if latest is None:
            return None
        times = daily_fixing_times(spec.window)
        published = uow.fixings.latest("HASHPRICE", kind=DAILY_FIXING, start=times[0], end=times[-1])
        window = {f.as_of: f.value for f in published if f.as_of <= now}
        return hashprice_monthly_model_price(spec, latest_fixing_sats_per_phd=latest.value,
                                             latest_fixing_at=latest.as_of, window_fixings=window)
    latest = _latest_value(uow, spec.underlying)
    return None if latest is None else epoch_model_price(spec, latest.value)


def update_marks(uow: UnitOfWork, clock: Clock) -> MarkResult:
    """Mark every listed instrument now (module docstring) and store the marks."""
    now, params = clock.now(), risk_parameters()
    marked, unmarked = {}, []
    with uow:
        records = uow.instruments.all(("listed", "expired"))
        previous = uow.marks.latest([r.symbol for r in records])
        for record in records:
            book = OrderBook.from_resting(record.spec.trading_rules(), uow.orders.resting(record.symbol))
            before = previous.get(record.symbol)
            try:
                mark = mark_price(record.spec, model_price=_model_price(uow, record, now), best_bid=book.best_bid(),
                                  best_ask=book.best_ask(), anchoring=params.mark_anchoring,
                                  previous_mark=before.price if before else None)
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
    with uow:
        record = get_instrument(uow, symbol)
        book = OrderBook.from_resting(record.spec.trading_rules(), uow.orders.resting(symbol))
    result = book.depth(levels)
    return Depth(symbol, list(result.bids), list(result.asks))

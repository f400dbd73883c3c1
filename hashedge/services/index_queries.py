"""Read-side use cases for indices: definitions, latest values, fixings, point values, forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pandas as pd

from hashedge.adapters.repositories.indices import PublishedFixing, fixings_version
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.errors import DataUnavailable, InvalidInput, NotFound
from hashedge.services.pages import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, Page, check_page
from hashedge.services.versioned_reads import VERSIONED
from indices.compute import value_at
from indices.definitions import IndexDefinition, UnknownIndex, get_definition, standard_indices
from indices.forecast import DifficultyForecast, forecast_next_difficulty

FORECAST_LOOKBACK_BLOCKS = 2 * 2016
# Blocks before a height that any standard formula reads (BME84: up to seven epochs; MRI30: about
# 32 days), with room for slow stretches; the formulas widen their own window inside what is loaded.
POINT_VALUE_LOOKBACK_BLOCKS = 16 * 2016


@dataclass(frozen=True)
class IndexOverview:
    definition: IndexDefinition
    latest: PublishedFixing | None


@dataclass(frozen=True)
class FixingsPage:
    index: str
    items: list[PublishedFixing]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class IndexValue:
    index: str
    height: int
    value: Decimal
    unit: str


def definition_of(name: str) -> IndexDefinition:
    try:
        return get_definition(name)
    except UnknownIndex as exc:
        raise NotFound(f"unknown index {name!r}", fields={"name": [str(exc)]}) from None


def list_indices(uow: UnitOfWork) -> list[IndexOverview]:
    """Every standard index with its latest fixing: one query, whatever the number of fixings."""
    return list(VERSIONED.current(uow, "indices", fixings_version, _overviews))


def _overviews(uow: UnitOfWork) -> tuple[IndexOverview, ...]:
    """Inside a read-only block; kept between calls while no fixing is published
    (``services.versioned_reads``)."""
    definitions = standard_indices()
    latest = uow.fixings.latest_of_each(d.name for d in definitions)
    return tuple(IndexOverview(d, latest.get(d.name)) for d in definitions)


def index_page(uow: UnitOfWork, *, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> Page[IndexOverview]:
    """``list_indices`` as a page of the API's list convention (``services.pages``)."""
    offset = check_page(page, page_size)
    overviews = list_indices(uow)
    return Page(overviews[offset:offset + page_size], len(overviews), page, page_size)


def describe_index(uow: UnitOfWork, name: str) -> IndexOverview:
    definition = definition_of(name)
    with uow.read_only():
        latest = uow.fixings.latest_of_each([definition.name])
    return IndexOverview(definition, latest.get(definition.name))


def fixings_page(
    uow: UnitOfWork,
    name: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    kind: str | None = None,
    page: int = 1,
    page_size: int = 100,
) -> FixingsPage:
    definition = definition_of(name)
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput("page out of range", fields={"page": [f"must be between 1 and {MAX_PAGE}"]})
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page size out of range",
                           fields={"page_size": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
    if start and end and start > end:
        raise InvalidInput("start is after end", fields={"start": ["must not be after end"]})
    with uow.read_only():
        items = uow.fixings.latest(definition.name, kind=kind, start=start, end=end,
                                   limit=page_size, offset=(page - 1) * page_size)
        total = uow.fixings.count_latest(definition.name, kind=kind, start=start, end=end)
    return FixingsPage(definition.name, items, total, page, page_size)


def daily_fixing(uow: UnitOfWork, name: str, day: date) -> PublishedFixing:
    definition = definition_of(name)
    as_of = datetime.combine(day, time(0), tzinfo=timezone.utc)
    with uow.read_only():
        found = uow.fixings.latest(definition.name, kind="daily", start=as_of, end=as_of)
    if not found:
        raise NotFound(f"no daily fixing of {definition.name} for {day.isoformat()}")
    return found[0]


def latest_fixing(uow: UnitOfWork, name: str) -> PublishedFixing:
    overview = describe_index(uow, name)
    if overview.latest is None:
        raise DataUnavailable(f"{overview.definition.name} has no published fixing yet")
    return overview.latest


def value_at_height(uow: UnitOfWork, name: str, height: int) -> IndexValue:
    """Compute an index at a block height from stored data (not necessarily a fixing)."""
    definition = definition_of(name)
    with uow.read_only():
        blocks = uow.blocks.load_frame(start_height=max(0, height - POINT_VALUE_LOOKBACK_BLOCKS),
                                       end_height=height)
        epochs = uow.epochs.load_frame()
    try:
        value = value_at(blocks if not blocks.empty else None, epochs if not epochs.empty else None,
                         definition.name, height)
    except ValueError as exc:  # the message names the index and the height already
        raise DataUnavailable(str(exc)) from None
    return IndexValue(definition.name, height, value, definition.unit)


def series(uow: UnitOfWork, names: list[str], *, kind: str = "daily", days: int = 730) -> dict[str, list[PublishedFixing]]:
    """Recent fixings for charts, oldest first."""
    with uow.read_only():
        newest = uow.fixings.latest(limit=1, newest_first=True)
        if not newest:
            return {name: [] for name in names}
        start = newest[0].as_of - timedelta(days=days)
        return {name: uow.fixings.latest(name, kind=kind, start=start) for name in names}


def forecast_blocks(uow: UnitOfWork) -> pd.DataFrame:
    """The blocks the next-difficulty forecast reads (the last 2 x 2016 up to the tip), inside an
    open unit of work; DataUnavailable without blocks."""
    tip = uow.blocks.tip_height()
    if tip is None:
        raise DataUnavailable("no blocks stored yet: ingest chain data first")
    return uow.blocks.load_frame(start_height=max(0, tip - FORECAST_LOOKBACK_BLOCKS))


def difficulty_forecast(uow: UnitOfWork) -> DifficultyForecast:
    with uow.read_only():
        blocks = forecast_blocks(uow)
    return forecast_next_difficulty(blocks)

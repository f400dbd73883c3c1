"""What each process keeps between reads (``services.versioned_reads``): the list of instruments
and the indices' latest fixings. After every kind of write that changes them, the kept answer is
the one a fresh read gives; while nothing changes, one statement vouches for it; the API renders
it as its schema does. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.adapters.repositories.listing_version import listing_version
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import index_queries, instruments, settlement
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page
from hashedge.services.versioned_reads import VERSIONED, unkept
from hashedge.web import create_app
from hashedge.web.api.schemas import IndexPageSchema
from hashedge.web.api.trading_schemas import InstrumentPageSchema, instrument_view, page_view
from statements import Statements
from tests.builders import daily_hashprice

OCTOBER, NOVEMBER = "HP-2026-10", "HP-2026-11"


def _fresh(runtime, include_settled: bool = False) -> list:
    """What ``list_instruments`` gives read afresh: nothing served from what is kept, nothing kept."""
    with unkept():
        return _kept(runtime, include_settled)


def _listing(runtime, include_settled: bool = False) -> tuple:
    """The records, marks and tip ``list_instruments`` works from, as the process keeps them."""
    return VERSIONED.current(runtime.uow(), ("instruments", include_settled), listing_version,
                             lambda uow: instruments._listing(uow, include_settled))


def _kept(runtime, include_settled: bool = False) -> list:
    return [(v.record, v.mark_price, v.mark_source, v.marked_at, v.trading_open)
            for v in instruments.list_instruments(runtime.uow(), runtime.clock, include_settled=include_settled)]


def _same_as_a_fresh_read(runtime) -> list:
    for include_settled in (False, True):
        assert _kept(runtime, include_settled) == _fresh(runtime, include_settled)
    return _kept(runtime)


def test_the_kept_list_follows_listing_marks_expiry_and_settlement(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    assert _same_as_a_fresh_read(runtime) == []

    with runtime.uow() as uow:  # listed, no mark yet
        uow.instruments.add(hashprice_monthly(2026, 10), clock.now())
        uow.commit()
    listed = _same_as_a_fresh_read(runtime)
    assert [(r.symbol, r.status, price, open_) for r, price, _, _, open_ in listed] == [(OCTOBER, "listed", None, True)]

    for price in (Decimal(50000), Decimal(50125)):  # a mark, then a newer one
        with runtime.uow() as uow:
            uow.marks.add(OCTOBER, clock.now(), price, "model", price)
            uow.commit()
        assert [p for _, p, _, _, _ in _same_as_a_fresh_read(runtime)] == [price]

    with runtime.uow() as uow:  # a second contract
        uow.instruments.add(hashprice_monthly(2026, 11), clock.now())
        uow.commit()
    assert [r.symbol for r, *_ in _same_as_a_fresh_read(runtime)] == [OCTOBER, NOVEMBER]

    clock.set(datetime(2026, 11, 1, 1, tzinfo=timezone.utc))  # October's trading is over: the clock alone
    assert [(r.symbol, open_) for r, *_, open_ in _same_as_a_fresh_read(runtime)] == [(OCTOBER, False),
                                                                                        (NOVEMBER, True)]
    pending = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 10, 31))  # no fixings: expired
    assert OCTOBER in pending.pending
    assert [(r.symbol, r.status) for r, *_ in _same_as_a_fresh_read(runtime)] == [(OCTOBER, "expired"),
                                                                                   (NOVEMBER, "listed")]
    days = [datetime(2026, 10, 2, tzinfo=timezone.utc) + timedelta(days=d) for d in range(31)]
    with runtime.uow() as uow:
        uow.fixings.add([daily_hashprice(day, Decimal(49000)) for day in days], clock.now())
        uow.commit()
    clock.set(datetime(2026, 11, 2, 1, tzinfo=timezone.utc))
    settled = settlement.run_daily_settlement(runtime.uow(), clock, date(2026, 11, 1))
    assert settled.settlement_prices == {OCTOBER: "49000"}, settled
    assert [r.symbol for r, *_ in _same_as_a_fresh_read(runtime)] == [NOVEMBER]
    settled = _kept(runtime, include_settled=True)[0][0]
    assert (settled.symbol, settled.status, settled.final_price) == (OCTOBER, "settled", Decimal(49000))


def test_the_kept_list_follows_the_chain_tip(populated_runtime):
    runtime = populated_runtime
    instruments.run_listing(runtime.uow(), runtime.clock)
    instruments.update_marks(runtime.uow(), runtime.clock)
    before = _same_as_a_fresh_read(runtime)
    with runtime.uow() as uow:
        tip = uow.blocks.tip_height()
        uow.blocks.delete_from(tip - 2015)  # a deep reorg's first half: the tip moves back an epoch
        uow.commit()
    after = _same_as_a_fresh_read(runtime)
    assert _listing(runtime)[2] == tip - 2016
    assert [r for r, *_ in after] == [r for r, *_ in before]


def test_an_unchanged_list_costs_one_statement_and_no_new_rows(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 10), clock.now())
        uow.marks.add(OCTOBER, clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    first = _listing(runtime)
    statements, answers = Statements(runtime.engine), []
    selects = statements.during(lambda: answers.append(_listing(runtime)))
    assert answers[0] is first and len(selects) == 1
    with runtime.uow() as uow:
        uow.marks.add(OCTOBER, clock.now(), Decimal(50001), "model", Decimal(50001))
        uow.commit()
    selects = statements.during(lambda: answers.append(_listing(runtime)))
    changed = answers[1]
    assert changed is not first and changed[1][OCTOBER].price == Decimal(50001)
    assert len(selects) == 5  # the version, then the version again with the three reads
    with unkept():  # read afresh: the three reads and no version; neither served nor kept
        selects = statements.during(lambda: answers.append(_listing(runtime)))
    assert len(selects) == 3 and answers[2] == changed and answers[2] is not changed
    assert _listing(runtime) is changed


def test_the_api_renders_the_kept_list_as_its_schema_does(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 10), clock.now())
        uow.instruments.add(hashprice_monthly(2026, 11), clock.now())
        uow.marks.add(OCTOBER, clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    client = create_app(runtime).test_client()

    def schema_rendering(page: int, page_size: int) -> dict:
        views = instruments.list_instruments(runtime.uow(), clock)
        items = views[(page - 1) * page_size:page * page_size]
        rendered = InstrumentPageSchema().dump(page_view(Page(items, len(views), page, page_size), instrument_view))
        return json.loads(json.dumps(rendered))

    for query, page, page_size in (("", 1, DEFAULT_PAGE_SIZE), ("?page=2&page_size=1", 2, 1)):
        answer = client.get(f"/api/v1/instruments{query}")
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        assert answer.get_json() == schema_rendering(page, page_size)
    assert client.get("/api/v1/instruments").get_json()["items"][0]["mark_price"] == "50000"

    with runtime.uow() as uow:  # a new mark is shown at once, not the page rendered before it
        uow.marks.add(OCTOBER, clock.now(), Decimal(50250), "book", Decimal(50000))
        uow.commit()
    answer = client.get("/api/v1/instruments").get_json()
    assert answer == schema_rendering(1, DEFAULT_PAGE_SIZE)
    assert (answer["items"][0]["mark_price"], answer["items"][0]["mark_source"]) == ("50250", "book")


def _fresh_indices(runtime) -> list:
    with unkept():
        return index_queries.list_indices(runtime.uow())


def test_the_kept_indices_follow_every_publication_and_correction(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    client = create_app(runtime).test_client()

    def listed_and_rendered() -> list:
        overviews = index_queries.list_indices(runtime.uow())
        assert overviews == _fresh_indices(runtime)
        page = Page(overviews, len(overviews), 1, DEFAULT_PAGE_SIZE)
        answer = client.get("/api/v1/indices")
        assert answer.status_code == 200
        assert answer.get_json() == json.loads(json.dumps(IndexPageSchema().dump(
            {"items": page.items, "total": page.total, "page": page.page, "page_size": page.page_size})))
        return overviews

    def hashprice(overviews):
        return next(o.latest for o in overviews if o.definition.name == "HASHPRICE")

    assert hashprice(listed_and_rendered()) is None
    first, second = (datetime(2026, 10, day, tzinfo=timezone.utc) for day in (2, 3))
    with runtime.uow() as uow:
        uow.fixings.add([daily_hashprice(first, Decimal(49000))], clock.now())
        uow.commit()
    published = hashprice(listed_and_rendered())
    assert (published.as_of, published.value) == (first, Decimal(49000))
    with runtime.uow() as uow:  # the next day's fixing
        uow.fixings.add([daily_hashprice(second, Decimal(49100))], clock.now())
        uow.commit()
    assert hashprice(listed_and_rendered()).value == Decimal(49100)
    with runtime.uow() as uow:  # a correction of it: a new version of the same fixing
        uow.fixings.add([daily_hashprice(second, Decimal(49150))], clock.now(), version=2, reason="late block")
        uow.commit()
    corrected = hashprice(listed_and_rendered())
    assert (corrected.value, corrected.version, corrected.reason) == (Decimal(49150), 2, "late block")

    pages = []
    selects = Statements(runtime.engine).during(
        lambda: pages.extend(index_queries.list_indices(runtime.uow())[0] for _ in range(2)))
    assert pages[0] is pages[1]
    assert len(selects) == 2  # the version, once a call


@pytest.mark.parametrize("table", ["marks", "fixings"])
def test_on_postgresql_appends_to_a_versioning_table_commit_in_the_order_of_their_ids(runtime, table):
    """The newest mark's and fixing's ids version what is kept (``adapters.append_order``): a
    second writer waits for the first to end before it takes an id, so no reader ever sees an id
    while a smaller one is still to commit. Without it the second commits first, and a list kept
    meanwhile under its id misses the first writer's row for good."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers hold the database's write lock from their BEGIN")
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 10), clock.now())
        uow.marks.add(OCTOBER, clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()

    def append(uow, value: int) -> None:
        if table == "marks":
            uow.marks.add(OCTOBER, clock.now(), Decimal(value), "model", Decimal(value))
        else:
            day = datetime(2026, 10, value - 49000, tzinfo=timezone.utc)  # the first writer's day, then the next
            uow.fixings.add([daily_hashprice(day, Decimal(value))], clock.now())

    def shown() -> Decimal:
        if table == "marks":
            return instruments.list_instruments(runtime.uow(), clock)[0].mark_price
        latest = next(o.latest for o in index_queries.list_indices(runtime.uow())
                      if o.definition.name == "HASHPRICE")
        return latest.value if latest else None

    committed = threading.Event()

    def second_writer() -> None:
        with runtime.uow() as uow:
            append(uow, 49002)
            uow.commit()
        committed.set()

    first = runtime.uow()
    with first:
        append(first, 49001)
        writer = threading.Thread(target=second_writer)
        writer.start()
        assert not committed.wait(0.5)  # it waits for the first writer's end
        shown()  # a reader meanwhile keeps what it sees
        first.commit()
    writer.join(10)
    assert committed.is_set()
    assert shown() == Decimal(49002)
    assert (_kept(runtime) == _fresh(runtime) if table == "marks"
            else index_queries.list_indices(runtime.uow()) == _fresh_indices(runtime))

"""The list of instruments each process keeps between reads (``services.listing_memo``): after
every kind of write that changes the list, the kept list is the one a fresh read gives; while
nothing changes, one statement vouches for it; the API renders it as its schema does. SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import event

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import instruments, settlement
from hashedge.services.listing_memo import LISTINGS, ListingMemo
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page
from hashedge.web import create_app
from hashedge.web.api.trading_schemas import InstrumentPageSchema, instrument_view, page_view
from indices.fixings import FixingValue

OCTOBER, NOVEMBER = "HP-2026-10", "HP-2026-11"


def _fresh(runtime, include_settled: bool = False) -> list:
    """What ``list_instruments`` gives when nothing is kept: a new memo reads everything."""
    listing = ListingMemo().current(runtime.uow(), include_settled)
    now = runtime.clock.now()
    return [(r, listing.marks.get(r.symbol), r.status == "listed" and r.spec.is_trading_open(now, listing.tip_height))
            for r in listing.records]


def _kept(runtime, include_settled: bool = False) -> list:
    return [(v.record, v.mark_price, v.mark_source, v.marked_at, v.trading_open)
            for v in instruments.list_instruments(runtime.uow(), runtime.clock, include_settled=include_settled)]


def _as_kept(fresh: list) -> list:
    return [(r, m.price if m else None, m.source if m else None, m.as_of if m else None, open_)
            for r, m, open_ in fresh]


def _same_as_a_fresh_read(runtime) -> list:
    for include_settled in (False, True):
        assert _kept(runtime, include_settled) == _as_kept(_fresh(runtime, include_settled))
    return _kept(runtime)


def _daily(day: datetime, value: Decimal) -> FixingValue:
    return FixingValue(index="HASHPRICE", kind="daily", as_of=day, value=value, unit="sats/PH/day",
                       methodology_version="1", start_height=1, end_height=2, confirmations=6,
                       input_digest="0" * 64)


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
        uow.fixings.add([_daily(day, Decimal(49000)) for day in days], clock.now())
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
    assert LISTINGS.current(runtime.uow(), False).tip_height == tip - 2016
    assert [r for r, *_ in after] == [r for r, *_ in before]


def test_an_unchanged_list_costs_one_statement_and_no_new_rows(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 10, 15, tzinfo=timezone.utc))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 10), clock.now())
        uow.marks.add(OCTOBER, clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    first = LISTINGS.current(runtime.uow(), False)
    statements = []

    def listener(connection, cursor, statement, *args) -> None:
        if statement.startswith("SELECT"):  # not SQLite's BEGIN and PRAGMA of a read-only transaction
            statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        again = LISTINGS.current(runtime.uow(), False)
        assert again is first and len(statements) == 1
        with runtime.uow() as uow:
            uow.marks.add(OCTOBER, clock.now(), Decimal(50001), "model", Decimal(50001))
            uow.commit()
        statements.clear()
        changed = LISTINGS.current(runtime.uow(), False)
        assert changed is not first and changed.marks[OCTOBER].price == Decimal(50001)
        assert len(statements) == 5  # the version, then the version again with the three reads
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)


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

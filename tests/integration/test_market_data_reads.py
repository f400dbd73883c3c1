"""Market data at the cost of what it returns, on SQLite and PostgreSQL: the indices endpoint reads
one statement however many fixings are stored, the market's and the account's reads search the
growing tables through an index and never scan them (SQLite's plans), and book depth from the
database equals the book rebuilt from the stored orders."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain.book import OrderBook
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, instruments, ledger, trading
from hashedge.services.chain_data import import_epoch_history, store_block_frame
from hashedge.services.fixings import publish_fixings
from hashedge.web import create_app
from indices.fixings import FixingValue
from statements import Statements
from tests.integration.conftest import START_OF_TESTS

SYMBOL = "HP-2026-12"
GROWING_TABLES = ("fixings", "marks", "orders", "blocks", "trades")


@pytest.fixture
def market(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    keys, ids = {}, {}
    for name in ("maker", "taker", "third"):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**10, f"seed-{name}")
        keys[name], ids[name] = {"Authorization": f"Bearer {key}"}, account.id
    return create_app(runtime).test_client(), keys, ids


def test_the_indices_endpoint_reads_one_statement_however_many_fixings(runtime, demo_chain, shared_data):
    import_epoch_history(runtime.uow(), shared_data / "btc_difficulty_epochs.csv")
    start = int((START_OF_TESTS - timedelta(days=40)).timestamp())
    middle = int((START_OF_TESTS - timedelta(days=30)).timestamp())
    client = create_app(runtime).test_client()
    statements = Statements(runtime.engine)
    counts, reads = [], []
    for chunk in (demo_chain[(demo_chain["time"] >= start) & (demo_chain["time"] < middle)],
                  demo_chain[demo_chain["time"] >= middle]):
        store_block_frame(runtime.uow(), chunk)
        publish_fixings(runtime.uow(), runtime.clock, confirmations=runtime.settings.confirmations)
        with runtime.uow() as uow:
            counts.append(uow.fixings.count_latest("HASHPRICE"))
        selects = statements.during(lambda: client.get("/api/v1/indices"))
        reads.append([sql for sql, _ in selects])
    assert counts[1] > 3 * counts[0] > 0  # the second chunk holds three times the days
    # besides the version (the newest fixing's id: ``services.versioned_reads``), one statement
    # reads the latest fixings, whatever their number; with nothing published since, none does
    versions = [[sql for sql in r if sql.startswith("SELECT max(fixings.id)")] for r in reads]
    latest = [[sql for sql in r if not sql.startswith("SELECT max(fixings.id)")] for r in reads]
    assert len(latest[0]) == len(latest[1]) == 1 and "FROM fixings" in latest[0][0]
    assert (len(versions[0]), len(versions[1])) == (1, 2)  # first read; then checked, found stale, read again
    unchanged = [sql for sql, _ in statements.during(lambda: client.get("/api/v1/indices"))]
    assert len(unchanged) == 1 and unchanged[0].startswith("SELECT max(fixings.id)")


def test_the_latest_fixing_of_each_index_is_what_the_general_query_says(runtime):
    day = datetime(2026, 10, 1, tzinfo=timezone.utc)

    def fixing(index, kind, as_of, value):
        return FixingValue(index, kind, as_of, Decimal(value), "u", "1", 1, 2, 6, "0" * 64)

    with runtime.uow() as uow:
        uow.fixings.add([fixing("DIFF", "daily", day, 1), fixing("DIFF", "daily", day + timedelta(1), 2),
                         fixing("DIFF", "retarget", day + timedelta(1), 3),  # same as-of: daily first
                         fixing("BME14", "retarget", day, 4), fixing("HASHPRICE", "daily", day, 5)], day)
        uow.fixings.add([fixing("DIFF", "daily", day + timedelta(1), 6)], day, version=2, reason="fix")
        uow.fixings.add([fixing("HASHPRICE", "daily", day, 7)], day, version=2, reason="fix")
        uow.fixings.add([fixing("HASHPRICE", "daily", day, 8)], day, version=3, reason="again")
        uow.commit()
    names = ["DIFF", "BME14", "HASHPRICE", "MRI7"]
    with runtime.uow().read_only() as uow:
        each = uow.fixings.latest_of_each(names)
        general = {n: uow.fixings.latest(n, limit=1, newest_first=True) for n in names}
    assert each == {n: found[0] for n, found in general.items() if found}
    assert {n: (f.kind, f.version, f.value) for n, f in each.items()} == {
        "DIFF": ("daily", 2, Decimal(6)), "BME14": ("retarget", 1, Decimal(4)),
        "HASHPRICE": ("daily", 3, Decimal(8))}


def _place_random_orders(runtime, ids: dict[str, int], count: int, seed: int) -> None:
    draw = random.Random(seed)
    placed = []
    for _ in range(count):
        owner = draw.choice(list(ids.values()))
        side = draw.choice(("buy", "sell"))
        offset = draw.randint(-6, 6) * 5  # tick 5 sats; about half cross the other side
        price = 50000 + offset if side == "buy" else 50000 - offset
        order = trading.place_order(runtime.uow(), runtime.clock, owner, instrument=SYMBOL, side=side,
                                    order_type="limit", quantity=draw.randint(1, 4), price=price).order
        if order.is_resting:
            placed.append(order)
        if placed and draw.random() < 0.15:  # cancel one, or amend it
            victim = placed.pop(draw.randrange(len(placed)))
            current = trading.get_order(runtime.uow(), int(victim.account_id), victim.order_id).order
            if current.is_resting and draw.random() < 0.5:
                trading.cancel_order(runtime.uow(), runtime.clock, int(victim.account_id), victim.order_id)
            elif current.is_resting:
                trading.replace_order(runtime.uow(), runtime.clock, int(victim.account_id), victim.order_id,
                                      quantity=current.filled_quantity + 1)


def test_book_depth_from_the_database_equals_the_book_rebuilt_from_storage(runtime, market):
    client, _, ids = market
    _place_random_orders(runtime, ids, count=80, seed=15)
    with runtime.uow() as uow:
        rules = uow.instruments.get(SYMBOL).spec.trading_rules()
        book = OrderBook.from_resting(rules, uow.orders.resting(SYMBOL))
    assert len(book) > 10  # a book several levels deep on both sides
    for levels in (1, 2, 5, 500):
        expected = book.depth(levels)
        depth = instruments.depth(runtime.uow(), SYMBOL, levels)
        assert (tuple(depth.bids), tuple(depth.asks)) == (expected.bids, expected.asks)
    answer = client.get(f"/api/v1/instruments/{SYMBOL}/book?levels=3").json
    assert [(Decimal(level["price"]), level["quantity"]) for level in answer["bids"]] == list(book.depth(3).bids)


@pytest.mark.parametrize("path", ["/api/v1/indices", "/api/v1/instruments", f"/api/v1/instruments/{SYMBOL}/book",
                                  "/api/v1/positions", "/api/v1/account", "/api/v1/orders"])
def test_market_and_account_reads_search_the_growing_tables_and_never_scan_them(runtime, market, path):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plans are deterministic without statistics; PostgreSQL's depend on them")
    client, keys, ids = market
    _place_random_orders(runtime, ids, count=20, seed=3)
    statements = Statements(runtime.engine)
    selects = statements.during(lambda: client.get(path, headers=keys["taker"]))
    assert selects
    with runtime.engine.connect() as connection:
        for sql, params in selects:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
            scans = [step for step in plan if step.startswith("SCAN") and step.split()[1] in GROWING_TABLES]
            assert not scans, (sql, plan)
            if "FROM orders" in sql and "GROUP BY" in sql:
                assert not any("TEMP B-TREE" in step for step in plan), plan  # levels stream in price order

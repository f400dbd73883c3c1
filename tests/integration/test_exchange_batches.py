"""The exchange's batches (``services.exchange.execute_batch``) give every request the outcome
``trading.place_order`` gives it, called once per request in the same order, and leave the same
stored state: orders, trades, positions, balances and the journal, hash chain included. Two
databases on the same backend take the same seeded stream of requests (valid and invalid orders
of every style, idempotent retries, accounts short of margin, two instruments), one request by
request through ``place_order``, the other in batches of varying size; between batches both see
the same cancels through ``trading.cancel_order`` (writers outside the engine)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from hashedge.adapters.orm.ledger import JournalEntryRow, JournalPostingRow
from hashedge.adapters.orm.trading import OrderRow, PositionRow, TradeRow
from hashedge.bootstrap import Runtime
from hashedge.errors import HashEdgeError
from hashedge.services import accounts, trading
from hashedge.services.exchange import OrderRequest, execute_batch
from hashedge.services.exchange_reads import KEPT
from tests.integration.test_order_path import market as order_path_market
from tests.integration.test_order_path import statements_sent

SYMBOLS = ("HP-2026-12", "HP-2027-01")
MARK = Decimal(50000)
RICH, POOR = 10**11, 3 * 10**6  # sats: a poor account is refused beyond a few contracts


def market(runtime: Runtime, accounts_count: int) -> list[int]:
    """``test_order_path.market``: every third account poor, the others rich."""
    return order_path_market(runtime, accounts_count, lambda i: RICH if i % 3 else POOR)


def requests_stream(rng: random.Random, account_ids: list[int], count: int, first_id: int) -> list[OrderRequest]:
    """Orders near the mark (most valid, some refused by a rule, the book or margin, some retried)."""
    made: list[OrderRequest] = []
    for n in range(count):
        roll = rng.random()
        if made and roll < 0.08:  # a retry: the same request, or the same key with other terms
            again = rng.choice(made)
            if again.idempotency_key is not None:
                quantity = again.quantity if rng.random() < 0.7 else 999
                made.append(OrderRequest(first_id + n, again.account_id, again.instrument, again.side,
                                         again.order_type, quantity, again.price, again.idempotency_key))
                continue
        style = rng.choices(["limit", "market", "ioc", "fok", "post_only", "bogus"], [60, 10, 10, 8, 10, 2])[0]
        price = MARK + rng.randint(-6, 6) * 10 if style != "market" else None
        if rng.random() < 0.03:
            price = MARK * 2  # outside the price band
        if rng.random() < 0.02 and price is not None:
            price += Decimal("0.5")  # off the tick
        quantity = rng.choice([1, 1, 1, 1, 2, 3, 5, 8, 60]) if rng.random() > 0.02 else 0
        account = rng.choice(account_ids) if rng.random() > 0.01 else 999_999
        instrument = rng.choice(SYMBOLS) if rng.random() > 0.01 else "NOPE"
        side = rng.choice(["buy", "sell"]) if rng.random() > 0.01 else "hold"
        key = f"k{n}" if rng.random() < 0.5 else None
        made.append(OrderRequest(first_id + n, account, instrument, side, style, quantity,
                                 None if price is None else str(price), key))
    return made


def direct(runtime: Runtime, request: OrderRequest):
    try:
        return trading.place_order(runtime.uow(), runtime.clock, request.account_id, instrument=request.instrument,
                                   side=request.side, order_type=request.order_type, quantity=request.quantity,
                                   price=request.price, idempotency_key=request.idempotency_key)
    except HashEdgeError as error:
        return error


def outcome_view(outcome) -> tuple:
    """What a client sees, without the random order ids."""
    if isinstance(outcome, HashEdgeError):
        return ("error", type(outcome).__name__, outcome.code, str(outcome), outcome.fields,
                getattr(outcome, "shortfall_sats", None))
    o = outcome.order
    return ("placed", o.sequence, o.account_id, o.instrument_id, o.side, o.quantity, o.filled_quantity, o.price,
            o.status, o.cancel_reason, o.order_type, o.time_in_force, outcome.style, outcome.replayed,
            tuple((f.fill_id, f.price, f.quantity, f.buyer_account_id, f.seller_account_id) for f in outcome.fills),
            outcome.fees_sats)


def stored_state(runtime: Runtime) -> dict:
    with runtime.uow() as uow:
        s = uow.session
        sequences = {row.id: row.sequence for row in s.execute(select(OrderRow.id, OrderRow.sequence))}
        orders = sorted((r.instrument, r.sequence, r.account_id, r.side, r.style, r.order_type, r.time_in_force,
                         r.post_only, r.price, r.price_ticks, r.quantity, r.filled_quantity, r.status,
                         r.cancel_reason, r.idempotency_key) for r in s.scalars(select(OrderRow)))
        trades = sorted((r.id, r.instrument, r.price, r.quantity, r.buyer_account_id, r.seller_account_id,
                         sequences.get(r.buy_order_id), sequences.get(r.sell_order_id), r.buyer_fee_sats,
                         r.seller_fee_sats, r.kind) for r in s.scalars(select(TradeRow)))
        positions = sorted((r.account_id, r.instrument, r.quantity, r.open_value, r.realized_pnl_sats)
                           for r in s.scalars(select(PositionRow)))
        entries = [(r.id, r.kind, r.idempotency_key, r.memo) for r in
                   s.scalars(select(JournalEntryRow).order_by(JournalEntryRow.id))]
        postings = sorted((r.entry_id, r.account_key, r.amount_sats) for r in s.scalars(select(JournalPostingRow)))
        balances = {a.key: b for a, b in uow.ledger.balances().items()}
        faults, head = uow.ledger.chain.verify()
        assert faults == []
        chain = head.chain_sha256 if head is not None else None
    return {"orders": orders, "trades": trades, "positions": positions, "entries": entries,
            "postings": postings, "balances": balances, "chain": chain}


def cancel_some(runtime_a: Runtime, runtime_b: Runtime, rng: random.Random) -> None:
    """The same cancels on both sides, picked by sequence (order ids differ between them)."""
    picks = rng.sample(range(1, 200), 3)
    for runtime in (runtime_a, runtime_b):
        with runtime.uow() as uow:
            resting = {(o.instrument_id, o.sequence): o for s in SYMBOLS for o in uow.orders.resting(s)}
        for key in sorted(resting):
            if key[1] in picks:
                order = resting[key]
                trading.cancel_order(runtime.uow(), runtime.clock, int(order.account_id), order.order_id)


@pytest.mark.parametrize("seed", [1, 2])
def test_batches_give_the_outcomes_and_state_of_one_order_at_a_time(runtime, twin, seed):
    rng = random.Random(seed)
    ids = market(runtime, 7)
    assert market(twin, 7) == ids
    first = 1
    for round_number in range(8):
        stream = requests_stream(rng, ids, rng.choice([1, 7, 40, 150]), first)
        first += len(stream)
        one_by_one = [outcome_view(direct(twin, r)) for r in stream]
        batched = []
        start = 0
        while start < len(stream):
            size = rng.choice([1, 3, 16, 64, 128])
            outcomes = execute_batch(runtime.uow(), runtime.clock, stream[start:start + size])
            batched += [outcome_view(o) for o in outcomes]
            start += size
        assert batched == one_by_one, f"round {round_number}"
        cancel_some(runtime, twin, rng)
        runtime.clock.advance(timedelta(seconds=1))  # the twin's clock too: they share it
    assert stored_state(runtime) == stored_state(twin)
    kinds = {view[0] if view[0] == "placed" else view[2] for view in batched + one_by_one}
    assert {"placed", "insufficient_margin"} <= kinds


def test_a_batch_reaches_as_deep_into_the_book_as_its_orders_fill(runtime, twin):
    """Sixty one-lot asks, some of an account that also buys in the batch (self-trade prevention
    cancels those instead of filling them, so they cannot count towards what the batch may
    take): the batch reads the book past its first rows exactly as far as the orders fill."""
    ids = market(runtime, 6)
    assert market(twin, 6) == ids
    buyer, seller, own, other = ids[1], ids[2], ids[4], ids[5]  # the rich ones
    asks = [OrderRequest(n, own if n % 4 == 0 else seller, SYMBOLS[0], "sell", "limit", 1, str(MARK + n % 5 * 10))
            for n in range(60)]
    buys = [OrderRequest(100, buyer, SYMBOLS[0], "buy", "limit", 25, str(MARK + 40)),
            OrderRequest(101, own, SYMBOLS[0], "buy", "ioc", 5, str(MARK + 20)),
            OrderRequest(102, other, SYMBOLS[0], "buy", "limit", 30, str(MARK + 40))]
    for request in asks:
        direct(twin, request)
    execute_batch(runtime.uow(), runtime.clock, asks)
    one_by_one = [outcome_view(direct(twin, r)) for r in buys]
    batched = [outcome_view(o) for o in execute_batch(runtime.uow(), runtime.clock, buys)]
    assert batched == one_by_one
    filled = [view[6] for view in batched]
    assert filled[0] == 25 and sum(filled) > 16
    assert stored_state(runtime) == stored_state(twin)


def test_a_batchs_own_resting_orders_at_the_front_of_the_book_do_not_count_towards_its_prefix(runtime, twin):
    """Twenty asks of an account that buys in the batch lead the book, another account's follow:
    self-trade prevention cancels the first twenty instead of filling them, so the prefix must
    read past them (more than its first rows) to the asks the buy can fill."""
    ids = market(runtime, 6)
    assert market(twin, 6) == ids
    seller, own = ids[2], ids[4]
    asks = [OrderRequest(n, own, SYMBOLS[0], "sell", "limit", 1, str(MARK)) for n in range(20)] + [
        OrderRequest(20 + n, seller, SYMBOLS[0], "sell", "limit", 1, str(MARK + 10)) for n in range(10)]
    for request in asks:
        direct(twin, request)
    execute_batch(runtime.uow(), runtime.clock, asks)
    buy = [OrderRequest(100, own, SYMBOLS[0], "buy", "ioc", 5, str(MARK + 10))]
    one_by_one = [outcome_view(direct(twin, r)) for r in buy]
    batched = [outcome_view(o) for o in execute_batch(runtime.uow(), runtime.clock, buy)]
    assert batched == one_by_one
    assert batched[0][6] == 5  # filled from the other account's asks, its own twenty cancelled
    assert stored_state(runtime) == stored_state(twin)


def test_resting_orders_of_another_account_of_the_batch_count_towards_its_prefix(runtime, twin):
    """Twenty asks of an account that sells in the batch lead the book: a buy of another account
    fills them (self-trade prevention is only between an order and its own account's), so they
    count towards the prefix, which stops within its first rows: one read of the book."""
    ids = market(runtime, 6)
    assert market(twin, 6) == ids
    buyer, seller = ids[1], ids[2]
    asks = [OrderRequest(n, seller, SYMBOLS[0], "sell", "limit", 1, str(MARK)) for n in range(20)]
    for request in asks:
        direct(twin, request)
    execute_batch(runtime.uow(), runtime.clock, asks)
    batch = [OrderRequest(100, seller, SYMBOLS[0], "sell", "limit", 1, str(MARK + 60)),
             OrderRequest(101, buyer, SYMBOLS[0], "buy", "ioc", 3, str(MARK))]
    one_by_one = [outcome_view(direct(twin, r)) for r in batch]
    batched = []
    sent = statements_sent(runtime, lambda: batched.extend(
        outcome_view(o) for o in execute_batch(runtime.uow(), runtime.clock, batch)))
    book_reads = [s for s in sent if "FROM orders" in s and "ORDER BY orders.price_ticks" in s]
    assert batched == one_by_one
    assert [view[6] for view in batched] == [0, 3]  # the buy filled from the seller's asks
    assert len(book_reads) == 1  # the first rows of both sides, in one statement
    assert stored_state(runtime) == stored_state(twin)


def test_keys_used_by_an_order_or_an_amendment_are_answered_as_one_order_at_a_time(runtime, twin):
    """A batch finds the keys earlier orders and amendments used (one statement): a retry of an
    order is answered with it, and a key a cancel/replace used is refused for a new order."""
    ids = market(runtime, 3)
    assert market(twin, 3) == ids
    rich = ids[1]
    first = OrderRequest(1, rich, SYMBOLS[0], "buy", "limit", 2, str(MARK - 50), "placed-key")
    amended = OrderRequest(5, rich, SYMBOLS[0], "buy", "limit", 2, str(MARK - 80))
    for db in (runtime, twin):
        direct(db, first)
        trading.replace_order(db.uow(), db.clock, rich, direct(db, amended).order.order_id, quantity=3,
                              idempotency_key="amended-key")
    batch = [OrderRequest(2, rich, SYMBOLS[0], "buy", "limit", 2, str(MARK - 50), "placed-key"),
             OrderRequest(3, rich, SYMBOLS[0], "buy", "limit", 1, str(MARK - 60), "amended-key"),
             OrderRequest(4, rich, SYMBOLS[0], "buy", "limit", 1, str(MARK - 70), "fresh-key")]
    one_by_one = [outcome_view(direct(twin, r)) for r in batch]
    batched = [outcome_view(o) for o in execute_batch(runtime.uow(), runtime.clock, batch)]
    assert batched == one_by_one
    assert [view[0] if view[0] == "placed" else view[2] for view in batched] == [
        "placed", "idempotency_key_reused", "placed"]
    assert batched[0][13] is True  # the retry is answered with the stored order
    assert stored_state(runtime) == stored_state(twin)


def prefix_of_key(runtime: Runtime, account_id: int) -> str:
    with runtime.uow() as uow:
        (key,) = uow.api_keys.of_account(account_id)
    return key.prefix


def test_a_request_whose_api_key_is_revoked_or_anothers_is_refused_before_anything_else(runtime):
    """``OrderRequest.api_key_prefix``: the batch refuses the request, Unauthenticated as the web
    would, unless that key is the account's and unrevoked in the batch's own transaction, and
    before any other check; a revocation between two batches is seen by the second (the state
    the first kept is not used over it)."""
    ids = market(runtime, 3)
    rich, other = ids[1], ids[2]
    own, anothers = prefix_of_key(runtime, rich), prefix_of_key(runtime, other)

    def order(request_id, prefix, quantity=1):
        return OrderRequest(request_id, rich, SYMBOLS[0], "buy", "limit", quantity, str(MARK - 50),
                            api_key_prefix=prefix)

    first = execute_batch(runtime.uow(), runtime.clock, [order(1, own), order(2, anothers), order(3, "0" * 12),
                                                         order(4, anothers, quantity=0), order(5, None)])
    assert [outcome_view(o)[0] if not isinstance(o, HashEdgeError) else o.code for o in first] == [
        "placed", "unauthenticated", "unauthenticated", "unauthenticated", "placed"]
    assert first[1].http_status == 401 and first[1].fields == {"Authorization": ["expected 'Bearer <API key>'"]}
    accounts.revoke_api_key(runtime.uow(), runtime.clock, own)
    second = execute_batch(runtime.uow(), runtime.clock, [order(6, own), order(7, None)])
    assert isinstance(second[0], HashEdgeError) and second[0].code == "unauthenticated"
    assert outcome_view(second[1])[0] == "placed"
    with runtime.uow() as uow:  # the refused requests stored nothing
        assert uow.session.scalar(select(func.count()).select_from(OrderRow)) == 3


def test_a_batchs_statements_do_not_grow_with_the_queue_or_the_accounts_resting_orders(runtime):
    """Twenty orders in one batch: the same statements against a queue of 30 or 300 resting asks
    at the crossing price, and from an account with 1 or 120 resting orders."""
    from tests.integration.test_order_path import statements_of

    maker, taker = market(runtime, 3)[1:3]  # the rich ones
    # a trade first: on PostgreSQL the journal's ids come from the process's reserve, drawn a block
    # at a time (adapters/entry_id_reserve.py); drawn here, no measured batch draws
    execute_batch(runtime.uow(), runtime.clock, [OrderRequest(1, maker, SYMBOLS[1], "sell", "limit", 1, str(MARK)),
                                                 OrderRequest(2, taker, SYMBOLS[1], "buy", "limit", 1, str(MARK))])
    counts, first = [], 1000
    for depth in (30, 300):
        execute_batch(runtime.uow(), runtime.clock, [
            OrderRequest(first + n, maker, SYMBOLS[0], "sell", "limit", 1, str(MARK + 10 + len(counts)))
            for n in range(depth)])
        first += depth
        buys = [OrderRequest(first + n, taker, SYMBOLS[0], "buy", "limit", 1, str(MARK + 10 + len(counts)))
                for n in range(20)]
        first += 20
        KEPT.forget()  # each measured batch reads everything (what it may keep differs from run to run)
        counts.append(statements_of(runtime, lambda: execute_batch(runtime.uow(), runtime.clock, buys)))
    assert counts[0] == counts[1]
    counts = []
    for resting in (1, 120):
        execute_batch(runtime.uow(), runtime.clock, [
            OrderRequest(first + n, maker, SYMBOLS[1], "buy", "limit", 1, str(MARK - 500 - n - 200 * len(counts)))
            for n in range(resting)])
        first += resting
        more = [OrderRequest(first + n, maker, SYMBOLS[1], "buy", "limit", 1, str(MARK - 100 - n)) for n in range(20)]
        first += 20
        KEPT.forget()
        counts.append(statements_of(runtime, lambda: execute_batch(runtime.uow(), runtime.clock, more)))
    assert counts[0] == counts[1]
    with runtime.uow() as uow:
        resting = uow.orders.resting_of(maker)
    assert len([o for o in resting if o.instrument_id == SYMBOLS[1]]) == 1 + 20 + 120 + 20
    assert len([o for o in resting if o.instrument_id == SYMBOLS[0]]) == 30 + 300 - 2 * 20


# Tables that grow with the venue's history or its accounts: a batch must find what it needs in
# them through an index, never by reading the whole table.
GROWING_TABLES = ("orders", "order_amendments", "trades", "positions", "journal_entries", "journal_postings",
                  "ledger_balances", "order_requests", "accounts")


def test_a_batch_scans_no_table_that_grows(runtime, monkeypatch):
    """On SQLite, every statement of a batch (one that reads everything, then one served from the
    kept state) is searched through an index: EXPLAIN QUERY PLAN shows no full scan of a table
    that grows with the venue's history."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL's plans depend on its statistics")
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # the batch's own statements only
    ids = market(runtime, 6)
    rng = random.Random(5)
    statements: list[tuple[str, object]] = []

    def seen(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
            statements.append((statement, parameters[0] if executemany else parameters))

    KEPT.forget()
    stream = requests_stream(rng, ids, 48, 1)
    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        for start in range(0, len(stream), 12):
            execute_batch(runtime.uow(), runtime.clock, stream[start:start + 12])
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
        KEPT.forget()
    assert statements
    scans = set()
    with runtime.engine.connect() as connection:
        cursor = connection.connection.driver_connection.cursor()
        for statement, parameters in statements:
            for *_, detail in cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall():
                words = detail.split()
                if words[0] == "SCAN" and words[1] in GROWING_TABLES:  # with or without an index: all of it
                    scans.add((words[1], statement.split("FROM")[0][:80]))
    assert not scans, scans

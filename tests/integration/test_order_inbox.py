"""The order inbox and the matching engine on SQLite and PostgreSQL: the same answers as the
direct path for the same requests, outcomes stored and read back exactly, abandon on timeout
(never executed after), two engines never executing a request twice, a poison request failing
alone, and the inbox's table as its mapping describes it."""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from hashedge.adapters.orm import Base
from hashedge.adapters.orm.trading import OrderRow, TradeRow
from hashedge.adapters.repositories.exchange import StaleClaim
from hashedge.domain.instruments import hashprice_monthly
from hashedge.errors import HashEdgeError
from hashedge.jobs.engine import EngineProcess
from hashedge.services import accounts, exchange_engine, ledger, order_inbox, trading
from hashedge.services.order_inbox import EngineUnavailable, OrderNotExecuted, decode_outcome, encode_outcome
from hashedge.services.trading import OrderRejected, PlacedOrder

SYMBOL = "HP-2026-12"
MARK = Decimal(50000)
BOUND_S = 60  # every wait in this module is bounded


def market(runtime, keys: dict | None = None) -> list[int]:
    """One listed contract with a mark; three accounts: two funded, one with 1,000 sats (their
    API keys in ``keys`` when given)."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    ids = []
    for name, sats in (("maker", 10**10), ("taker", 10**10), ("thin", 1000)):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        ids.append(account.id)
        if keys is not None:
            keys[name] = key
    return ids


def sequence(maker: int, taker: int, thin: int) -> list[dict]:
    """Placing, resting, filling, partial fills, refusals of every kind and idempotent retries."""
    def o(account, side, quantity, price, order_type="limit", key=None, instrument=SYMBOL):
        return dict(account_id=account, instrument=instrument, side=side, order_type=order_type,
                    quantity=quantity, price=price, idempotency_key=key)
    return [
        o(maker, "sell", 3, 50000, key="m-1"),
        o(maker, "sell", 2, "50010", key="m-2"),
        o(taker, "buy", 4, 50010, key="t-1"),          # fills 3 at 50,000 and 1 at 50,010
        o(taker, "buy", 4, 50010, key="t-1"),          # the retry: the stored answer, replayed
        o(taker, "buy", 5, 50020, key="t-1"),          # the key with other terms: 409
        o(thin, "buy", 50, 50000),                     # margin: 422 with a shortfall
        o(taker, "buy", 1, 50000.5),                   # off the tick? (a float is not a price): 400
        o(taker, "buy", 1, "50000.5"),                 # off the tick: 422
        o(taker, "buy", 1, 99000),                     # outside the band: 422
        o(taker, "sideways", 1, 50000),                # 400
        o(taker, "buy", 0, 50000),                     # 400
        o(taker, "buy", 1, 50000, instrument="NOPE"),  # 404
        o(taker, "buy", 1, 50000, order_type="stop"),  # 400
        o(maker, "buy", 2, 49990, order_type="post_only"),
        o(taker, "sell", 1, 49990, order_type="post_only"),  # would cross: 422
        o(taker, "sell", 3, None, order_type="market"),  # fills 2 at 49,990, the rest cancelled
        o(taker, "buy", 1, 50010, order_type="fok"),
        o(taker, "buy", 1, 50010, order_type="ioc"),   # nothing left to meet: cancelled
        o(10**6, "buy", 1, 50000),                     # unknown account: 404
        o(taker, "buy", 1, 50000, key="bad key with spaces"),  # 400
    ]


def answer(outcome, order_ids: dict) -> tuple:
    """An outcome as a client sees it, order ids replaced by their rank (they are random)."""
    if isinstance(outcome, HashEdgeError):
        extra = {k: v for k, v in vars(outcome).items() if k not in ("message", "fields")}
        return ("error", type(outcome), outcome.code, outcome.http_status, outcome.message, outcome.fields, extra)
    number = order_ids.setdefault(outcome.order.order_id, len(order_ids))
    fills = [(f.fill_id, f.price, f.quantity, f.buyer_account_id, f.seller_account_id,
              order_ids.get(f.buy_order_id, f.buy_order_id), order_ids.get(f.sell_order_id, f.sell_order_id),
              f.aggressor, f.occurred_at) for f in outcome.fills]
    return ("placed", number, dataclasses.replace(outcome.order, order_id="-"), outcome.style, fills,
            outcome.fees_sats, outcome.replayed)


def outcomes_of(place, requests) -> list:
    found = []
    for request in requests:
        try:
            found.append(place(**request))
        except HashEdgeError as exc:
            found.append(exc)
    return found


class Engine:
    """A real engine process's loop in a thread (stopped and joined at the end, bounded)."""

    def __init__(self, runtime, **options):
        self.process = EngineProcess(runtime, **options)
        self.thread = threading.Thread(target=self.process.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.process

    def __exit__(self, *exc_info):
        self.process.stop()
        self.thread.join(BOUND_S)
        assert not self.thread.is_alive()


def test_the_inbox_answers_every_request_as_the_direct_path_does(runtime, twin):
    direct_ids, inbox_ids = market(runtime), market(twin)
    assert direct_ids == inbox_ids
    requests = sequence(*direct_ids)
    direct = outcomes_of(lambda account_id, **terms: trading.place_order(
        runtime.uow(), runtime.clock, account_id, **terms), requests)
    with Engine(twin):
        inbox = outcomes_of(lambda account_id, **terms: order_inbox.submit_order(
            twin.uow, twin.clock, account_id, timeout_s=BOUND_S, **terms), requests)
    ranks_direct, ranks_inbox = {}, {}
    assert [answer(o, ranks_inbox) for o in inbox] == [answer(o, ranks_direct) for o in direct]
    kinds = [type(o).__name__ for o in direct]  # the sequence covers what it says it covers
    assert {"PlacedOrder", "IdempotencyKeyReused", "InsufficientMargin", "OrderRejected", "InvalidInput",
            "NotFound"} <= set(kinds)
    assert any(isinstance(o, PlacedOrder) and o.replayed for o in direct)
    assert any(isinstance(o, OrderRejected) and o.shortfall_sats for o in direct)
    assert ledger.check_balances(twin.uow()).ok
    with twin.uow() as uow:
        assert uow.order_inbox.counts() == {"done": len(requests)}


def test_an_outcome_reads_back_as_it_was_stored(runtime):
    maker, taker, thin = market(runtime)
    trading.place_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell", order_type="limit",
                        quantity=2, price=50000)
    placed = trading.place_order(runtime.uow(), runtime.clock, taker, instrument=SYMBOL, side="buy",
                                 order_type="limit", quantity=3, price=50000)
    trading.place_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell", order_type="limit",
                        quantity=1, price=50000)  # fills the rest later: the stored order moves on
    refusals = outcomes_of(lambda account_id, **terms: trading.place_order(
        runtime.uow(), runtime.clock, account_id, **terms), [
        dict(account_id=thin, instrument=SYMBOL, side="buy", order_type="limit", quantity=50, price=50000),
        dict(account_id=taker, instrument=SYMBOL, side="sideways", order_type="limit", quantity=1, price=1)])
    with runtime.uow() as uow:
        assert decode_outcome(encode_outcome(placed)) == placed
        assert placed.order.remaining_quantity == 1 and uow.orders.get(placed.order.order_id).order.is_resting is False
        for refusal in refusals:
            again = decode_outcome(encode_outcome(refusal))
            assert answer(again, {}) == answer(refusal, {})
    assert refusals[0].reason == "insufficient_free_collateral" and refusals[0].shortfall_sats > 0
    unknown = HashEdgeError("odd", fields={"x": ["y"]})
    unknown.code, unknown.http_status = "odd_error", 418
    odd = decode_outcome(encode_outcome(unknown).replace("hashedge.errors.HashEdgeError", "gone.Error"))
    assert (odd.code, odd.http_status, odd.message, odd.fields) == ("odd_error", 418, "odd", {"x": ["y"]})


def test_a_request_the_engine_does_not_answer_in_time_is_abandoned_and_never_executed(runtime):
    maker, _, _ = market(runtime)
    with pytest.raises(EngineUnavailable) as refused:
        order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                 order_type="limit", quantity=1, price=50000, timeout_s=0.05)
    assert refused.value.http_status == 503 and "nothing was executed" in refused.value.message
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).idle  # an engine starting now
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"abandoned": 1}
        assert uow.session.scalar(select(func.count()).select_from(OrderRow)) == 0


def test_an_outcome_that_arrives_as_the_submitter_gives_up_is_answered(runtime):
    maker, _, _ = market(runtime)
    request_id = order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell",
                                           order_type="limit", quantity=1, price=50000)
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).answered == 1
    placed = order_inbox.await_outcome(runtime.uow, runtime.clock, request_id, timeout_s=0)  # too late to abandon
    assert placed.order.status.value == "open"
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"done": 1}


def test_a_batch_whose_rows_another_engine_took_rolls_back_whole(runtime):
    maker, _, _ = market(runtime)
    ids = [order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell",
                                     order_type="limit", quantity=1, price=50000 + i) for i in range(3)]
    with runtime.uow() as uow:
        uow.order_inbox.abandon(ids[1], runtime.clock.now())
        uow.commit()
    with runtime.uow() as uow, pytest.raises(StaleClaim):
        uow.order_inbox.mark_done([(i, "{}") for i in ids], runtime.clock.now())
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).answered == 2  # read again: two pending
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"done": 2, "abandoned": 1}


def test_two_engines_racing_never_execute_a_request_twice(runtime):
    maker, taker, _ = market(runtime)
    ids = [order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker if i % 2 else taker, instrument=SYMBOL,
                                     side="sell" if i % 2 else "buy", order_type="limit", quantity=1,
                                     price=50000, idempotency_key=f"k-{i}") for i in range(40)]
    reports, errors = [], []

    def engine() -> None:
        try:
            for _ in range(200):  # bounded; stops once the inbox is empty
                report = exchange_engine.process_batch(runtime.uow, runtime.clock, batch_size=3)
                reports.append(report)
                if report.idle:
                    return
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=engine) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BOUND_S)
    assert not errors and not any(t.is_alive() for t in threads)
    assert sum(r.answered for r in reports) == len(ids)
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"done": len(ids)}
        assert uow.session.scalar(select(func.count()).select_from(OrderRow)) == len(ids)
        assert uow.session.scalar(select(func.count()).select_from(TradeRow)) == len(ids) // 2
    assert ledger.check_balances(runtime.uow()).ok


def test_a_poison_request_fails_alone_and_the_inbox_goes_on(runtime, monkeypatch):
    maker, taker, _ = market(runtime)
    real = exchange_engine.execute_batch
    seen = []

    def poisoned(uow, clock, requests, **kwargs):  # one request breaks any batch it is in
        seen.append(len(requests))
        if any(r.idempotency_key == "poison" for r in requests):
            raise RuntimeError("a bug this request triggers")
        return real(uow, clock, requests, **kwargs)

    monkeypatch.setattr(exchange_engine, "execute_batch", poisoned)
    submitted = [order_inbox.enqueue_order(runtime.uow(), runtime.clock, account, instrument=SYMBOL, side=side,
                                           order_type="limit", quantity=1, price=50000, idempotency_key=key)
                 for account, side, key in ((maker, "sell", "a"), (taker, "buy", "poison"), (taker, "buy", "b"))]
    report = exchange_engine.process_batch(runtime.uow, runtime.clock)
    assert (report.answered, report.poisoned, seen) == (2, 1, [3, 3, 1, 1, 1])  # twice whole, then one by one
    answers = [order_inbox.await_outcome(runtime.uow, runtime.clock, i, timeout_s=BOUND_S)
               if n != 1 else None for n, i in enumerate(submitted)]
    assert [a.order.status.value for a in answers if a] == ["open", "filled"]  # as each was executed
    with pytest.raises(OrderNotExecuted) as failed:
        order_inbox.await_outcome(runtime.uow, runtime.clock, submitted[1], timeout_s=BOUND_S)
    assert failed.value.http_status == 500 and "nothing was executed" in failed.value.message
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).idle


def test_a_database_failure_poisons_nothing_and_the_batch_is_executed_at_the_next_step(runtime, monkeypatch):
    from sqlalchemy.exc import OperationalError

    maker, _, _ = market(runtime)
    real, failures = exchange_engine.execute_batch, [1, 1, 1]

    def failing_once(uow, clock, requests, **kwargs):  # a deadlock, a lost connection, ...
        if failures:
            failures.pop()
            raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))
        return real(uow, clock, requests, **kwargs)

    monkeypatch.setattr(exchange_engine, "execute_batch", failing_once)
    order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell",
                              order_type="limit", quantity=1, price=50000)
    first = exchange_engine.process_batch(runtime.uow, runtime.clock)
    assert (first.answered, first.poisoned, first.retry) == (0, 0, True)
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"pending": 1}
    failures.clear()
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).answered == 1


def test_an_engine_takes_only_its_instrument_group(runtime):
    maker, _, _ = market(runtime)
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2027, 1), runtime.clock.now())
        uow.marks.add("HP-2027-01", runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    for symbol in (SYMBOL, "HP-2027-01", SYMBOL):
        order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=symbol, side="sell",
                                  order_type="limit", quantity=1, price=50000)
    ours = exchange_engine.process_batch(runtime.uow, runtime.clock, instruments=("HP-2027-01",))
    assert ours.answered == 1
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"done": 1, "pending": 2}
        assert [o.instrument_id for o in uow.orders.resting("HP-2027-01")] == ["HP-2027-01"]


def test_the_inbox_table_is_as_its_mapping_describes_it(runtime):
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to:
                type_ != "table" or name == "order_requests"})
        assert compare_metadata(context, Base.metadata) == []


# --- through the API, and a real engine process killed mid-batch ------------------------------


@contextmanager
def api_client(runtime, engine: str, timeout_s: int = BOUND_S):
    """A test client of the app with ``HASHEDGE_ORDER_ENGINE=engine``; its LISTEN connection (on
    PostgreSQL) closed at the end."""
    from hashedge.web import create_app

    settings = dataclasses.replace(runtime.settings, order_engine=engine, order_timeout_seconds=timeout_s)
    app = create_app(dataclasses.replace(runtime, settings=settings))
    try:
        yield app.test_client()
    finally:
        waits = app.extensions.get("hashedge_outcome_waits")
        if hasattr(waits, "close"):
            waits.close()


def http_answers(client, keys: dict, requests: list[tuple]) -> list:
    seen: dict[str, int] = {}
    found = []
    for who, body, key in requests:
        headers = {"Authorization": f"Bearer {keys[who]}", **({"Idempotency-Key": key} if key else {})}
        response = client.post("/api/v1/orders", json=body, headers=headers)
        payload = response.get_json()
        if "id" in payload:
            payload["id"] = seen.setdefault(payload["id"], len(seen))
        found.append((response.status_code, response.headers.get("Idempotent-Replayed"), payload))
    return found


def test_orders_through_the_api_and_the_engine_get_the_direct_paths_answers(runtime, twin):
    direct_keys, inbox_keys = {}, {}
    market(runtime, direct_keys)
    market(twin, inbox_keys)

    def body(side, quantity, price, order_type="limit", instrument=SYMBOL):
        return {"instrument": instrument, "side": side, "type": order_type, "quantity": quantity, "price": price}
    requests = [("maker", body("sell", 3, "50000"), "m-1"), ("taker", body("buy", 4, "50000"), "t-1"),
                ("taker", body("buy", 4, "50000"), "t-1"), ("taker", body("buy", 5, "50000"), "t-1"),
                ("thin", body("buy", 50, "50000"), None), ("taker", body("buy", 1, "50000.5"), None),
                ("taker", body("buy", 1, "50000", instrument="NOPE"), None),
                ("taker", body("sell", 2, None, "market"), None), ("maker", body("buy", 1, "49990", "fok"), None)]
    with api_client(runtime, "direct") as client:
        direct = http_answers(client, direct_keys, requests)
    with Engine(twin), api_client(twin, "inbox") as client:
        inbox = http_answers(client, inbox_keys, requests)
    assert inbox == direct
    assert [status for status, _, _ in direct] == [201, 201, 201, 409, 422, 422, 404, 201, 201]
    assert direct[2][1] == "true"  # the retry, replayed


def test_an_order_without_an_engine_running_is_a_503_and_never_executes(runtime):
    keys = {}
    market(runtime, keys)
    with api_client(runtime, "inbox", timeout_s=1) as client:
        response = client.post("/api/v1/orders", headers={"Authorization": f"Bearer {keys['maker']}"},
                               json={"instrument": SYMBOL, "side": "sell", "type": "limit", "quantity": 1,
                                     "price": "50000"})
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "engine_unavailable"
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).idle
    with runtime.uow() as uow:
        assert uow.order_inbox.counts() == {"abandoned": 1} and uow.orders.resting(SYMBOL) == []


ENGINE = """
import sys
from datetime import datetime, timedelta
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.jobs.engine import EngineProcess
url, now, instance = sys.argv[1:4]
runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": instance},
                                  secret_key="crash"), clock=FixedClock(datetime.fromisoformat(now)))
totals = EngineProcess(runtime, batch_size=4, lease_ttl=timedelta(seconds=1)).run(once=True)
print(totals.answered, totals.batches)
"""
STATE = ["SELECT account_id, instrument, side, quantity, status, filled_quantity, sequence FROM orders"
         " ORDER BY instrument, sequence",
         "SELECT id, quantity, price, buyer_account_id, seller_account_id FROM trades ORDER BY id",
         "SELECT account_key, balance_sats FROM ledger_balances ORDER BY account_key",
         "SELECT account_id, instrument, quantity FROM positions ORDER BY account_id, instrument",
         "SELECT last_sequence FROM instrument_sequences ORDER BY instrument",
         "SELECT count(*) FROM journal_entries", "SELECT count(*) FROM journal_chain",
         "SELECT id, status FROM order_requests ORDER BY id"]


def stored(runtime) -> list:
    from sqlalchemy import text

    with runtime.engine.connect() as connection:
        return [[tuple(row) for row in connection.execute(text(query))] for query in STATE]


def enqueue_crossing_requests(runtime) -> int:
    maker, taker, thin = market(runtime)
    requests = [r for i in range(4) for r in (
        dict(account_id=maker, side="sell", quantity=2, price=50000 + i, idempotency_key=f"m-{i}"),
        dict(account_id=taker, side="buy", quantity=3, price=50003, idempotency_key=f"t-{i}"),
        dict(account_id=thin, side="buy", quantity=50, price=50000, idempotency_key=None))]
    requests.insert(5, dict(requests[1]))  # a retry of t-0 in a later batch
    for request in requests:
        order_inbox.enqueue_order(runtime.uow(), runtime.clock, instrument=SYMBOL, order_type="limit", **request)
    return len(requests)


def test_an_engine_killed_before_a_commit_executes_every_request_exactly_once_when_restarted(
        runtime, twin, database_url, tmp_path):
    import os
    import subprocess
    import sys

    count = enqueue_crossing_requests(runtime)
    enqueue_crossing_requests(twin)
    while not exchange_engine.process_batch(twin.uow, twin.clock, batch_size=4).idle:  # the reference
        pass
    runtime.close()

    def run(fault=None):
        env = {k: v for k, v in os.environ.items() if k != "HASHEDGE_FAULT"}
        if fault:
            env["HASHEDGE_FAULT"] = fault
        return subprocess.run([sys.executable, "-c", ENGINE, database_url, runtime.clock.now().isoformat(),
                               str(tmp_path / "instance")], env=env, capture_output=True, text=True, timeout=120)

    killed = run("exchange.before_commit@2")  # the first batch committed, the second written, not committed
    assert killed.returncode == -9, killed.stderr
    after_kill = stored(runtime)
    assert [status for _, status in after_kill[-1]] == ["done"] * 4 + ["pending"] * (count - 4)
    assert len(after_kill[0]) < len(stored(twin)[0])
    restarted = run()
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.split()[0] == str(count - 4)
    assert stored(runtime) == stored(twin)  # each request executed once, as an uninterrupted engine did
    assert ledger.check_balances(runtime.uow()).ok
    again = run()  # a further restart finds nothing to do
    assert again.stdout.split() == ["0", "0"] and stored(runtime) == stored(twin)


def test_the_engines_commit_wakes_the_waiting_submitter(runtime):
    """PostgreSQL: the engine's NOTIFY; SQLite: the process's poller. Either way before the
    submitter's own fallback poll."""
    from hashedge.adapters.outcome_listener import OutcomeListener, OutcomePoller

    maker, _, _ = market(runtime)
    engine = runtime.engine
    listener = OutcomeListener(engine.url) if engine.dialect.name == "postgresql" else OutcomePoller(engine)
    try:
        request_id = order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell",
                                               order_type="limit", quantity=1, price=50000)
        listener.expect(request_id)
        assert listener.listening.wait(BOUND_S)
        exchange_engine.process_batch(runtime.uow, runtime.clock)
        listener.wait(request_id, BOUND_S)
        assert listener._events[request_id].is_set()  # woken, not timed out
        placed = order_inbox.await_outcome(runtime.uow, runtime.clock, request_id, waits=listener)
        assert placed.order.status.value == "open"
    finally:
        listener.close()


def test_an_idle_engine_is_woken_by_a_new_request(runtime):
    """LISTEN/NOTIFY on PostgreSQL, the data version on SQLite: the wait ends well before its bound."""
    import time

    from hashedge.adapters.inbox_signal import InboxSignal

    maker, _, _ = market(runtime)
    signal = InboxSignal(runtime.engine)
    try:
        signal.arm()
        signal.wait(0.01)  # nothing new: times out
        signal.arm()
        order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell",
                                  order_type="limit", quantity=1, price=50000)
        started = time.monotonic()
        signal.wait(BOUND_S)
        assert time.monotonic() - started < BOUND_S / 2  # woken, not timed out
    finally:
        signal.close()

"""Benchmark of the order path (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_order_path.py [--orders 2000] [--backends sqlite,postgresql]
        [--paths direct,batch] [--batch-size 500] [--code PATH]

For each backend (PostgreSQL needs HASHEDGE_TEST_POSTGRES_URL, see scripts/start-postgres), on a
fresh database:

1. **Orders per second** through ``services.trading.place_order``: twenty accounts, a book 400
   orders deep away from the action, a resting sell then a buy crossing it (every second order
   fills), as ``bench_matching.py`` measures it.
2. **An order against a queue of N resting orders at the crossing price** (N = 100, 1,000,
   10,000; one contract each, other accounts): a buy of one contract at that price, which fills
   against the first; median wall time and SQL statements per order over 20 orders.
3. **An order from an account with K resting orders** (K = 1, 100, 1,000, at K prices below the
   market): one more resting buy from that account (the exact margin check counts them all);
   median wall time and statements per order over 20 orders.

Each figure for both paths: ``direct`` is ``place_order``, one transaction per order; ``batch`` is
``services.exchange.execute_batch`` (the engine's group commit) over the same orders, 500 a batch
for 1 (what the engine takes from a full inbox) and the 20 sampled orders as one batch for 2 and 3.

The queues and resting orders of 2 and 3 are written straight into storage (placing 10,000 orders
one by one would measure the old path's setup, not the order). ``--code PATH`` imports
``hashedge`` from another checkout (e.g. ``git archive main``) so before and after run the same
script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal

if __name__ == "__main__" and "--code" in sys.argv:
    sys.path.insert(0, os.path.abspath(sys.argv[sys.argv.index("--code") + 1]))

from sqlalchemy import create_engine, event, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hashedge.adapters.orm.trading import OrderRow  # noqa: E402
from hashedge.bootstrap import bootstrap  # noqa: E402
from hashedge.clock import FixedClock  # noqa: E402
from hashedge.config import load_settings  # noqa: E402
from hashedge.domain.instruments import hashprice_monthly  # noqa: E402
from hashedge.services import accounts, ledger, trading  # noqa: E402

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
MONTHS = [(2026, 12), (2027, 1), (2027, 2)]
MARK = Decimal(50000)
SAMPLES = 20


def fresh_database(backend: str) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", lambda: None
    admin_url = make_url(os.environ["HASHEDGE_TEST_POSTGRES_URL"])
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"hashedge_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def runtime_for(url: str):
    settings = load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": tempfile.mkdtemp()},
                             secret_key="bench")
    runtime = bootstrap(settings, clock=FixedClock(NOW))
    runtime.migrate()
    with runtime.uow() as uow:
        for year, month in MONTHS:
            spec = hashprice_monthly(year, month)
            uow.instruments.add(spec, NOW)
            uow.marks.add(spec.symbol, NOW, MARK, "model", MARK)
        uow.commit()
    return runtime


def funded_accounts(runtime, count: int, prefix: str) -> list[int]:
    ids = []
    for i in range(count):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"{prefix}-{i}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**13, f"{prefix}-seed-{i}")
        ids.append(account.id)
    return ids


class StatementCounter:
    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._counted)
        return self

    def _counted(self, *args):
        self.count += 1

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._counted)


def bench_throughput(runtime, orders: int) -> float:
    symbol = hashprice_monthly(*MONTHS[0]).symbol
    ids = funded_accounts(runtime, 20, "rate")
    for i in range(200):  # resting depth away from the action
        trading.place_order(runtime.uow(), runtime.clock, ids[i % 20], instrument=symbol, side="buy",
                            order_type="limit", quantity=1, price=40000 + i)
        trading.place_order(runtime.uow(), runtime.clock, ids[(i + 1) % 20], instrument=symbol, side="sell",
                            order_type="limit", quantity=1, price=60000 - i)
    started = time.perf_counter()
    for i in range(orders // 2):
        seller, buyer = ids[i % 20], ids[(i + 7) % 20]
        trading.place_order(runtime.uow(), runtime.clock, seller, instrument=symbol, side="sell",
                            order_type="limit", quantity=2, price=50000)
        trading.place_order(runtime.uow(), runtime.clock, buyer, instrument=symbol, side="buy",
                            order_type="limit", quantity=2, price=50000)
    return (orders // 2 * 2) / (time.perf_counter() - started)


def batched_requests(ids: list[int], symbol: str, orders: int, first: int = 0) -> list:
    """The same stream as ``bench_throughput``'s, as exchange requests."""
    from hashedge.services.exchange import OrderRequest

    requests = []
    for i in range(orders // 2):
        seller, buyer = ids[i % 20], ids[(i + 7) % 20]
        requests.append(OrderRequest(first + 2 * i, seller, symbol, "sell", "limit", 2, 50000))
        requests.append(OrderRequest(first + 2 * i + 1, buyer, symbol, "buy", "limit", 2, 50000))
    return requests


def bench_batch_throughput(runtime, orders: int, batch_size: int) -> tuple[float, float]:
    """``bench_throughput``'s orders through ``exchange.execute_batch``, ``batch_size`` a batch
    (what the engine does with a full inbox): orders/s and statements per order."""
    from hashedge.services.exchange import execute_batch

    symbol = hashprice_monthly(*MONTHS[0]).symbol
    ids = funded_accounts(runtime, 20, "rate")
    for i in range(200):
        trading.place_order(runtime.uow(), runtime.clock, ids[i % 20], instrument=symbol, side="buy",
                            order_type="limit", quantity=1, price=40000 + i)
        trading.place_order(runtime.uow(), runtime.clock, ids[(i + 1) % 20], instrument=symbol, side="sell",
                            order_type="limit", quantity=1, price=60000 - i)
    requests = batched_requests(ids, symbol, orders)
    started = time.perf_counter()
    with StatementCounter(runtime.engine) as counter:
        for start in range(0, len(requests), batch_size):
            outcomes = execute_batch(runtime.uow(), runtime.clock, requests[start:start + batch_size])
            assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    return len(requests) / (time.perf_counter() - started), counter.count / len(requests)


def timed_batch(runtime, requests) -> tuple[float, float]:
    """Mean ms and statements per order of ``requests`` executed as one exchange batch."""
    from hashedge.services.exchange import execute_batch

    with StatementCounter(runtime.engine) as counter:
        started = time.perf_counter()
        outcomes = execute_batch(runtime.uow(), runtime.clock, requests)
        elapsed = (time.perf_counter() - started) * 1000
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    return elapsed / len(requests), counter.count / len(requests)


def store_resting(runtime, symbol: str, rows: list[dict]) -> None:
    """Resting limit orders written straight into storage, sequences after the instrument's last."""
    with runtime.uow() as uow:
        last = uow.instruments.lock_sequence(symbol)
        for i, row in enumerate(rows):
            row.update(id=uuid.uuid4().hex, instrument=symbol, style="limit", order_type="limit",
                       time_in_force="gtc", post_only=False, price=str(row["price_ticks"]), filled_quantity=0,
                       status="open", cancel_reason=None, sequence=last + 1 + i, idempotency_key=None,
                       created_at=NOW, updated_at=NOW)
        for start in range(0, len(rows), 5000):
            uow.session.execute(insert(OrderRow), rows[start:start + 5000])
        uow.instruments.set_sequence(symbol, last + len(rows))
        uow.commit()
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as connection:
            connection.execute(text("ANALYZE orders"))
            connection.commit()


def timed_orders(runtime, place) -> tuple[float, float]:
    """Median ms and mean statements per order over ``SAMPLES`` calls of ``place(i)``."""
    times = []
    with StatementCounter(runtime.engine) as counter:
        for i in range(SAMPLES):
            started = time.perf_counter()
            place(i)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), counter.count / SAMPLES


def bench_queue(runtime, makers: list[int], taker: int, depth: int, month, batch: bool = False
                ) -> tuple[float, float]:
    symbol = hashprice_monthly(*month).symbol
    store_resting(runtime, symbol, [{"account_id": makers[i % len(makers)], "side": "sell", "price_ticks": 50000,
                                     "quantity": 1} for i in range(depth)])
    if batch:
        from hashedge.services.exchange import OrderRequest
        return timed_batch(runtime, [OrderRequest(i, taker, symbol, "buy", "limit", 1, 50000) for i in range(SAMPLES)])
    return timed_orders(runtime, lambda i: trading.place_order(
        runtime.uow(), runtime.clock, taker, instrument=symbol, side="buy", order_type="limit", quantity=1,
        price=50000))


def bench_account_orders(runtime, account: int, resting: int, month, batch: bool = False) -> tuple[float, float]:
    symbol = hashprice_monthly(*month).symbol
    store_resting(runtime, symbol, [{"account_id": account, "side": "buy", "price_ticks": 45000 - i,
                                     "quantity": 1} for i in range(resting)])
    if batch:
        from hashedge.services.exchange import OrderRequest
        return timed_batch(runtime, [OrderRequest(i, account, symbol, "buy", "limit", 1, 46000 + i)
                                     for i in range(SAMPLES)])
    return timed_orders(runtime, lambda i: trading.place_order(
        runtime.uow(), runtime.clock, account, instrument=symbol, side="buy", order_type="limit", quantity=1,
        price=46000 + i))


def bench_cancel(runtime, makers: list[int], depth: int, month) -> tuple[float, float]:
    """Cancelling one of ``SAMPLES`` orders of one account in a book ``depth`` orders deep."""
    symbol = hashprice_monthly(*month).symbol
    store_resting(runtime, symbol, [{"account_id": makers[i % len(makers)], "side": "sell",
                                     "price_ticks": 50000 + i % 50, "quantity": 1} for i in range(depth)])
    with runtime.uow() as uow:
        mine = [o for o in uow.orders.resting_of(makers[0])][:SAMPLES]
    return timed_orders(runtime, lambda i: trading.cancel_order(runtime.uow(), runtime.clock, makers[0],
                                                                mine[i].order_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--code", help="import hashedge from this checkout")
    parser.add_argument("--skip-rate", action="store_true")
    parser.add_argument("--paths", default="direct,batch",
                        help="direct: place_order one order per transaction; batch: exchange.execute_batch")
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    print(f"hashedge from {os.path.dirname(os.path.dirname(trading.__file__))}; load {os.getloadavg()[0]:.2f}")
    for backend in args.backends.split(","):
        if backend == "postgresql" and not os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
            print("postgresql skipped: set HASHEDGE_TEST_POSTGRES_URL (scripts/start-postgres)")
            continue
        for path in args.paths.split(","):
            run_path(backend, path, args)


def on_fresh_database(backend: str, measure) -> None:
    url, drop = fresh_database(backend)
    try:
        runtime = runtime_for(url)
        measure(runtime)
        runtime.close()
    finally:
        drop()


def run_path(backend: str, path: str, args) -> None:
    batch = path == "batch"
    label = f"{backend} {path}"
    if not args.skip_rate:
        def rate(runtime):
            if batch:
                per_s, statements = bench_batch_throughput(runtime, args.orders, args.batch_size)
                print(f"{label}: {per_s:,.0f} orders/s through exchange.execute_batch ({args.orders} orders, "
                      f"half filling, batches of {args.batch_size}; {statements:.2f} statements per order), "
                      f"load {os.getloadavg()[0]:.2f}")
            else:
                per_s = bench_throughput(runtime, args.orders)
                print(f"{label}: {per_s:,.0f} orders/s through place_order ({args.orders} orders, half filling), "
                      f"load {os.getloadavg()[0]:.2f}")
        on_fresh_database(backend, rate)
    what = "per order in a batch of 20" if batch else "median per order"
    for depth in (100, 1_000, 10_000):
        def queue(runtime, depth=depth):
            makers, taker = funded_accounts(runtime, 10, "maker"), funded_accounts(runtime, 1, "taker")[0]
            ms, statements = bench_queue(runtime, makers, taker, depth, MONTHS[1], batch)
            print(f"{label}: queue of N={depth:,} at the crossing price: {ms:.2f} ms {what}, "
                  f"{statements:.1f} statements per order")
        on_fresh_database(backend, queue)
    if not batch:
        for depth in (100, 10_000):
            def cancels(runtime, depth=depth):
                ms, statements = bench_cancel(runtime, funded_accounts(runtime, 2, "maker"), depth, MONTHS[1])
                print(f"{label}: cancel in a book of N={depth:,}: {ms:.2f} ms median, {statements:.1f} statements")
            on_fresh_database(backend, cancels)
    for resting in (1, 100, 1_000):
        def account_orders(runtime, resting=resting):
            account = funded_accounts(runtime, 1, "holder")[0]
            ms, statements = bench_account_orders(runtime, account, resting, MONTHS[2], batch)
            print(f"{label}: account with K={resting:,} resting orders: {ms:.2f} ms {what}, "
                  f"{statements:.1f} statements per order")
        on_fresh_database(backend, account_orders)

if __name__ == "__main__":
    main()

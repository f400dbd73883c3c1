"""Benchmark of the order path (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_order_path.py [--orders 2000] [--backends sqlite,postgresql]
        [--code PATH]

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


def bench_queue(runtime, makers: list[int], taker: int, depth: int, month) -> tuple[float, float]:
    symbol = hashprice_monthly(*month).symbol
    store_resting(runtime, symbol, [{"account_id": makers[i % len(makers)], "side": "sell", "price_ticks": 50000,
                                     "quantity": 1} for i in range(depth)])
    return timed_orders(runtime, lambda i: trading.place_order(
        runtime.uow(), runtime.clock, taker, instrument=symbol, side="buy", order_type="limit", quantity=1,
        price=50000))


def bench_account_orders(runtime, account: int, resting: int, month) -> tuple[float, float]:
    symbol = hashprice_monthly(*month).symbol
    store_resting(runtime, symbol, [{"account_id": account, "side": "buy", "price_ticks": 45000 - i,
                                     "quantity": 1} for i in range(resting)])
    return timed_orders(runtime, lambda i: trading.place_order(
        runtime.uow(), runtime.clock, account, instrument=symbol, side="buy", order_type="limit", quantity=1,
        price=46000 + i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--code", help="import hashedge from this checkout")
    parser.add_argument("--skip-rate", action="store_true")
    args = parser.parse_args()
    print(f"hashedge from {os.path.dirname(os.path.dirname(trading.__file__))}; load {os.getloadavg()[0]:.2f}")
    for backend in args.backends.split(","):
        if backend == "postgresql" and not os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
            print("postgresql skipped: set HASHEDGE_TEST_POSTGRES_URL (scripts/start-postgres)")
            continue
        if not args.skip_rate:
            url, drop = fresh_database(backend)
            try:
                runtime = runtime_for(url)
                rate = bench_throughput(runtime, args.orders)
                print(f"{backend}: {rate:,.0f} orders/s through place_order ({args.orders} orders, half filling)")
                runtime.close()
            finally:
                drop()
        for depth in (100, 1_000, 10_000):
            url, drop = fresh_database(backend)
            try:
                runtime = runtime_for(url)
                makers, taker = funded_accounts(runtime, 10, "maker"), funded_accounts(runtime, 1, "taker")[0]
                ms, statements = bench_queue(runtime, makers, taker, depth, MONTHS[1])
                print(f"{backend}: queue of N={depth:,} at the crossing price: {ms:.2f} ms, "
                      f"{statements:.1f} statements per order")
                runtime.close()
            finally:
                drop()
        for resting in (1, 100, 1_000):
            url, drop = fresh_database(backend)
            try:
                runtime = runtime_for(url)
                account = funded_accounts(runtime, 1, "holder")[0]
                ms, statements = bench_account_orders(runtime, account, resting, MONTHS[2])
                print(f"{backend}: account with K={resting:,} resting orders: {ms:.2f} ms, "
                      f"{statements:.1f} statements per order")
                runtime.close()
            finally:
                drop()


if __name__ == "__main__":
    main()

"""Benchmark of the ledger's write path (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_ledger.py [--deposits 400] [--pairs 200]

Per transaction, on a fresh SQLite file and (with ``HASHEDGE_TEST_POSTGRES_URL``) a fresh
PostgreSQL database: wall time, the client's CPU time (``time.process_time``: what a busy machine
disturbs least) and the SQL statements sent, for

1. a **deposit** (one journal entry: participant locked, postings, entry, balances, and at commit
   the platform balance and the entry's hash-chain link);
2. a **resting sell then a crossing buy** (`place_order` twice; the fill posts the realized PnL
   and both fees: three entries in the second transaction).

Also the pure cost of an entry's content hash (``domain.journal_chain``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import timeit
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_matching import MONTHS, postgres_database, runtime_for  # noqa: E402

from hashedge.domain import ledger as journal  # noqa: E402
from hashedge.domain.instruments import hashprice_monthly  # noqa: E402
from hashedge.domain.journal_chain import content_sha256  # noqa: E402
from hashedge.services import accounts, ledger, trading  # noqa: E402


def measure(runtime, label: str, work, count: int) -> None:
    statements = [0]

    def counted(*_args, **_kwargs) -> None:
        statements[0] += 1

    event.listen(runtime.engine, "before_cursor_execute", counted)
    wall, cpu = time.perf_counter(), time.process_time()
    work(count)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    event.remove(runtime.engine, "before_cursor_execute", counted)
    print(f"{label}: {wall / count * 1e3:.2f} ms wall, {cpu / count * 1e3:.2f} ms client CPU, "
          f"{statements[0] / count:.1f} statements per transaction")


def bench(url: str, backend: str, deposits: int, pairs: int) -> None:
    runtime = runtime_for(url)
    symbol = hashprice_monthly(*MONTHS[0]).symbol
    ids = []
    for i in range(20):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"bench-{i}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**12, f"seed-{i}")
        ids.append(account.id)
    for i in range(100):  # resting depth away from the action
        trading.place_order(runtime.uow(), runtime.clock, ids[i % 20], instrument=symbol, side="buy",
                            order_type="limit", quantity=1, price=40000 + i)
        trading.place_order(runtime.uow(), runtime.clock, ids[(i + 1) % 20], instrument=symbol, side="sell",
                            order_type="limit", quantity=1, price=60000 - i)

    def deposit(count: int) -> None:
        for i in range(count):
            ledger.deposit(runtime.uow(), runtime.clock, ids[i % 20], 1000, f"d-{uuid.uuid4().hex}")

    def crossing_pair(count: int) -> None:
        for i in range(count):
            seller, buyer = ids[i % 20], ids[(i + 7) % 20]
            for account_id, side in ((seller, "sell"), (buyer, "buy")):
                trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=symbol, side=side,
                                    order_type="limit", quantity=2, price=50000)

    measure(runtime, f"{backend}: deposit (1 entry)", deposit, deposits)
    measure(runtime, f"{backend}: resting sell + crossing buy (3 entries)", crossing_pair, pairs)
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deposits", type=int, default=400)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    fee = journal.fee("17", 1234, idempotency_key="trade:abc:fee:17", occurred_at=at, memo="book trade abc")
    seconds = min(timeit.repeat(lambda: content_sha256(42, fee, at), number=20_000, repeat=3)) / 20_000
    print(f"content hash of a two-posting entry: {seconds * 1e6:.1f} µs")
    bench(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", "SQLite", args.deposits, args.pairs)
    if os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
        url, drop = postgres_database(os.environ["HASHEDGE_TEST_POSTGRES_URL"])
        try:
            bench(url, "PostgreSQL", args.deposits, args.pairs)
        finally:
            drop()


if __name__ == "__main__":
    main()

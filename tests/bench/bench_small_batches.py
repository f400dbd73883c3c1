"""Benchmark of the engine's small batches on the load test's market (a script, not a test).

    .venv/bin/python tests/bench/bench_small_batches.py [--sizes 1,8,32] [--batches 20]
        [--backends sqlite,postgresql] [--path socket|inbox]

An engine fed at 200 orders/s forms batches of a few dozen orders, spread over every listed
contract and every placing account: there the batch's fixed reads weigh more than in the
throughput figure (batches of 500). For each backend (PostgreSQL needs
HASHEDGE_TEST_POSTGRES_URL), on a database prepared as ``load_test.py`` prepares it (the demo's
24 listed contracts with marks, two makers quoting 5 levels a side, takers holding positions in
all of them), batches of each size of limit orders from accounts 10-19 at prices around the mark
(about half cross) are executed as the engine executes them: handed over as its socket hands
them (``exchange_engine.execute_handed``: claimed, executed and marked done in one transaction;
the deploy configuration's path, and the one on which the engine keeps its last batch's state),
or with ``--path inbox`` appended to the inbox table first and taken by
``exchange_engine.process_batch`` (the append is a write between batches, so every batch reads
everything): the median and best time per batch, per order, and its round trips (statements
sent alone through SQLAlchemy, and on PostgreSQL the pipelines that carry the rest:
adapters/write_pipeline.py). The first two batches of each size warm the process (SQLAlchemy
compiles a statement shape once) and are not counted. The load average is printed with each figure; with 100 batches or more, the medians of
the first and the last fifty too (the orders that rest pile up over a run); and the CPU a batch of this
process and of PostgreSQL's processes (every one on the machine), from /proc: wall time on a shared
machine moves with its neighbours, CPU much less.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_test  # noqa: E402  (the load test's market)
from sqlalchemy import event  # noqa: E402

from hashedge.adapters.repositories.exchange import TokenRequest  # noqa: E402
from hashedge.adapters.write_pipeline import observing_sends  # noqa: E402
from hashedge.bootstrap import bootstrap  # noqa: E402
from hashedge.config import load_settings  # noqa: E402
from hashedge.services import exchange_engine, order_inbox  # noqa: E402

WARM_UP_BATCHES = 2


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(url: str, instance: Path, sizes: list[int], batches: int, path: str = "socket") -> None:
    prepared_path = instance / "prepared.json"
    load_test.prepare_database(url, str(instance), str(prepared_path))
    prepared = json.loads(prepared_path.read_text())
    runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(instance)},
                                      secret_key="bench"))
    statements = [0, 0]  # sent alone through SQLAlchemy; pipelines sent (adapters/write_pipeline.py)
    event.listen(runtime.engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))

    def counted_send(_statements, _commit):
        statements[1] += 1

    with runtime.uow() as uow:
        names = uow.accounts.names()
    placing = sorted(i for i, name in names.items() if name in {f"load-{n}" for n in range(
        load_test.READERS, load_test.ACCOUNTS)})
    books = [(s["symbol"], Decimal(s["tick"]), Decimal(s["base"])) for s in prepared["symbols"]]
    for size in sizes:
        times_ms, counts, cpu_ms, cpu_from = [], [], {"this process": 0.0, "PostgreSQL": 0.0}, None
        for n in range(WARM_UP_BATCHES + batches):
            draw = random.Random(f"{size}:{n}")
            handed = []
            for i in range(size):
                symbol, tick, base = books[draw.randrange(len(books))]
                request = dict(instrument=symbol, side=draw.choice(("buy", "sell")), order_type="limit",
                               quantity=draw.randint(1, 3),
                               price=str(base + draw.randint(-load_test.BOOK_LEVELS, load_test.BOOK_LEVELS) * tick))
                if path == "socket":
                    handed.append(TokenRequest(uuid.uuid4().hex, placing[i % len(placing)], symbol, request))
                else:
                    order_inbox.enqueue_order(runtime.uow(), runtime.clock, placing[i % len(placing)], **request)
            statements[:] = [0, 0]
            if n == WARM_UP_BATCHES:
                cpu_from = load_test.cpu_times(0)
            with observing_sends(counted_send):
                started = time.perf_counter()
                if path == "socket":
                    answered = len(exchange_engine.execute_handed(runtime.uow, runtime.clock, handed))
                else:
                    answered = exchange_engine.process_batch(runtime.uow, runtime.clock, batch_size=size).answered
                elapsed_ms = (time.perf_counter() - started) * 1000
            assert answered == size, answered
            if n >= WARM_UP_BATCHES:
                times_ms.append(elapsed_ms)
                counts.append(tuple(statements))
        cpu_to = load_test.cpu_times(0)
        if cpu_from:  # /proc's ticks are 10 ms: summed over the measured batches, then shared out
            cpu_ms = {"this process": (cpu_to["client"] - cpu_from["client"]) * 1000 / len(times_ms),
                      "PostgreSQL": (cpu_to["postgres"] - cpu_from["postgres"]) * 1000 / len(times_ms)}
        median = statistics.median(times_ms)
        print(f"  batches of {size:3d}: median {median:7.1f} ms ({median / size:5.2f} ms an order), best "
              f"{min(times_ms):7.1f} ms, {statistics.median(c[0] for c in counts):.0f} statements sent alone and "
              f"{statistics.median(c[1] for c in counts):.0f} pipelines a batch "
              f"({len(times_ms)} batches; load {load()})", flush=True)
        if cpu_from:
            print("    CPU a batch: " + ", ".join(f"{who} {ms:.1f} ms" for who, ms in cpu_ms.items()), flush=True)
        if len(times_ms) >= 100:  # resting orders pile up over a long run: the first and the last fifty
            print(f"    first 50 batches: median {statistics.median(times_ms[:50]):7.1f} ms, last 50: "
                  f"{statistics.median(times_ms[-50:]):7.1f} ms", flush=True)
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,32", help="batch sizes, comma-separated")
    parser.add_argument("--batches", type=int, default=20, help="measured batches per size")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--path", choices=("socket", "inbox"), default="socket",
                        help="hand the orders over as the engine's socket does (default) or through the inbox table")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for backend in args.backends.split(","):
        instance = Path(tempfile.mkdtemp(prefix=f"bench-small-{backend}-"))
        try:
            if backend == "sqlite":
                url = f"sqlite:///{instance / 'bench.sqlite'}"
                print(f"sqlite (load {load()})", flush=True)
                measure(url, instance, sizes, args.batches, args.path)
            else:
                admin = os.environ.get("HASHEDGE_TEST_POSTGRES_URL")
                if not admin:
                    print("postgresql: skipped (set HASHEDGE_TEST_POSTGRES_URL)")
                    continue
                name = f"bench_small_{uuid.uuid4().hex[:8]}"
                url = load_test._postgres_database(admin, "create", name)
                try:
                    print(f"postgresql (load {load()})", flush=True)
                    measure(url, instance, sizes, args.batches, args.path)
                finally:
                    load_test._postgres_database(admin, "drop", name)
        finally:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()

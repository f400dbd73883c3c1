"""Benchmark of the order inbox and the matching engine (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_order_inbox.py [--orders 2000] [--submitters 4x8]
        [--batch-size 500] [--backends sqlite,postgresql]

For each backend (PostgreSQL needs HASHEDGE_TEST_POSTGRES_URL), on a fresh database with the
market of ``bench_order_path.py`` (twenty funded accounts, a book 400 orders deep away from the
action; every second order crosses a resting one and fills):

1. **Engine alone**: ``--orders`` requests appended to the inbox first, then one engine drains
   them (``exchange_engine.process_batch`` until idle): orders/s of the batch path, and the
   batches it took.
2. **End to end**: P processes x T threads of submitters (``--submitters PxT``), each thread
   sending its share of ``--orders`` one after the other through ``order_inbox.submit_order``
   (as a web process awaits them: ``adapters.outcome_listener``), with one engine process
   (``jobs.engine.EngineProcess``) beside them: orders/s from the first submission to the last
   answer, and the submitters' p50/p99 wait per order.

The load average is printed before and after each figure.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_order_path import MONTHS, NOW, fresh_database, funded_accounts, runtime_for

from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import exchange_engine, order_inbox, trading

SYMBOL = hashprice_monthly(*MONTHS[0]).symbol
ENGINE = """
import signal, sys
from datetime import datetime
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.jobs.engine import EngineProcess
url, now, batch_size = sys.argv[1], datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": "/tmp"},
                                  secret_key="bench"), clock=FixedClock(now))
process = EngineProcess(runtime, batch_size=batch_size)
signal.signal(signal.SIGTERM, lambda *_: process.stop())
totals = process.run()
print(totals.answered, totals.batches, flush=True)
"""


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepared_market(url: str) -> tuple[object, list[int]]:
    runtime = runtime_for(url)
    ids = funded_accounts(runtime, 20, "inbox")
    for i in range(200):  # resting depth away from the action
        trading.place_order(runtime.uow(), runtime.clock, ids[i % 20], instrument=SYMBOL, side="buy",
                            order_type="limit", quantity=1, price=40000 + i)
        trading.place_order(runtime.uow(), runtime.clock, ids[(i + 1) % 20], instrument=SYMBOL, side="sell",
                            order_type="limit", quantity=1, price=60000 - i)
    return runtime, ids


def order_terms(ids: list[int], i: int) -> dict:
    """The i-th order: a sell, then a buy crossing it (by another account)."""
    pair, buying = divmod(i, 2)
    return dict(account_id=ids[(pair + 7) % 20] if buying else ids[pair % 20], instrument=SYMBOL,
                side="buy" if buying else "sell", order_type="limit", quantity=2, price=50000)


def bench_engine_alone(url: str, orders: int, batch_size: int) -> str:
    runtime, ids = prepared_market(url)
    for i in range(orders):
        order_inbox.enqueue_order(runtime.uow(), runtime.clock, **order_terms(ids, i))
    started, batches = time.perf_counter(), 0
    while not (report := exchange_engine.process_batch(runtime.uow, runtime.clock, batch_size=batch_size)).idle:
        batches += 1
    elapsed = time.perf_counter() - started
    with runtime.uow() as uow:
        counts = uow.order_inbox.counts()
    runtime.close()
    return f"{orders / elapsed:8.0f} orders/s  ({orders} in {batches} batches of <= {batch_size}; inbox {counts})"


def _submitter(url: str, ids: list[int], indices: list[list[int]], results) -> None:
    """One process: a thread per list of order indices, each submitting them one after another."""
    import threading

    runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": "/tmp"},
                                      secret_key="bench"), clock=FixedClock(NOW))
    from hashedge.adapters.outcome_listener import OutcomeListener, OutcomePoller

    engine = runtime.engine
    waits = OutcomeListener(engine.url) if engine.dialect.name == "postgresql" else OutcomePoller(engine)
    waited, errors = [], []

    def send(mine: list[int]) -> None:
        for i in mine:
            sent = time.perf_counter()
            try:
                order_inbox.submit_order(runtime.uow, runtime.clock, timeout_s=60, waits=waits, **order_terms(ids, i))
            except Exception as exc:  # counted, not raised: a bench reports
                errors.append(type(exc).__name__)
            waited.append(time.perf_counter() - sent)

    threads = [threading.Thread(target=send, args=(mine,)) for mine in indices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if hasattr(waits, "close"):
        waits.close()
    runtime.close()
    results.put((waited, errors))


def bench_end_to_end(url: str, orders: int, processes: int, threads: int, batch_size: int) -> str:
    runtime, ids = prepared_market(url)
    runtime.close()
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, url, NOW.isoformat(), str(batch_size)],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the engine has taken its lease and is polling
    submitters = processes * threads
    shares = [[i for i in range(orders) if i % submitters == s] for s in range(submitters)]
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_submitter, args=(url, ids, shares[p * threads:(p + 1) * threads], results))
               for p in range(processes)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=600) for _ in workers]
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.join(60)
    engine.send_signal(signal.SIGTERM)
    answered = engine.communicate(timeout=60)[0].split()
    waited = sorted(w for ws, _ in collected for w in ws)
    errors = [e for _, es in collected for e in es]
    p99 = waited[min(len(waited) - 1, int(0.99 * len(waited)))]
    return (f"{orders / elapsed:8.0f} orders/s  ({orders} by {processes}x{threads} submitters in {elapsed:.1f} s, "
            f"includes process start-up; wait per order p50 {statistics.median(waited) * 1e3:.1f} ms "
            f"p99 {p99 * 1e3:.1f} ms; {len(errors)} errors; engine answered {answered[0]} in {answered[1]} batches)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--submitters", default="4x8", help="processes x threads (default 4x8)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    processes, threads = (int(n) for n in args.submitters.split("x"))
    if not 2 <= args.orders <= 20_000 or not 1 <= processes * threads <= 256:
        parser.error("orders 2..20,000, submitters 1..256")
    for backend in args.backends.split(","):
        if backend == "postgresql" and not os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
            print("postgresql: skipped (no HASHEDGE_TEST_POSTGRES_URL)")
            continue
        for name, bench in (("engine alone", lambda url: bench_engine_alone(url, args.orders, args.batch_size)),
                            ("end to end", lambda url: bench_end_to_end(url, args.orders, processes, threads,
                                                                        args.batch_size))):
            url, drop = fresh_database(backend)
            try:
                before = _load()
                figure = bench(url)
                print(f"{backend:10s} {name:12s} {figure}  (load {before} -> {_load()})", flush=True)
            finally:
                drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

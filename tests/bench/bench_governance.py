"""Benchmark of the parameter registry's read (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_governance.py [--reads 2000]

Every service reads the governed parameters through ``services.margin.risk_parameters(uow)``: one
query for the version in force per unit of work, the parameters built once per set of overrides.
Measured on a fresh SQLite file and (with ``HASHEDGE_TEST_POSTGRES_URL``) a fresh PostgreSQL
database, per transaction: an empty read-only transaction, the same with the registry read, the
statements each sends; and the pure cost of building a version's ``RiskParameters`` (the cache miss).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_matching import postgres_database, runtime_for  # noqa: E402

from hashedge.domain.governance.registry import ParameterVersion  # noqa: E402
from hashedge.services.margin import risk_parameters  # noqa: E402


def per_transaction(runtime, label: str, work, count: int) -> float:
    statements = [0]

    def counted(*_args, **_kwargs) -> None:
        statements[0] += 1

    event.listen(runtime.engine, "before_cursor_execute", counted)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            work()
        best = min(best, (time.perf_counter() - started) / count)
    event.remove(runtime.engine, "before_cursor_execute", counted)
    print(f"{label}: {best * 1e3:.3f} ms per transaction, {statements[0] / (3 * count):.1f} statements")
    return best


def bench(url: str, backend: str, reads: int) -> None:
    runtime = runtime_for(url)

    def one_query() -> None:  # a transaction that has begun (as every service's has)
        uow = runtime.uow()
        with uow.read_only():
            uow.session.execute(text("SELECT 1"))

    def with_registry() -> None:
        uow = runtime.uow()
        with uow.read_only():
            uow.session.execute(text("SELECT 1"))
            risk_parameters(uow)

    base = per_transaction(runtime, f"{backend} read-only transaction, one query", one_query, reads)
    read = per_transaction(runtime, f"{backend} the same + risk_parameters(uow)", with_registry, reads)
    print(f"{backend} the registry read adds {(read - base) * 1e6:.0f} µs per transaction")
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args()
    version = ParameterVersion(2, datetime(2026, 11, 1, tzinfo=timezone.utc), "proposal", "1", 1, "", {},
                               {"liquidation.penalty_ratio": "0.02", "margin.initial.diff_epoch": "0.15"})
    build = min(timeit.repeat(version.parameters, number=200, repeat=3)) / 200
    print(f"building a version's RiskParameters (the cache miss): {build * 1e6:.0f} µs")
    with __import__("tempfile").TemporaryDirectory() as folder:
        bench(f"sqlite:///{folder}/bench.sqlite", "SQLite", args.reads)
    if os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
        url, drop = postgres_database(os.environ["HASHEDGE_TEST_POSTGRES_URL"])
        try:
            bench(url, "PostgreSQL", args.reads)
        finally:
            drop()


if __name__ == "__main__":
    main()

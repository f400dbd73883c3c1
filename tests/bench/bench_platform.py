"""Benchmark of the index service through the platform (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_platform.py [--blocks 1000000] [--backends sqlite,postgresql]

For each backend (PostgreSQL needs HASHEDGE_TEST_POSTGRES_URL, see scripts/start-postgres):
block CSV import rate through ``hashedge index import --blocks``'s service, storing a simulated
chain, a full recompute and publication of every fixing (load from the database, compute,
insert), the incremental path per new block (ingest one block, publish what became due), and
``index verify`` over everything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hashedge.adapters.demo_chain import RevealingSource
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.services import chain_data, fixings
from indices.sources.csv_import import write_block_csv
from indices.sources.simulator import simulate_chain

CSV_IMPORT_BLOCKS = 200_000
INCREMENTAL_BLOCKS = 30


def fresh_database(backend: str, folder: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.sqlite'}", lambda: None
    admin_url = make_url(os.environ["HASHEDGE_TEST_POSTGRES_URL"])
    name = f"hashedge_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def runtime_for(url: str, folder: Path, now: datetime):
    settings = load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(folder)},
                             secret_key="bench")
    runtime = bootstrap(settings, clock=FixedClock(now))
    runtime.migrate()
    return runtime


def clock_after(chain, height: int) -> datetime:
    return datetime.fromtimestamp(int(chain["time"].iloc[height]) + 1, tz=timezone.utc)


def bench_backend(backend: str, chain, folder: Path) -> None:
    print(f"\n== {backend} ==")
    tip_height = len(chain) - 1 - INCREMENTAL_BLOCKS

    url, drop = fresh_database(backend, folder)
    try:
        csv_path = folder / "blocks.csv"
        if not csv_path.exists():
            write_block_csv(chain.iloc[:CSV_IMPORT_BLOCKS], csv_path)
        runtime = runtime_for(url, folder, clock_after(chain, CSV_IMPORT_BLOCKS - 1))
        started = time.perf_counter()
        added = chain_data.import_block_csv(runtime.uow(), csv_path)
        seconds = time.perf_counter() - started
        print(f"block CSV import: {added:,} blocks in {seconds:.2f} s = {added / seconds:,.0f} blocks/s")
        runtime.close()
    finally:
        drop()

    url, drop = fresh_database(backend, folder)
    try:
        runtime = runtime_for(url, folder, clock_after(chain, tip_height))
        started = time.perf_counter()
        chain_data.store_block_frame(runtime.uow(), chain.iloc[:tip_height + 1])
        seconds = time.perf_counter() - started
        print(f"store simulated chain: {tip_height + 1:,} blocks in {seconds:.1f} s "
              f"= {(tip_height + 1) / seconds:,.0f} blocks/s")

        started = time.perf_counter()
        result = fixings.publish_fixings(runtime.uow(), runtime.clock, confirmations=6, full_recompute=True)
        seconds = time.perf_counter() - started
        print(f"full recompute + publish: {result.published:,} fixings over {tip_height + 1:,} blocks "
              f"in {seconds:.2f} s (load from DB, compute, insert)")

        source = RevealingSource(chain, runtime.clock)
        per_block_ms = []
        for height in range(tip_height + 1, tip_height + 1 + INCREMENTAL_BLOCKS):
            runtime.clock.set(clock_after(chain, height))
            started = time.perf_counter()
            chain_data.ingest_new_blocks(runtime.uow(), source, confirmations=6)
            fixings.publish_fixings(runtime.uow(), runtime.clock, confirmations=6)
            per_block_ms.append((time.perf_counter() - started) * 1000)
        print(f"incremental per new block (ingest + publish due fixings): median "
              f"{statistics.median(per_block_ms):.0f} ms, max {max(per_block_ms):.0f} ms "
              f"over {INCREMENTAL_BLOCKS} blocks")

        started = time.perf_counter()
        report = fixings.verify_fixings(runtime.uow())
        seconds = time.perf_counter() - started
        print(f"verify: {report.checked:,} fixings in {seconds:.2f} s, {len(report.mismatches)} mismatches")
        runtime.close()
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    started = time.perf_counter()
    chain = simulate_chain(args.blocks + INCREMENTAL_BLOCKS, seed=7)
    print(f"simulated {len(chain):,} blocks in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "postgresql" and not os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
                print("\n== postgresql == skipped: set HASHEDGE_TEST_POSTGRES_URL (scripts/start-postgres)")
                continue
            bench_backend(backend, chain, Path(tmp))


if __name__ == "__main__":
    main()

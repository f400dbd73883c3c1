"""Benchmark of trading through the services (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_matching.py [--orders 2000] [--positions 100000]

1. **Orders matched per second** through ``services.trading.place_order`` (one transaction per
   order: lock, rebuild the book from storage, match, margin check, store, fees and PnL posted),
   on a fresh SQLite file and, when ``HASHEDGE_TEST_POSTGRES_URL`` is set, a fresh PostgreSQL
   database. Twenty accounts alternate: a resting sell, then a buy that crosses it, so every
   second order produces a fill; the book holds a few hundred resting orders below and above.
2. **Variation margin for N positions** (default 100,000): positions written straight into
   storage (six instruments, half long half short), then ``run_daily_settlement`` times the whole
   run: re-marking, storing, one ledger entry for the date.
3. **Risk sweep from storage** over those positions: ``services.risk.sweep`` loads every position
   and collateral balance and runs ``domain.margin_batch`` (best of three).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from hashedge.adapters.database import make_engine, upgrade_database
from hashedge.adapters.orm.ledger import AccountRow, LedgerBalanceRow
from hashedge.adapters.orm.trading import PositionRow
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger, risk, settlement, trading

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
MONTHS = [(2026, 12), (2027, 1), (2027, 2), (2027, 3), (2027, 4), (2027, 5)]
MARK = Decimal(50000)


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


def bench_orders(runtime, orders: int) -> float:
    symbol = hashprice_monthly(*MONTHS[0]).symbol
    ids = []
    for i in range(20):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"bench-{i}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**12, f"seed-{i}")
        ids.append(account.id)
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


def bench_variation_margin(runtime, positions: int) -> float:
    symbols = [hashprice_monthly(*m).symbol for m in MONTHS]
    account_count = -(-positions // len(symbols))
    account_count += account_count % 2
    with runtime.uow() as uow:
        session = uow.session
        first = 1_000_000
        session.execute(insert(AccountRow), [{"id": first + i, "name": f"vm-{i}", "created_at": NOW}
                                             for i in range(account_count)])
        session.execute(insert(LedgerBalanceRow), [{"account_key": f"collateral:{first + i}", "kind": "collateral",
                                                    "owner_id": first + i, "balance_sats": 0}
                                                   for i in range(account_count)])
        rows = []
        for i in range(account_count):
            for symbol in symbols:
                if len(rows) >= positions:
                    break
                quantity = 3 if i % 2 == 0 else -3
                rows.append({"account_id": first + i, "instrument": symbol, "quantity": quantity,
                             "open_value": str(49_900 * quantity), "realized_pnl_sats": 0, "updated_at": NOW})
        for start in range(0, len(rows), 20_000):
            session.execute(insert(PositionRow), rows[start:start + 20_000])
        uow.commit()
    if runtime.engine.dialect.name == "postgresql":
        # Positions arrive over time in production and autovacuum keeps the planner's statistics
        # current; a bulk insert just before the run leaves them stale (a 3x slower plan).
        with runtime.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    started = time.perf_counter()
    summary = settlement.run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 11, 1))
    elapsed = time.perf_counter() - started
    moved = sum(len(v) for v in summary.variation_margin_sats.values())
    assert moved >= len(rows), moved
    return elapsed


def bench_risk_sweep(runtime) -> tuple[float, int]:
    """``services.risk.sweep`` over what ``bench_variation_margin`` stored: best of three."""
    best, swept = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        result = risk.sweep(runtime.uow(), runtime.clock)
        best = min(best, time.perf_counter() - started)
        swept = len(result.accounts)
    return best, swept


def postgres_database(admin_url: str) -> tuple[str, callable]:
    admin = create_engine(make_url(admin_url), isolation_level="AUTOCOMMIT")
    name = f"hashedge_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--positions", type=int, default=100_000)
    args = parser.parse_args()
    backends = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", lambda: None)]
    if os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
        backends.append(("PostgreSQL", *postgres_database(os.environ["HASHEDGE_TEST_POSTGRES_URL"])))
    for label, url, cleanup in backends:
        try:
            runtime = runtime_for(url)
            rate = bench_orders(runtime, args.orders)
            print(f"{label}: {rate:,.0f} orders/s through place_order ({args.orders} orders, half of them filling)")
            seconds = bench_variation_margin(runtime, args.positions)
            print(f"{label}: variation margin for {args.positions:,} positions in {seconds:.2f} s")
            seconds, accounts_swept = bench_risk_sweep(runtime)
            print(f"{label}: risk sweep from storage ({accounts_swept:,} accounts, {args.positions:,} positions: "
                  f"load, margin_batch, status) in {seconds:.2f} s")
            runtime.close()
        finally:
            cleanup()


if __name__ == "__main__":
    main()

"""Benchmark of the liquidation sweep (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_liquidation.py [--positions 100000] [--at-risk 0.01]

Positions are written straight into storage: six monthly contracts, accounts holding 3 contracts
of each (the longs entered at 49,900, the shorts at 50,100, both marked at 50,000), half long half
short, every account well collateralized except ``--at-risk`` of them (1%: their longs are left
with 2,000,000 sats against a maintenance margin of 2,790,000). A maker rests bids 1% under the
mark on two of the contracts, so both the book and auto-deleveraging take part. Then, on SQLite
and (with ``HASHEDGE_TEST_POSTGRES_URL``) PostgreSQL:

1. the risk sweep alone (``services.risk.sweep``: load, ``margin_batch``, status), best of three;
2. the liquidation sweep (``services.liquidation.sweep``): margin-call events, every liquidatable
   account liquidated in its own transaction (locks, inputs, the engine, booking, the record),
   the sweep repeated until nothing changes; reported as the whole time and as liquidations per
   second of the liquidation part (the whole time less the risk sweeps it ran).

Before the liquidation sweep, the desk's risk pages' reads (``services.liquidation_queries``, best
of three): the liquidation queue, every ADL queue (six contracts, both sides), and one account's
position risk (the account page's panel: a risk sweep and the ranking of its contracts' queues).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import insert, text

from hashedge.adapters.orm.ledger import AccountRow, LedgerBalanceRow
from hashedge.adapters.orm.trading import PositionRow
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, adl_ranks, ledger, liquidation, liquidation_queries, positions, risk, trading
from bench_matching import postgres_database  # the script beside this one

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
MONTHS = [(2026, 12), (2027, 1), (2027, 2), (2027, 3), (2027, 4), (2027, 5)]
MARK = Decimal(50000)
CONTRACTS = 3


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


def build_book(runtime, positions: int, at_risk: float) -> int:
    """Store the positions and balances (module docstring); returns how many accounts are at risk."""
    symbols = [hashprice_monthly(*m).symbol for m in MONTHS]
    account_count = -(-positions // len(symbols))
    account_count += account_count % 2
    risky = max(1, round(account_count * at_risk))
    first = 1_000_000
    balances, rows, names = [], [], []
    for i in range(account_count):
        long = i % 2 == 0
        thin = long and i // 2 < risky
        names.append({"id": first + i, "name": f"liq-{i}", "created_at": NOW})
        balances.append({"account_key": f"collateral:{first + i}", "kind": "collateral", "owner_id": first + i,
                         "balance_sats": 2_000_000 if thin else 100_000_000})
        for symbol in symbols:
            quantity = CONTRACTS if long else -CONTRACTS
            entry = 49_900 if long else 50_100
            rows.append({"account_id": first + i, "instrument": symbol, "quantity": quantity,
                         "open_value": str(entry * quantity), "realized_pnl_sats": 0, "updated_at": NOW})
    with runtime.uow() as uow:
        session = uow.session
        for start in range(0, len(names), 20_000):
            session.execute(insert(AccountRow), names[start:start + 20_000])
            session.execute(insert(LedgerBalanceRow), balances[start:start + 20_000])
        for start in range(0, len(rows), 20_000):
            session.execute(insert(PositionRow), rows[start:start + 20_000])
        # the collateral came from somewhere: custody holds it (the journal is not involved here,
        # so the ledger check is skipped; balances are what the engine reads and writes)
        uow.commit()
    maker, _ = accounts.create_account(runtime.uow(), runtime.clock, "maker")
    ledger.deposit(runtime.uow(), runtime.clock, maker.id, 10**12, "maker-seed")
    for symbol in symbols[:2]:
        trading.place_order(runtime.uow(), runtime.clock, maker.id, instrument=symbol, side="buy",
                            order_type="limit", quantity=200, price=49_500)
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as connection:  # as autovacuum would after a bulk load
            connection.execute(text("ANALYZE"))
            connection.commit()
    return risky


def best_of_three(read) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(3):
        started = time.perf_counter()
        value = read()
        best = min(best, time.perf_counter() - started)
    return best, value


def desk_reads(label: str, runtime, account_id: int) -> None:
    """The desk's risk pages' reads (module docstring)."""
    queue_s, queue = best_of_three(lambda: liquidation_queries.liquidation_queue(runtime.uow(), runtime.clock))
    adl_s, queues = best_of_three(lambda: liquidation_queries.adl_queues(runtime.uow(), runtime.clock))
    panel_s, panel = best_of_three(lambda: positions.position_risk_page(runtime.uow, account_id))
    print(f"{label}: desk reads: liquidation queue ({len(queue.lines):,} at risk) {queue_s:.2f} s; "
          f"ADL queues ({len(queues)} queues, {sum(len(q.lines) for q in queues):,} positions ranked) {adl_s:.2f} s; "
          f"an account's position risk panel ({len(panel.items)} positions) {panel_s:.2f} s")


def risk_panel(runtime, account_id: int):
    return positions.position_risk_page(runtime.uow, account_id)


def bench(label: str, url: str, positions: int, at_risk: float) -> None:
    runtime = runtime_for(url)
    risky = build_book(runtime, positions, at_risk)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = risk.sweep(runtime.uow(), runtime.clock)
        best = min(best, time.perf_counter() - started)
    counts = result.counts()
    print(f"{label}: risk sweep over {positions:,} positions ({len(result.accounts):,} accounts, "
          f"{counts['liquidatable']} liquidatable) in {best:.2f} s")
    desk_reads(label, runtime, int(result.snapshot.positions["account_id"].iloc[0]))  # one holding 6 positions
    started = time.perf_counter()
    report = liquidation.sweep(runtime.uow, runtime.clock)
    elapsed = time.perf_counter() - started
    summary = report.as_dict()
    liquidating = max(elapsed - best * (report.rounds + 1), 1e-9)
    stages = {}
    for item in report.liquidations:
        for fill in item.outcome.fills:
            stages[fill.stage] = stages.get(fill.stage, 0) + fill.fill.quantity
    print(f"{label}: liquidation sweep: {summary['liquidations']} liquidations (of {risky} accounts at risk) in "
          f"{elapsed:.2f} s over {report.rounds} rounds; {summary['liquidations'] / liquidating:,.1f} "
          f"liquidations/s ({liquidating / max(summary['liquidations'], 1) * 1000:.0f} ms each) beside the risk "
          f"sweeps; contracts closed by stage {stages}; left below maintenance: {len(report.left_liquidatable)}")
    account_id = int(result.snapshot.positions["account_id"].iloc[0])
    panel_s, panel = best_of_three(lambda: risk_panel(runtime, account_id))
    ranked = sum(1 for item in panel.items if item.adl_quintile is not None)
    final = risk.sweep(runtime.uow(), runtime.clock)
    with runtime.uow().read_only() as uow:
        protected = uow.protection.protected_positions(runtime.clock.now().date())
    queues = liquidation.queues_from(final, protected)
    started = time.perf_counter()
    changed = adl_ranks.publish(runtime.uow, queues, final.snapshot, runtime.clock.now())
    publish_s = time.perf_counter() - started
    print(f"{label}: ADL ranks published by that sweep ({summary['adl_ranks_changed']:,} rows written); publishing "
          f"them again unchanged ({changed} rows changed, every row stamped) {publish_s:.2f} s; the account's position "
          f"risk panel then ({len(panel.items)} positions, {ranked} ranked) {panel_s * 1000:.1f} ms")
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--at-risk", type=float, default=0.01, help="share of the accounts below maintenance")
    args = parser.parse_args()
    backends = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", lambda: None)]
    if os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
        backends.append(("PostgreSQL", *postgres_database(os.environ["HASHEDGE_TEST_POSTGRES_URL"])))
    for label, url, cleanup in backends:
        try:
            bench(label, url, args.positions, args.at_risk)
        finally:
            cleanup()


if __name__ == "__main__":
    main()

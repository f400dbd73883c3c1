"""Benchmark of a liquidation cascade through the book, backstop offers and the backstop pool (a
script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_backstop.py [--accounts 1000]

The population of ``bench_liquidation.py`` (six monthly contracts, accounts holding 3 contracts of
each, half long half short) with ``--accounts`` thin longs (2,000,000 sats against a maintenance
margin of 2,790,000: all liquidatable at once). A maker rests 200 bids 1% under the mark on two
contracts; 20 backstoppers (10 BTC each) offer to take over 30 longs of every contract at 100 bps;
an LP funds the pool with 20 BTC (its caps: 5% of NAV per liquidation, set here above the 1% default
so the pool takes a large share of the cascade, and 50% per contract). What none of them take goes
to auto-deleveraging of the shorts. On SQLite and (with
``HASHEDGE_TEST_POSTGRES_URL``) PostgreSQL: the whole sweep (every account its own transaction:
locks, inputs with the offers and the pool, the engine, booking, offers updated, the record),
liquidations per second, contracts closed by stage, the offers filled, the pool's NAV before and
after, and that the journal still balances.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from decimal import Decimal

from bench_liquidation import MONTHS, build_book, runtime_for  # the scripts beside this one
from bench_matching import postgres_database

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.parameters import RiskParameters
from hashedge.services import accounts, backstop_offers, ledger, liquidation, pool
from hashedge.services.margin import parameters_in_force

BACKSTOPPERS = 20
POOL_SATS = 2_000_000_000


def bench(label: str, url: str, thin_longs: int) -> None:
    runtime = runtime_for(url)
    positions = thin_longs * 2 * len(MONTHS)
    risky = build_book(runtime, positions, 0.5)
    symbols = [hashprice_monthly(*m).symbol for m in MONTHS]
    for n in range(BACKSTOPPERS):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"backstopper-{n}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 1_000_000_000, f"backstopper-{n}")
        for symbol in symbols:
            backstop_offers.post_offer(runtime.uow(), runtime.clock, account.id, instrument=symbol, side="buy",
                                       max_quantity=30, max_discount_bps=100)
    lp, _ = accounts.create_account(runtime.uow(), runtime.clock, "lp")
    ledger.deposit(runtime.uow(), runtime.clock, lp.id, POOL_SATS, "lp")
    pool.deposit(runtime.uow(), runtime.clock, lp.id, POOL_SATS, "lp-pool")
    nav_before = pool.overview(runtime.uow()).nav_sats
    started = time.perf_counter()
    with parameters_in_force(RiskParameters().with_changes({"pool.max_takeover_ratio": Decimal("0.05")})):
        report = liquidation.sweep(runtime.uow, runtime.clock)
    elapsed = time.perf_counter() - started
    stages: dict[str, int] = {}
    for item in report.liquidations:
        for fill in item.outcome.fills:
            stages[fill.stage] = stages.get(fill.stage, 0) + fill.fill.quantity
    offers = backstop_offers.list_offers(runtime.uow())
    view = pool.overview(runtime.uow())
    print(f"{label}: cascade of {len(report.liquidations):,} liquidations (of {risky:,} accounts at risk) in "
          f"{elapsed:.2f} s over {report.rounds} rounds: {len(report.liquidations) / elapsed:,.1f} liquidations/s "
          f"({elapsed / max(len(report.liquidations), 1) * 1000:.0f} ms each, risk sweeps included)")
    print(f"{label}: contracts closed by stage {stages}; offers still active {len(offers)} of "
          f"{BACKSTOPPERS * len(symbols)}; pool NAV {nav_before:,} -> {view.nav_sats:,} sats holding "
          f"{sum(abs(p.quantity) for p in view.positions)} contracts (exposure {view.exposure_sats:,} sats); "
          f"left below maintenance: {len(report.left_liquidatable)}")
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1000, help="thin longs liquidated at once")
    args = parser.parse_args()
    backends = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", lambda: None)]
    if os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
        backends.append(("PostgreSQL", *postgres_database(os.environ["HASHEDGE_TEST_POSTGRES_URL"])))
    for label, url, cleanup in backends:
        try:
            bench(label, url, args.accounts)
        finally:
            cleanup()


if __name__ == "__main__":
    main()

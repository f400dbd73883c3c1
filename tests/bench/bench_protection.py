"""Benchmark of the nightly protection run (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_protection.py [--contracts 10000] [--references 1000]

Contracts are written straight into storage: ``--references`` trader accounts each long 10
HP-2026-12 at 49,900 (marked at 50,000) on 2.5 to 6 million sats, 200 buyers, 20 sellers with
plenty of collateral, and ``--contracts`` contracts on the traders (1 to 10 million sats of
notional, 20 to 400 bps, maturity 20 March 2027, half novation, half cash, their collateral in
escrow). Then, on SQLite and (with ``HASHEDGE_TEST_POSTGRES_URL``) PostgreSQL:

1. marking alone: every contract's mark-to-market from the pricing library (the references' risk
   loaded in a few queries, one ISDA valuation per contract), best of three;
2. the nightly run (``services.protection_nightly``, as the daily settlement runs it): the parties'
   locks, each contract's premium, mark and collateral move, one premium and one collateral entry,
   the history rows, the commit.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import insert, text

from hashedge.adapters.orm.ledger import AccountRow, LedgerBalanceRow
from hashedge.adapters.orm.protection import ProtectionContractRow
from hashedge.adapters.orm.trading import PositionRow
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import protection_nightly
from hashedge.services.margin import risk_parameters
from hashedge.services.protection import reference_risks
from hashedge.services.protection_pricing import mark_to_market_sats
from bench_matching import postgres_database  # the script beside this one

NOW = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
NIGHT = datetime(2026, 11, 3, 0, 5, tzinfo=timezone.utc)
MATURITY = date(2027, 3, 20)
MARK = Decimal(50000)


def build(url: str, contracts: int, references: int):
    settings = load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": tempfile.mkdtemp()},
                             secret_key="bench")
    runtime = bootstrap(settings, clock=FixedClock(NIGHT))
    runtime.migrate()
    spec = hashprice_monthly(2026, 12)
    first, buyers, sellers = 1_000_000, 200, 20
    names, balances, positions, rows = [], [], [], []
    for i in range(references + buyers + sellers):
        account_id = first + i
        names.append({"id": account_id, "name": f"p-{i}", "created_at": NOW})
        sats = 2_500_000 + (i * 7919) % 3_500_000 if i < references else 10**11
        balances.append({"account_key": f"collateral:{account_id}", "kind": "collateral", "owner_id": account_id,
                         "balance_sats": sats})
        if i < references:
            positions.append({"account_id": account_id, "instrument": spec.symbol, "quantity": 10,
                              "open_value": str(49_900 * 10), "realized_pnl_sats": 0, "updated_at": NOW})
    escrow = 0
    for n in range(contracts):
        notional = 1_000_000 + (n * 104_729) % 9_000_000
        escrow += notional // 2
        rows.append({"id": f"P-{n:06d}", "buyer_account_id": first + references + n % buyers,
                     "seller_account_id": first + references + buyers + n % sellers,
                     "reference_account_id": first + n % references, "reference_instrument_id": None,
                     "notional_sats": notional, "premium_bps": str(20 + (n * 37) % 380), "upfront_sats": 0,
                     "trade_date": NOW.date(), "maturity_date": MATURITY,
                     "settlement": "novation" if n % 2 else "cash", "status": "active",
                     "collateral_sats": notional // 2, "premium_paid_sats": 0, "premium_paid_through": None,
                     "mark_sats": 0, "marked_on": NOW.date(), "credit_event_liquidation_id": None,
                     "booked_via": "desk", "booked_at": NOW, "closed_at": None})
    with runtime.uow() as uow:
        uow.instruments.add(spec, NOW)
        uow.marks.add(spec.symbol, NOW, MARK, "model", MARK)
        session = uow.session
        for start in range(0, len(names), 10_000):
            session.execute(insert(AccountRow), names[start:start + 10_000])
            session.execute(insert(LedgerBalanceRow), balances[start:start + 10_000])
        session.execute(insert(PositionRow), positions)
        for start in range(0, len(rows), 10_000):
            session.execute(insert(ProtectionContractRow), rows[start:start + 10_000])
        # balances written directly (the journal is not involved: the ledger check is skipped)
        session.execute(text("UPDATE ledger_balances SET balance_sats = :v WHERE account_key = 'protection_escrow'"),
                        {"v": escrow})
        uow.commit()
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    return runtime


def bench(label: str, url: str, contracts: int, references: int) -> None:
    runtime = build(url, contracts, references)
    params = risk_parameters()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        with runtime.uow() as uow:
            stored = protection_nightly.due(uow, date(2026, 11, 2))
            risks = reference_risks(uow, {s.contract.reference_account_id for s in stored}, params)
            for s in stored:
                mark_to_market_sats(risks[s.contract.reference_account_id], notional_sats=s.contract.notional_sats,
                                    premium_bps=s.contract.premium_bps, valued_on=date(2026, 11, 2),
                                    maturity=s.contract.maturity_date)
        best = min(best, time.perf_counter() - started)
    print(f"{label}: marking {len(stored):,} contracts on {references:,} references: {best:.2f} s "
          f"({len(stored) / best:,.0f} contracts/s)")
    started = time.perf_counter()
    with runtime.uow() as uow:
        due = protection_nightly.lock_parties(uow, date(2026, 11, 2))
        summary = protection_nightly.run_nightly(uow, runtime.clock.now(), date(2026, 11, 2), due)
        uow.commit()
    elapsed = time.perf_counter() - started
    print(f"{label}: nightly run over {summary.contracts:,} contracts in {elapsed:.2f} s: premiums "
          f"{summary.premiums_sats:,} sats, collateral moved {summary.collateral_moved_sats:,} sats")
    runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--references", type=int, default=1_000)
    args = parser.parse_args()
    backends = [("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite", lambda: None)]
    if os.environ.get("HASHEDGE_TEST_POSTGRES_URL"):
        backends.append(("PostgreSQL", *postgres_database(os.environ["HASHEDGE_TEST_POSTGRES_URL"])))
    for label, url, cleanup in backends:
        try:
            bench(label, url, args.contracts, args.references)
        finally:
            cleanup()


if __name__ == "__main__":
    main()

"""A liquidation sweep killed in the middle (SIGKILL inside the second account's liquidation, its
fills, penalty and cover written but not committed) and then run again leaves exactly the database
an uninterrupted sweep leaves: the same journal entry for entry, balances, positions, orders,
trades, account events and liquidation records, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, insurance, ledger, trading

SYMBOL = "HP-2026-12"
SWEEP = """
import json
import sys
from datetime import datetime
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.services import liquidation
url, now, instance = sys.argv[1:4]
runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": instance},
                                  secret_key="crash"), clock=FixedClock(datetime.fromisoformat(now)))
print(json.dumps(liquidation.sweep(runtime.uow, runtime.clock).as_dict()["liquidation_ids"]))
"""
TABLES = {  # what must be identical, each in a stable order (entry ids can differ: a killed
    # transaction consumes PostgreSQL sequence values)
    "journal": "SELECT e.kind, e.idempotency_key, e.memo, e.occurred_at, p.account_key, p.amount_sats "
               "FROM journal_entries e JOIN journal_postings p ON p.entry_id = e.id "
               "ORDER BY e.idempotency_key, p.account_key",
    "balances": "SELECT account_key, balance_sats FROM ledger_balances ORDER BY account_key",
    "positions": "SELECT account_id, instrument, quantity, open_value, realized_pnl_sats FROM positions "
                 "ORDER BY account_id, instrument",
    "orders": "SELECT id, status, filled_quantity, cancel_reason, sequence FROM orders ORDER BY id",
    "trades": "SELECT id, kind, price, quantity, buyer_account_id, seller_account_id, buyer_fee_sats, "
              "seller_fee_sats FROM trades ORDER BY id",
    "events": "SELECT account_id, kind, occurred_at, equity_sats, liquidation_id, detail FROM account_events "
              "ORDER BY account_id, occurred_at, kind, liquidation_id",
    "liquidations": "SELECT id, penalty_sats, shortfall_sats, insurance_fund_sats, inputs, outcome FROM liquidations "
                    "ORDER BY id",
}


def snapshot(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {name: [tuple(str(v) for v in row) for row in connection.execute(text(query))]
                    for name, query in TABLES.items()}
    finally:
        engine.dispose()


def sweep(url: str, now, tmp_path, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HASHEDGE_FAULT"}
    if fault:
        env["HASHEDGE_FAULT"] = fault
    return subprocess.run([sys.executable, "-c", SWEEP, url, now.isoformat(), str(tmp_path / "instance")], env=env,
                          capture_output=True, text=True, timeout=120)


def copy_database(url: str, tmp_path, postgres_templates) -> str:
    source = make_url(url)
    if source.get_backend_name() == "sqlite":
        copy = tmp_path / "uninterrupted.sqlite"
        shutil.copyfile(source.database, copy)
        return f"sqlite:///{copy}"
    name = f"{source.database}_b"
    with postgres_templates.admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    return source.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def two_accounts_to_liquidate(runtime):
    """Two thin longs (one bankrupt after the gap, one solvent), two shorts, a maker's bids, a fund."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    ids = {}
    for name, sats in (("thin", 2_400_000), ("thinner", 2_500_000), ("short-a", 50_000_000),
                       ("short-b", 80_000_000), ("maker", 100_000_000)):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        ids[name] = account.id

    def cross(seller, buyer, quantity):
        trading.place_order(runtime.uow(), runtime.clock, ids[seller], instrument=SYMBOL, side="sell",
                            order_type="limit", quantity=quantity, price=50000)
        trading.place_order(runtime.uow(), runtime.clock, ids[buyer], instrument=SYMBOL, side="buy",
                            order_type="limit", quantity=quantity, price=50000)

    cross("short-a", "thin", 10)
    cross("short-b", "thinner", 10)
    trading.place_order(runtime.uow(), runtime.clock, ids["maker"], instrument=SYMBOL, side="buy",
                        order_type="limit", quantity=3, price=45000)
    insurance.contribute(runtime.uow(), runtime.clock, 300_000, "seed-fund")
    runtime.clock.advance(timedelta(minutes=5))
    with runtime.uow() as uow:  # a gap: thin is bankrupt, thinner below maintenance
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(44500), "model", Decimal(44500))
        uow.commit()
    runtime.engine.dispose()
    return ids


def test_a_sweep_killed_mid_liquidation_and_run_again_equals_an_uninterrupted_one(
        runtime, database_url, two_accounts_to_liquidate, tmp_path, postgres_templates):
    now = runtime.clock.now() + timedelta(seconds=30)
    uninterrupted = copy_database(database_url, tmp_path, postgres_templates)
    try:
        killed = sweep(database_url, now, tmp_path, fault="liquidation.before_commit@2")
        assert killed.returncode == -9, killed.stderr
        halfway = snapshot(database_url)
        assert len(halfway["liquidations"]) == 1  # the first account's committed, nothing of the second
        resumed = sweep(database_url, now, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        whole = sweep(uninterrupted, now, tmp_path)
        assert whole.returncode == 0, whole.stderr
        assert json.loads(whole.stdout) == ["L1-1", "L2-1"]
        assert len(snapshot(uninterrupted)["journal"]) > len(halfway["journal"])
        assert snapshot(database_url) == snapshot(uninterrupted)
        assert ledger.check_balances(runtime.uow()).ok
    finally:
        if not uninterrupted.startswith("sqlite"):
            postgres_templates.drop(uninterrupted)

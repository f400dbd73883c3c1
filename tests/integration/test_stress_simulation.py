"""``hashedge simulate stress`` on a fresh database (SQLite and PostgreSQL): a seeded population
through the real services over the historical paths leaves its liquidation records (listed and
replayed by the CLI), keeps the journal balanced, reports the figures the issue asks for, and (checked
on SQLite, to keep the suite short) gives the same figures for the same seed on another fresh database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hashedge.adapters.database import make_engine, upgrade_database

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))
FIGURES = ("liquidations", "penalties_sats", "insurance_fund_drawdown_sats", "adl_events", "uncovered_loss_sats",
           "journal_balanced", "backstop_fills", "pool_takeovers", "credit_events", "protection_cover_sats",
           "protection_contracts")


def hashedge(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HASHEDGE_DATABASE_URL": url}
    return subprocess.run([HASHEDGE, *args], env=env, capture_output=True, text=True, timeout=600)


def fresh_sqlite(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()
    return url


@pytest.mark.timeout(600)
def test_the_stress_simulation_leaves_replayable_records_and_reproduces_by_seed(database_url, tmp_path):
    run = hashedge(database_url, "simulate", "stress", "--seed", "7", "--accounts", "12", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert set(FIGURES) <= set(report) and report["journal_balanced"] is True
    assert [s["name"] for s in report["scenarios"]] == ["2020 halving", "2021 mining ban", "2024 halving"]
    assert report["scenarios"][1]["difficulty_change"] < -0.2  # the ban's retargets, replayed
    assert report["liquidations"] == len(report["liquidation_ids"]) > 0
    assert report["insurance_fund_end_sats"] == (report["insurance_fund_start_sats"]
                                                 - report["insurance_fund_drawdown_sats"])
    assert report["parameters"]["liquidation.penalty_ratio"] == "0.01"
    assert report["backstop_fills"] > 0 and report["pool_takeovers"] > 0  # offers and the pool took part
    assert report["parameters"]["pool.max_takeover_ratio"] == "0.01"
    # the hedging miners bought protection on traders; what their liquidations triggered is counted
    assert report["protection_contracts"] > 0 and report["credit_events"] >= 0
    assert all({"credit_events", "protection_cover_sats"} <= set(s) for s in report["scenarios"])

    listed = json.loads(hashedge(database_url, "liquidations", "list", "--json", "--limit", "1000").stdout)
    assert sorted(r["id"] for r in listed) == sorted(report["liquidation_ids"])
    assert sum(r["penalty_sats"] for r in listed) == report["penalties_sats"]
    for liquidation_id in report["liquidation_ids"][:3] + report["liquidation_ids"][-2:]:
        replayed = hashedge(database_url, "liquidations", "replay", liquidation_id)
        assert replayed.returncode == 0, replayed.stderr
    assert hashedge(database_url, "ledger", "check").returncode == 0

    if make_url(database_url).get_backend_name() == "sqlite":
        other = fresh_sqlite(tmp_path)
        again = json.loads(hashedge(other, "simulate", "stress", "--seed", "7", "--accounts", "12", "--json").stdout)
        assert {k: again[k] for k in FIGURES} == {k: report[k] for k in FIGURES}
        assert again["scenarios"] == report["scenarios"]


def test_a_bad_parameter_is_one_line_and_nothing_runs(database_url):
    refused = hashedge(database_url, "simulate", "stress", "--set", "liquidation.penalty_ratio=0.5")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    assert json.loads(hashedge(database_url, "liquidations", "list", "--json").stdout) == []

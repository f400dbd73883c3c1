"""The ``hashedge`` command as a user runs it: real processes, a real SQLite file, exit codes.

Errors must be one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def run(env: dict, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run([HASHEDGE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def env(tmp_path, shared_data) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    environment.update(
        HASHEDGE_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite'}",
        HASHEDGE_INSTANCE_DIR=str(tmp_path / "instance"),
        HASHEDGE_SHARED_DATA=str(shared_data),
    )
    return environment


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory, shared_data) -> dict:
    """One prepared demo database (30 days of blocks) shared by the read-only tests."""
    folder = tmp_path_factory.mktemp("demo")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    environment.update(
        HASHEDGE_DATABASE_URL=f"sqlite:///{folder / 'demo.sqlite'}",
        HASHEDGE_INSTANCE_DIR=str(folder / "instance"),
        HASHEDGE_SHARED_DATA=str(shared_data),
    )
    result = run(environment, "demo", "--no-serve", "--days", "30")
    assert result.returncode == 0, result.stderr
    assert "demo ready" in result.stdout
    return environment


def test_init_db_is_idempotent(env):
    assert run(env, "init-db").returncode == 0
    second = run(env, "init-db")
    assert second.returncode == 0 and "database ready" in second.stdout


@pytest.mark.parametrize("command", [["risk"], ["account", "show", "1"], ["instruments", "list"], ["ledger", "check"],
                                     ["index", "show", "DIFF"], ["serve", "--port", "1"]],
                         ids=lambda command: " ".join(command))
def test_commands_other_than_init_db_and_demo_never_create_a_database(env, tmp_path, command):
    missing = tmp_path / "no" / "such" / "dir" / "x.sqlite"
    env = {**env, "HASHEDGE_DATABASE_URL": f"sqlite:///{missing}"}
    assert_one_line_error(run(env, *command), f"error: database: no SQLite file at {missing}", "hashedge init-db")
    assert not (tmp_path / "no").exists()
    created = run(env, "init-db")
    assert created.returncode == 0 and missing.is_file()


def test_importing_the_real_epoch_history(env, shared_data):
    run(env, "init-db")
    path = shared_data / "btc_difficulty_epochs.csv"
    rows = len(path.read_text().splitlines()) - 1  # one row per epoch after the header
    result = run(env, "index", "import", "--epochs", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported {rows} epochs from {path}"


def test_import_needs_exactly_one_file(env):
    result = run(env, "index", "import")
    assert result.returncode == 2 and "exactly one of --epochs FILE or --blocks FILE" in result.stderr


def test_a_malformed_epoch_file_is_a_one_line_error_and_stores_nothing(env, tmp_path):
    run(env, "init-db")
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,start_height,end_height,bits\n0,0,2015,0x1d00ffff\n1,2016,4031,nothex\n")
    assert_one_line_error(run(env, "index", "import", "--epochs", str(bad)), "error:", "line 3")
    with sqlite3.connect(env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")) as db:
        assert db.execute("SELECT COUNT(*) FROM epoch_history").fetchone() == (0,)


def test_commands_before_init_db_say_what_to_do(env):
    assert_one_line_error(run(env, "index", "show", "DIFF"), "error: database", "hashedge init-db")


def test_an_unknown_index_is_a_one_line_error(env):
    run(env, "init-db")
    assert_one_line_error(run(env, "index", "show", "NOPE"), "unknown index 'NOPE'")


def test_an_index_without_fixings_says_so(env):
    run(env, "init-db")
    assert_one_line_error(run(env, "index", "show", "DIFF"), "DIFF has no published fixing yet")


def test_a_bad_at_value_is_a_usage_error(env):
    run(env, "init-db")
    result = run(env, "index", "show", "DIFF", "--at", "yesterday")
    assert result.returncode == 2 and "block height or a date" in result.stderr


def test_the_demo_publishes_fixings_that_verify(demo_env):
    result = run(demo_env, "index", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("all ") and "fixings verify against stored chain data" in result.stdout


def test_show_prints_the_latest_fixing_as_json(demo_env):
    result = run(demo_env, "index", "show", "HASHPRICE", "--json")
    assert result.returncode == 0, result.stderr
    fixing = json.loads(result.stdout)
    assert fixing["index"] == "HASHPRICE" and fixing["unit"] == "sats/PH/day"
    assert len(fixing["input_digest"]) == 64 and fixing["version"] == 1
    assert 10_000 < float(fixing["value"]) < 200_000  # today's hashprice is tens of thousands of sats


def test_show_at_a_height_computes_the_value(demo_env):
    latest = json.loads(run(demo_env, "index", "show", "DIFF", "--json").stdout)
    result = run(demo_env, "index", "show", "DIFF", "--at", str(latest["end_height"]), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["value"] == latest["value"]


def test_settling_a_date_before_the_first_listing_is_a_one_line_error_and_stores_nothing(demo_env):
    result = run(demo_env, "settle", "--date", "1970-01-01")
    assert_one_line_error(result, "error: cannot settle 1970-01-01: it is before the platform's first listing")
    with sqlite3.connect(demo_env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")) as db:
        assert db.execute("SELECT COUNT(*) FROM settlement_runs").fetchone() == (0,)


def test_running_compute_again_publishes_nothing_new(demo_env):
    result = run(demo_env, "index", "compute")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("published 0 fixings")


def test_verify_fails_loudly_when_stored_blocks_were_tampered_with(demo_env, tmp_path):
    copy = tmp_path / "tampered.sqlite"
    source = demo_env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(source) as original, sqlite3.connect(copy) as target:
        original.backup(target)
    with sqlite3.connect(copy) as db:
        height = db.execute("SELECT MAX(height) - 200 FROM blocks").fetchone()[0]
        db.execute("UPDATE blocks SET total_fees_sats = total_fees_sats + 1000000 WHERE height = ?", (height,))
    tampered_env = dict(demo_env, HASHEDGE_DATABASE_URL=f"sqlite:///{copy}")
    result = run(tampered_env, "index", "verify")
    assert result.returncode == 1
    assert "MISMATCH HASHPRICE" in result.stderr and "do not verify" in result.stderr
    assert "Traceback" not in result.stderr

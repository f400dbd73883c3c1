"""``hashedge engine run`` as operations run it: a real process on a real SQLite file, draining the
inbox with ``--once``, and one-line errors for bad options or a missing database."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.services import accounts, order_inbox
from tests.e2e.test_accounts_cli import assert_one_line_error, environment_for, ok, run


def test_engine_run_once_drains_the_inbox_and_reports_what_it_answered(tmp_path):
    database, instance = tmp_path / "hashedge.sqlite", tmp_path / "instance"
    env = environment_for(database, instance)
    ok(env, "init-db")
    runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": f"sqlite:///{database}",
                                       "HASHEDGE_INSTANCE_DIR": str(instance)}, secret_key="cli"),
                        clock=FixedClock(datetime(2026, 11, 1, tzinfo=timezone.utc)))
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, "trader")
    for symbol in ("NOPE-1", "NOPE-2"):  # unknown instruments: answered with place_order's 404
        order_inbox.enqueue_order(runtime.uow(), runtime.clock, account.id, instrument=symbol, side="buy",
                                  order_type="limit", quantity=1, price=1)
    runtime.close()
    assert "2 requests answered in 1 batches" in ok(env, "engine", "run", "--once")
    assert "0 requests answered in 0 batches" in ok(env, "engine", "run", "--once", "--instruments", "HP-2026-12")
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT status, outcome FROM order_requests ORDER BY id").fetchall()
    assert [(status, json.loads(outcome)["error"]["code"]) for status, outcome in rows] == [("done", "not_found")] * 2


def test_engine_run_refuses_bad_options_and_a_missing_database_in_one_line(tmp_path):
    env = environment_for(tmp_path / "missing.sqlite", tmp_path / "instance")
    assert_one_line_error(run(env, "engine", "run", "--once"), "error:", "no SQLite file")
    ok(env, "init-db")
    assert_one_line_error(run(env, "engine", "run", "--once", "--instruments", ","), "--instruments")
    refused = run(env, "engine", "run", "--batch-size", "0")  # click's usage error
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and "--batch-size" in refused.stderr

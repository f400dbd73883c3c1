"""Accounts and money through the ``hashedge`` command as the desk runs it: real processes, a real
SQLite file, exit codes, and the API key it prints working against ``hashedge serve``.

Errors must be one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def run(env: dict, *args: str, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run([HASHEDGE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def ok(env: dict, *args: str) -> str:
    result = run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def balance(env: dict, account: str) -> int:
    return json.loads(ok(env, "account", "show", account, "--json"))["balances"]["collateral_sats"]


def environment_for(database: Path, instance: Path) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    environment.update(HASHEDGE_DATABASE_URL=f"sqlite:///{database}", HASHEDGE_INSTANCE_DIR=str(instance))
    return environment


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict:
    """Databases prepared once through the CLI and copied per test (each command is a process):
    ``empty`` after init-db, ``funded`` with account miner-1 holding 100,000 sats."""
    folder = tmp_path_factory.mktemp("accounts-cli")
    empty = environment_for(folder / "empty.sqlite", folder / "instance")
    ok(empty, "init-db")
    funded = environment_for(folder / "funded.sqlite", folder / "instance")
    ok(funded, "init-db")
    created = json.loads(ok(funded, "account", "create", "miner-1", "--json"))
    ok(funded, "deposit", str(created["id"]), "100000")
    return {"empty": folder / "empty.sqlite", "funded": folder / "funded.sqlite", "miner": created}


def copy_of(template: Path, tmp_path: Path) -> dict:
    database = tmp_path / "accounts.sqlite"
    shutil.copyfile(template, database)  # the CLI's last connection checkpointed the WAL
    return environment_for(database, tmp_path / "instance")


@pytest.fixture
def env(templates, tmp_path) -> dict:
    return copy_of(templates["empty"], tmp_path)


@pytest.fixture
def funded_env(templates, tmp_path) -> dict:
    return copy_of(templates["funded"], tmp_path)


@pytest.fixture
def miner(templates) -> dict:
    """Account miner-1 of the funded database, as ``account create --json`` printed it."""
    return templates["miner"]


def test_create_json_prints_the_id_and_the_api_key_once(env):
    created = json.loads(ok(env, "account", "create", "miner-1", "--json"))
    assert set(created) == {"id", "name", "api_key"} and created["name"] == "miner-1"
    assert isinstance(created["id"], int) and created["api_key"].startswith("he_")
    shown = ok(env, "account", "show", "miner-1", "--json")
    assert created["api_key"] not in shown
    with sqlite3.connect(env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")) as db:
        stored = db.execute("SELECT prefix || ' ' || secret_hash FROM api_keys").fetchone()[0]
    assert created["api_key"] not in stored


def test_create_in_plain_text_says_the_key_is_shown_once(env):
    out = ok(env, "account", "create", "trader")
    assert out.startswith("account 1 (trader) created") and "shown this once" in out and "he_" in out


def test_deposits_and_withdrawals_by_id_or_name(funded_env, miner):
    out = ok(funded_env, "withdraw", "miner-1", "30000", "--memo", "to cold storage")
    assert "withdrew 30000 sats from account 1 (miner-1)" in out and "collateral now 70000 sats" in out
    ok(funded_env, "deposit", "miner-1", "5000")
    summary = json.loads(ok(funded_env, "account", "show", str(miner["id"]), "--json"))
    assert summary["balances"] == {"collateral_sats": 75_000}
    assert (summary["equity_sats"], summary["free_collateral_sats"], summary["status"]) == (75_000, 75_000, "healthy")
    assert summary["initial_margin_sats"] == summary["maintenance_margin_sats"] == 0


def test_a_withdrawal_beyond_free_collateral_is_refused_with_one_line(funded_env):
    result = run(funded_env, "withdraw", "miner-1", "100001")
    assert_one_line_error(result, "error:", "exceeds free collateral of 100000 sats by 1 sats")
    assert balance(funded_env, "miner-1") == 100_000


def test_an_idempotency_key_makes_a_retried_command_post_once(funded_env):
    first = ok(funded_env, "deposit", "miner-1", "2500", "--idempotency-key", "txid-42")
    again = ok(funded_env, "deposit", "miner-1", "2500", "--idempotency-key", "txid-42")
    assert "already done" not in first and "already done with this idempotency key" in again
    assert_one_line_error(run(funded_env, "deposit", "miner-1", "2600", "--idempotency-key", "txid-42"),
                          "idempotency key 'txid-42' was already used")
    assert balance(funded_env, "miner-1") == 102_500


@pytest.mark.parametrize("args, fragments", [
    (("account", "create", "miner-1"), ("already exists",)),
    (("account", "create", "12345"), ("invalid account name",)),
    (("deposit", "nobody", "5"), ("no account with id or name 'nobody'",)),
    (("withdraw", "miner-1", "0"), ("amount_sats must be between 1",)),
    (("deposit", "miner-1", "2100000000000001"), ("amount_sats must be between 1",)),
])
def test_bad_requests_are_one_line_errors(funded_env, args, fragments):
    assert_one_line_error(run(funded_env, *args), "error:", *fragments)


def test_amounts_that_are_not_integers_are_usage_errors(funded_env):
    for amount in ("abc", "1.5", "-5"):
        result = run(funded_env, "deposit", "miner-1", amount)
        assert result.returncode == 2 and "Traceback" not in result.stderr


def test_ledger_check_passes_then_fails_loudly_on_a_tampered_balance(funded_env):
    assert "agree with the journal" in ok(funded_env, "ledger", "check")
    with sqlite3.connect(funded_env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")) as db:
        db.execute("UPDATE ledger_balances SET balance_sats = balance_sats + 1 WHERE account_key = 'collateral:1'")
    result = run(funded_env, "ledger", "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "MISMATCH collateral:1: stored 100001 sats, journal 100000 sats" in result.stderr


def test_account_commands_before_init_db_say_what_to_do(tmp_path):
    environment = environment_for(tmp_path / "never-initialized.sqlite", tmp_path / "instance")
    assert_one_line_error(run(environment, "account", "create", "early"), "error: database", "hashedge init-db")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(funded_env):
    port = free_port()
    server = subprocess.Popen([HASHEDGE, "serve", "--port", str(port)], env=funded_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/api/openapi.json", timeout=1)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_printed_key_opens_the_account_api_and_nothing_else_does(funded_env, miner, served):
    auth = {"Authorization": f"Bearer {miner['api_key']}"}
    account = requests.get(f"{served}/api/v1/account", headers=auth, timeout=10)
    assert account.status_code == 200 and account.json()["balances"] == {"collateral_sats": 100_000}
    assert account.headers["Server"] == "HashEdge"  # `hashedge serve` names no werkzeug or Python version
    assert account.headers["Cache-Control"] == "no-store" and account.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.get(f"{served}/api/v1/account", timeout=10).status_code == 401
    refused = requests.post(f"{served}/api/v1/withdrawals", json={"amount_sats": 100_001},
                            headers=dict(auth, **{"Idempotency-Key": "all-and-more"}), timeout=10)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "insufficient_collateral"
    negative = requests.post(f"{served}/api/v1/withdrawals", json={"amount_sats": -1},
                             headers=dict(auth, **{"Idempotency-Key": "negative"}), timeout=10)
    assert negative.status_code == 400 and "amount_sats" in negative.json()["error"]["fields"]
    paid = requests.post(f"{served}/api/v1/withdrawals", json={"amount_sats": 40_000},
                         headers=dict(auth, **{"Idempotency-Key": "w-1"}), timeout=10)
    assert paid.status_code == 201
    assert balance(funded_env, "miner-1") == 60_000


def test_keys_rotate_and_revoke_from_the_cli_and_the_api_follows(funded_env, miner, served):
    """Rotation: issue a second key, switch to it, revoke the first; then --all revokes the rest."""
    def status(key: str) -> int:
        return requests.get(f"{served}/api/v1/account", headers={"Authorization": f"Bearer {key}"},
                            timeout=10).status_code

    first = miner["api_key"]
    second = json.loads(ok(funded_env, "account", "keys", "create", "miner-1", "--json"))
    assert second["id"] == miner["id"] and second["api_key"].startswith("he_") and second["api_key"] != first
    listed = json.loads(ok(funded_env, "account", "keys", "list", "miner-1", "--json"))
    prefixes = [k["prefix"] for k in listed]
    assert prefixes == [second["api_key"].split("_")[1], first.split("_")[1]]  # newest first, prefixes only
    assert all(k["revoked_at"] is None for k in listed) and first not in json.dumps(listed)
    assert status(first) == status(second["api_key"]) == 200

    assert "revoked key" in ok(funded_env, "account", "keys", "revoke", "miner-1", prefixes[1])
    assert status(first) == 401 and status(second["api_key"]) == 200
    assert_one_line_error(run(funded_env, "account", "keys", "revoke", "miner-1", prefixes[1]), "error:", prefixes[1])
    other = json.loads(ok(funded_env, "account", "create", "other", "--json"))
    other_prefix = other["api_key"].split("_")[1]
    assert_one_line_error(run(funded_env, "account", "keys", "revoke", "miner-1", other_prefix),
                          "error:", "has no API key")
    assert status(other["api_key"]) == 200  # another account's key is untouched

    assert ok(funded_env, "account", "keys", "revoke", "miner-1", "--all").startswith("revoked 1 key of account")
    assert status(second["api_key"]) == 401
    listed = json.loads(ok(funded_env, "account", "keys", "list", "miner-1", "--json"))
    assert all(k["revoked_at"] is not None for k in listed)


@pytest.mark.parametrize("args", [("miner-1",), ("miner-1", "abc", "--all")])
def test_keys_revoke_needs_a_prefix_or_all_but_not_both(funded_env, args):
    result = run(funded_env, "account", "keys", "revoke", *args)
    assert result.returncode == 2 and "give a KEY_PREFIX or --all" in result.stderr

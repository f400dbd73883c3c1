"""Issue 4's acceptance scenario, run from outside exactly through its interfaces: the ``hashedge``
command on a fresh SQLite file and ``hashedge serve`` answering HTTP with bearer API keys."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))
DEPOSIT_SATS = 100_000_000


def run(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([HASHEDGE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def ok(env: dict, *args: str) -> str:
    result = run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def collateral(env: dict, account_id: int) -> int:
    return json.loads(ok(env, "account", "show", str(account_id), "--json"))["balances"]["collateral_sats"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def env(tmp_path) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    environment.update(HASHEDGE_DATABASE_URL=f"sqlite:///{tmp_path / 'acceptance.sqlite'}",
                       HASHEDGE_INSTANCE_DIR=str(tmp_path / "instance"))
    return environment


@pytest.fixture
def serve(env):
    servers = []

    def start() -> str:
        port = free_port()
        server = subprocess.Popen([HASHEDGE, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/api/openapi.json", timeout=1)
                return base
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.timeout(240)
def test_a_miner_and_a_trader_cross_on_a_hashprice_future_and_settle(env, serve):
    ok(env, "demo", "--no-serve")
    instruments = json.loads(ok(env, "instruments", "list", "--json"))
    assert instruments and all({"symbol", "tick_size", "mark_price"} <= set(i) for i in instruments)
    monthly = next(i for i in instruments if i["symbol"].startswith("HP-") and i["trading_open"])
    assert monthly["mark_price"] is not None
    price = Decimal(monthly["mark_price"])

    miner = json.loads(ok(env, "account", "create", "miner", "--json"))
    trader = json.loads(ok(env, "account", "create", "trader", "--json"))
    for account in (miner, trader):
        assert set(account) >= {"id", "api_key"}
        ok(env, "deposit", str(account["id"]), str(DEPOSIT_SATS))

    base = serve()
    auth = {name: {"Authorization": f"Bearer {account['api_key']}"}
            for name, account in (("miner", miner), ("trader", trader))}
    order = {"instrument": monthly["symbol"], "type": "limit", "quantity": 10, "price": int(price)}
    sold = requests.post(f"{base}/api/v1/orders", json={**order, "side": "sell"}, headers=auth["miner"], timeout=30)
    assert sold.status_code == 201, sold.text
    bought = requests.post(f"{base}/api/v1/orders", json={**order, "side": "buy"},
                           headers={**auth["trader"], "Idempotency-Key": "first-buy"}, timeout=30)
    assert bought.status_code == 201, bought.text
    assert bought.json()["status"] == "filled"

    positions = {name: requests.get(f"{base}/api/v1/positions", headers=auth[name], timeout=30).json()["items"]
                 for name in auth}
    assert [(p["instrument"], p["quantity"]) for p in positions["miner"]] == [(monthly["symbol"], -10)]
    assert [(p["instrument"], p["quantity"]) for p in positions["trader"]] == [(monthly["symbol"], 10)]
    account = requests.get(f"{base}/api/v1/account", headers=auth["miner"], timeout=30).json()
    assert account["initial_margin_sats"] > 0 and account["equity_sats"] > 0
    assert account["balances"]["collateral_sats"] > 0

    refused = run(env, "withdraw", str(miner["id"]), str(collateral(env, miner["id"])))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr

    negative = requests.post(f"{base}/api/v1/orders", json={**order, "side": "buy", "quantity": -5},
                             headers=auth["trader"], timeout=30)
    assert negative.status_code == 400 and negative.json()["error"]["fields"]["quantity"]
    assert requests.post(f"{base}/api/v1/orders", json={**order, "side": "buy"}, timeout=30).status_code == 401
    assert requests.get(f"{base}/api/v1/positions", timeout=30).status_code == 401

    today = datetime.now(timezone.utc).date().isoformat()
    assert ok(env, "settle", "--date", today).startswith(f"provisionally settled {today} at the marks as of ")
    after_first = {a["id"]: collateral(env, a["id"]) for a in (miner, trader)}
    assert ok(env, "settle", "--date", today) == f"provisional settlement for {today} was already done; nothing changed\n"
    assert {a["id"]: collateral(env, a["id"]) for a in (miner, trader)} == after_first
    ok(env, "ledger", "check")

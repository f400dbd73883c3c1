"""What a `POST /api/v1/orders` costs its web worker with the engine's socket (a script, not a
test): prints CPU milliseconds per request.

    .venv/bin/python tests/bench/bench_order_request_cpu.py [--requests 1000] [--backend sqlite|postgresql]

On a database (SQLite, or a fresh PostgreSQL database on ``HASHEDGE_TEST_POSTGRES_URL``'s server,
whose processes' CPU is printed beside this process's) with one listed contract, a mark and a funded account, the app is built
with ``HASHEDGE_ORDER_ENGINE=inbox`` and an engine socket whose answer is canned (the outcome of
one real order, encoded as the engine encodes it), so the figure is the web side alone: parsing,
the API key check, handing the request over, decoding and rendering the answer. Beside it, the
same process's CPU for ``GET /api/v1/orders`` (one page of one order) and for a JSON 404, the
floor of a request through the app. Flask's test client, one thread: no HTTP server, so
gunicorn's own cost per request is not in these figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_test  # noqa: E402  (its databases and its reading of the processes' CPU)

from hashedge.bootstrap import bootstrap  # noqa: E402
from hashedge.config import load_settings  # noqa: E402
from hashedge.domain.instruments import hashprice_monthly  # noqa: E402
from hashedge.services import accounts, ledger, order_inbox, trading  # noqa: E402
from hashedge.web import create_app  # noqa: E402

SYMBOL = "HP-2026-12"


class CannedEngine:
    """The engine's socket answering every request with one stored outcome."""

    def __init__(self, outcome_json: str):
        self.outcome_json = outcome_json

    def call(self, message: dict, timeout_s: float) -> dict:
        return {"token": message["token"], "outcome": self.outcome_json}


def cpu_ms_per_request(send, count: int) -> tuple[float, float]:
    """This process's and the PostgreSQL server's CPU a request, in ms."""
    for _ in range(min(50, count)):
        send()
    started, server_started = time.process_time(), load_test.cpu_times(0).get("postgres", 0.0)
    for _ in range(count):
        send()
    server_s = load_test.cpu_times(0).get("postgres", 0.0) - server_started
    return (time.process_time() - started) / count * 1000, server_s / count * 1000


def database_url(backend: str, folder: Path) -> tuple[str, callable]:
    """A fresh database (a SQLite file, or one on HASHEDGE_TEST_POSTGRES_URL's server) and its drop."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite'}", lambda: None
    admin, name = os.environ["HASHEDGE_TEST_POSTGRES_URL"], f"hashedge_bench_{uuid.uuid4().hex[:8]}"
    return load_test._postgres_database(admin, "create", name), lambda: load_test._postgres_database(admin, "drop", name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-request-"))
    url, drop = database_url(args.backend, folder)
    try:
        settings = load_settings({"HASHEDGE_DATABASE_URL": url,
                                  "HASHEDGE_INSTANCE_DIR": str(folder), "HASHEDGE_ORDER_ENGINE": "inbox",
                                  "HASHEDGE_ENGINE_SOCKET": str(folder / "engine.sock")}, secret_key="bench")
        runtime = bootstrap(settings)
        runtime.migrate()
        with runtime.uow() as uow:
            uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
            uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
            uow.commit()
        account, key = accounts.create_account(runtime.uow(), runtime.clock, "bench")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**10, "bench-seed")
        placed = trading.place_order(runtime.uow(), runtime.clock, account.id, instrument=SYMBOL, side="buy",
                                     order_type="limit", quantity=1, price=Decimal(49990))
        app = create_app(runtime)
        app.extensions["hashedge_engine_handoff"] = CannedEngine(order_inbox.encode_outcome(placed))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        body = {"instrument": SYMBOL, "side": "buy", "type": "limit", "quantity": 1, "price": "49990"}

        def post():
            assert client.post("/api/v1/orders", json=body, headers=headers).status_code == 201

        def get_orders():
            assert client.get("/api/v1/orders?page_size=1", headers=headers).status_code == 200

        def not_found():
            assert client.get("/api/v1/no-such-route").status_code == 404

        for name, send in (("POST /api/v1/orders (engine answer canned)", post),
                           ("GET /api/v1/orders?page_size=1", get_orders), ("GET of no route (404)", not_found)):
            own_ms, server_ms = cpu_ms_per_request(send, args.requests)
            server = f", PostgreSQL {server_ms:5.2f} ms" if args.backend == "postgresql" else ""
            print(f"  {name:45s} {own_ms:6.2f} ms of CPU a request{server}", flush=True)
        runtime.close()
    finally:
        drop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

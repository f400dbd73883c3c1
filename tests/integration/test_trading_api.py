"""The trading API on SQLite and PostgreSQL: orders crossing through HTTP, positions, keys that
never reach another account's data, JSON 4xx for bad input, and authenticated fuzzing of the
trading operations from the OpenAPI document (never a 500, responses within their schemas)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger
from hashedge.web import create_app

SYMBOL = "HP-2026-12"


@pytest.fixture
def api(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    keys = {}
    for name in ("miner", "trader"):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000_000, f"seed-{name}")
        keys[name] = {"Authorization": f"Bearer {key}"}
    return create_app(runtime).test_client(), keys


def order(side: str, quantity=2, price=50000, **extra) -> dict:
    return {"instrument": SYMBOL, "side": side, "type": "limit", "quantity": quantity, "price": price, **extra}


def test_crossing_orders_over_http_leave_opposite_positions(api):
    client, keys = api
    assert client.post("/api/v1/orders", json=order("sell"), headers=keys["miner"]).status_code == 201
    bought = client.post("/api/v1/orders", json=order("buy"), headers=keys["trader"])
    assert bought.status_code == 201 and bought.json["status"] == "filled"
    assert bought.json["fills"][0]["liquidity"] == "taker"
    miner = client.get("/api/v1/positions", headers=keys["miner"]).json
    trader = client.get("/api/v1/positions", headers=keys["trader"]).json
    assert [(p["instrument"], p["quantity"]) for p in miner] == [(SYMBOL, -2)]
    assert [(p["instrument"], p["quantity"]) for p in trader] == [(SYMBOL, 2)]
    account = client.get("/api/v1/account", headers=keys["miner"]).json
    assert account["initial_margin_sats"] == 2 * 50000 * 31 * 15 // 100
    trades = client.get("/api/v1/trades", headers=keys["miner"]).json
    assert [(t["side"], t["liquidity"], t["fee_sats"]) for t in trades] == [("sell", "maker", 620)]


def test_a_key_never_sees_or_cancels_another_accounts_order(api):
    client, keys = api
    placed = client.post("/api/v1/orders", json=order("buy", price=49000), headers=keys["miner"]).json
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=keys["trader"]).status_code == 404
    assert client.delete(f"/api/v1/orders/{placed['id']}", headers=keys["trader"]).status_code == 404
    assert client.get("/api/v1/orders", headers=keys["trader"]).json == []
    cancelled = client.delete(f"/api/v1/orders/{placed['id']}", headers=keys["miner"])
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.delete(f"/api/v1/orders/{placed['id']}", headers=keys["miner"]).status_code == 409


@pytest.mark.parametrize("body, field", [
    (order("buy", quantity=-1), "quantity"), (order("buy", quantity=1.5), "quantity"),
    (order("hold"), "side"), (order("buy", type="stop"), "type"), (order("buy", price="NaN"), "price"),
])
def test_bad_orders_are_json_400s_with_the_field(api, body, field):
    client, keys = api
    response = client.post("/api/v1/orders", json=body, headers=keys["miner"])
    assert response.status_code == 400 and field in response.json["error"]["fields"]


def test_no_key_is_a_401_and_refusals_are_422_with_the_shortfall(api):
    client, keys = api
    assert client.post("/api/v1/orders", json=order("buy")).status_code == 401
    refused = client.post("/api/v1/orders", json=order("buy", quantity=1000), headers=keys["miner"])
    assert refused.status_code == 422 and "short by" in refused.json["error"]["message"]
    off_tick = client.post("/api/v1/orders", json=order("buy", price="50000.5"), headers=keys["miner"])
    assert off_tick.status_code == 422 and "price" in off_tick.json["error"]["fields"]


def test_book_depth_and_instruments_are_public(api):
    client, keys = api
    client.post("/api/v1/orders", json=order("buy", quantity=3, price=49000), headers=keys["miner"])
    depth = client.get(f"/api/v1/instruments/{SYMBOL}/book").json
    assert depth["bids"] == [{"price": "49000", "quantity": 3}] and depth["asks"] == []
    listed = client.get("/api/v1/instruments").json
    assert [(i["symbol"], i["tick_size"], i["mark_price"]) for i in listed] == [(SYMBOL, "1", "50000")]
    assert client.get("/api/v1/instruments/NOPE/book").status_code == 404


TRADING_PATHS = ("/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/trades", "/api/v1/positions")


def test_authenticated_trading_requests_stay_within_the_contract(api, runtime):
    client, keys = api
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", client.application)
    operations = [r.ok() for r in schema.get_all_operations()]
    operations = [op for op in operations if op.path in TRADING_PATHS]
    assert len(operations) == 6
    bearer = keys["miner"]["Authorization"]
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            if (case.headers or {}).get("Authorization", "").startswith("Bearer "):
                case.headers["Authorization"] = bearer
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance,
                                           negative_data_rejection])

        check()
    assert ledger.check_balances(runtime.uow()).ok

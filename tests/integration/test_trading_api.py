"""The trading API on SQLite and PostgreSQL: orders crossing through HTTP, positions, keys that
never reach another account's data, cancel/replace (PATCH) with its priority rules, and JSON 4xx
for bad input. Fuzzing of the trading operations is in ``test_trading_api_fuzz``."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
    assert bought.json["fills"][0]["fee_sats"] == 1550  # 5 bps of 2 x 50,000 x 31
    miner = client.get("/api/v1/positions", headers=keys["miner"]).json["items"]
    trader = client.get("/api/v1/positions", headers=keys["trader"]).json["items"]
    assert [(p["instrument"], p["quantity"]) for p in miner] == [(SYMBOL, -2)]
    assert [(p["instrument"], p["quantity"]) for p in trader] == [(SYMBOL, 2)]
    account = client.get("/api/v1/account", headers=keys["miner"]).json
    assert account["initial_margin_sats"] == 2 * 50000 * 31 * 15 // 100
    trades = client.get("/api/v1/trades", headers=keys["miner"]).json["items"]
    assert [(t["side"], t["liquidity"], t["fee_sats"]) for t in trades] == [("sell", "maker", 620)]


def test_a_retried_order_with_its_idempotency_key_is_answered_once_with_its_fills_and_fees(api):
    client, keys = api
    client.post("/api/v1/orders", json=order("sell"), headers=keys["miner"])
    key = {**keys["trader"], "Idempotency-Key": "buy-1"}
    first = client.post("/api/v1/orders", json=order("buy"), headers=key)
    again = client.post("/api/v1/orders", json=order("buy"), headers=key)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and [f["fee_sats"] for f in again.json["fills"]] == [1550]
    assert [p["quantity"] for p in client.get("/api/v1/positions", headers=keys["trader"]).json["items"]] == [2]
    other = client.post("/api/v1/orders", json=order("buy", quantity=3), headers=key)
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_key_reused"


def test_a_key_never_sees_or_cancels_another_accounts_order(api):
    client, keys = api
    placed = client.post("/api/v1/orders", json=order("buy", price=49000), headers=keys["miner"]).json
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=keys["trader"]).status_code == 404
    assert client.delete(f"/api/v1/orders/{placed['id']}", headers=keys["trader"]).status_code == 404
    assert client.get("/api/v1/orders", headers=keys["trader"]).json["items"] == []
    cancelled = client.delete(f"/api/v1/orders/{placed['id']}", headers=keys["miner"])
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert client.delete(f"/api/v1/orders/{placed['id']}", headers=keys["miner"]).status_code == 409


@pytest.mark.parametrize("body, field", [
    (order("buy", quantity=-1), "quantity"), (order("buy", quantity=1.5), "quantity"),
    (order("hold"), "side"), (order("buy", type="stop"), "type"), (order("buy", price="NaN"), "price"),
    (order("buy", price="1e30"), "price"), (order("buy", price=0), "price"),
])
def test_bad_orders_are_json_400s_with_the_field(api, body, field):
    client, keys = api
    response = client.post("/api/v1/orders", json=body, headers=keys["miner"])
    assert response.status_code == 400 and field in response.json["error"]["fields"]


def test_a_price_written_with_many_trailing_zeros_is_stored_as_the_plain_number(api):
    client, keys = api
    placed = client.post("/api/v1/orders", json=order("buy", price="49000." + "0" * 80), headers=keys["miner"])
    assert placed.status_code == 201 and placed.json["price"] == "49000"


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
    assert (listed["total"], listed["page"], listed["page_size"]) == (1, 1, 100)
    assert [(i["symbol"], i["tick_size"], i["mark_price"]) for i in listed["items"]] == [(SYMBOL, "1", "50000")]
    assert client.get("/api/v1/instruments/NOPE/book").status_code == 404


# --- cancel/replace: PATCH /orders/<id> ------------------------------------------------------


def place(client, key, body) -> dict:
    response = client.post("/api/v1/orders", json=body, headers=key)
    assert response.status_code == 201, response.json
    return response.json


def amend(client, key, order_id, headers=None, **body):
    return client.patch(f"/api/v1/orders/{order_id}", json=body, headers={**key, **(headers or {})})


def filled(client, key, *orders) -> list[int]:
    return [client.get(f"/api/v1/orders/{o['id']}", headers=key).json["filled_quantity"] for o in orders]


def test_a_new_price_loses_time_priority(api):
    client, keys = api
    first = place(client, keys["miner"], order("sell", price=50100))
    second = place(client, keys["miner"], order("sell", price=50000))
    moved = amend(client, keys["miner"], first["id"], price=50000)
    assert moved.status_code == 200 and moved.json["price"] == "50000" and moved.json["status"] == "open"
    place(client, keys["trader"], order("buy", quantity=2, price=50000))
    assert filled(client, keys["miner"], first, second) == [0, 2]  # the first one now queues behind


def test_a_lower_quantity_at_the_same_price_keeps_time_priority(api):
    client, keys = api
    first = place(client, keys["miner"], order("sell", quantity=3))
    second = place(client, keys["miner"], order("sell", quantity=2))
    reduced = amend(client, keys["miner"], first["id"], quantity=2)
    assert reduced.status_code == 200 and reduced.json["quantity"] == reduced.json["remaining_quantity"] == 2
    place(client, keys["trader"], order("buy", quantity=2))
    assert filled(client, keys["miner"], first, second) == [2, 0]


def test_an_amendment_that_crosses_trades_at_once_at_the_makers_price(api, runtime):
    client, keys = api
    bid = place(client, keys["trader"], order("buy", quantity=2, price=49900))
    ask = place(client, keys["miner"], order("sell", quantity=3, price=50100))
    crossed = amend(client, keys["miner"], ask["id"], price=49800)
    assert crossed.status_code == 200
    assert crossed.json["status"] == "partially_filled" and crossed.json["remaining_quantity"] == 1
    assert [(f["price"], f["quantity"], f["liquidity"]) for f in crossed.json["fills"]] == [("49900", 2, "taker")]
    assert filled(client, keys["trader"], bid) == [2]
    positions = client.get("/api/v1/positions", headers=keys["miner"]).json["items"]
    assert [(p["instrument"], p["quantity"]) for p in positions] == [(SYMBOL, -2)]
    assert client.get(f"/api/v1/instruments/{SYMBOL}/book").json["asks"] == [{"price": "49800", "quantity": 1}]
    assert ledger.check_balances(runtime.uow()).ok


def test_an_amendment_refused_by_the_margin_check_leaves_the_order_as_it_was(api):
    client, keys = api
    placed = place(client, keys["miner"], order("buy", quantity=2, price=49000))
    refused = amend(client, keys["miner"], placed["id"], quantity=1000, price=49500)
    assert refused.status_code == 422 and "short by" in refused.json["error"]["message"]
    assert refused.json["error"]["code"] == "insufficient_margin"
    assert client.get(f"/api/v1/orders/{placed['id']}", headers=keys["miner"]).json == placed
    assert client.get(f"/api/v1/instruments/{SYMBOL}/book").json["bids"] == [{"price": "49000", "quantity": 2}]


@pytest.mark.parametrize("quantity", [2, 1])
def test_a_quantity_not_above_what_is_filled_is_refused_with_the_field(api, quantity):
    client, keys = api
    ask = place(client, keys["miner"], order("sell", quantity=5))
    place(client, keys["trader"], order("buy", quantity=2))
    refused = amend(client, keys["miner"], ask["id"], quantity=quantity)
    assert refused.status_code == 422 and "filled" in refused.json["error"]["fields"]["quantity"][0]
    assert client.get(f"/api/v1/orders/{ask['id']}", headers=keys["miner"]).json["remaining_quantity"] == 3


def test_another_accounts_order_is_a_404_and_a_finished_one_a_409(api):
    client, keys = api
    ask = place(client, keys["miner"], order("sell", quantity=1))
    assert amend(client, keys["trader"], ask["id"], quantity=2).status_code == 404
    assert amend(client, keys["trader"], "no-such-order", quantity=2).status_code == 404
    place(client, keys["trader"], order("buy", quantity=1))
    taken = amend(client, keys["miner"], ask["id"], quantity=2)
    assert taken.status_code == 409 and "filled" in taken.json["error"]["fields"]["order_id"][0]
    bid = place(client, keys["miner"], order("buy", quantity=1, price=49000))
    client.delete(f"/api/v1/orders/{bid['id']}", headers=keys["miner"])
    assert amend(client, keys["miner"], bid["id"], price=49100).status_code == 409


def test_an_idempotency_key_replays_the_amendment_and_refuses_another_request(api):
    client, keys = api
    bid = place(client, keys["miner"], order("buy", quantity=2, price=49000))
    key = {"Idempotency-Key": "amend-1"}
    first = amend(client, keys["miner"], bid["id"], headers=key, price=49100)
    again = amend(client, keys["miner"], bid["id"], headers=key, price=49100)
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and "Idempotent-Replayed" not in first.headers
    other = amend(client, keys["miner"], bid["id"], headers=key, price=49200)
    assert other.status_code == 409 and other.json["error"]["code"] == "idempotency_key_reused"
    placed_with_it = client.post("/api/v1/orders", json=order("buy", price=48000), headers={**keys["miner"], **key})
    assert placed_with_it.status_code == 409
    assert client.get(f"/api/v1/instruments/{SYMBOL}/book").json["bids"] == [{"price": "49100", "quantity": 2}]


@pytest.mark.parametrize("body, field", [
    ({}, "quantity"), ({"quantity": 1.5}, "quantity"), ({"quantity": -1}, "quantity"),
    ({"quantity": None}, "quantity"), ({"quantity": "3"}, "quantity"), ({"price": "NaN"}, "price"),
    ({"price": -5}, "price"), ({"price": 0}, "price"), ({"price": "1e30"}, "price"), ({"price": "x"}, "price"),
    ({"quantity": 3, "side": "sell"}, "side"),
])
def test_bad_amendments_are_json_400s_with_the_field(api, body, field):
    client, keys = api
    bid = place(client, keys["miner"], order("buy", price=49000))
    response = amend(client, keys["miner"], bid["id"], **body)
    assert response.status_code == 400 and field in response.json["error"]["fields"]
    assert client.get(f"/api/v1/orders/{bid['id']}", headers=keys["miner"]).json == bid


def test_an_amended_price_off_the_tick_is_a_422_with_the_field(api):
    client, keys = api
    bid = place(client, keys["miner"], order("buy", price=49000))
    refused = amend(client, keys["miner"], bid["id"], price="49000.5")
    assert refused.status_code == 422 and "price" in refused.json["error"]["fields"]


def test_an_order_read_back_shows_its_fills_and_fees_as_the_post_did(api):
    client, keys = api
    client.post("/api/v1/orders", json=order("sell", quantity=1), headers=keys["miner"])
    client.post("/api/v1/orders", json=order("sell", quantity=1, price=50100), headers=keys["miner"])
    placed = client.post("/api/v1/orders", json=order("buy", quantity=3, price=50100), headers=keys["trader"]).json
    assert placed["status"] == "partially_filled" and len(placed["fills"]) == 2
    one = client.get(f"/api/v1/orders/{placed['id']}", headers=keys["trader"]).json
    listed = client.get("/api/v1/orders", headers=keys["trader"]).json
    assert one == placed and listed["items"] == [placed] and listed["total"] == 1
    maker_orders = client.get("/api/v1/orders", headers=keys["miner"]).json["items"]
    assert sorted((f["liquidity"], f["fee_sats"]) for o in maker_orders for f in o["fills"]) == [
        ("maker", 310), ("maker", 311)]  # 2 bps of 50,000 x 31 and of 50,100 x 31, rounded up


def test_lists_share_one_page_and_filter_convention(api, runtime):
    client, keys = api
    ids = [client.post("/api/v1/orders", json=order("buy", quantity=1, price=49000 + n), headers=keys["miner"]).json["id"]
           for n in range(5)]
    first = client.get("/api/v1/orders?page_size=2", headers=keys["miner"]).json
    third = client.get("/api/v1/orders?page_size=2&page=3", headers=keys["miner"]).json
    assert (first["total"], first["page"], first["page_size"], len(first["items"])) == (5, 1, 2, 2)
    assert len(third["items"]) == 1 and {o["id"] for o in first["items"] + third["items"]} < set(ids)
    later = runtime.clock.now().isoformat()
    assert client.get("/api/v1/orders", query_string={"start": later}, headers=keys["miner"]).json["total"] == 5
    assert client.get("/api/v1/orders", query_string={"end": "2020-01-01T00:00:00Z"},
                      headers=keys["miner"]).json["total"] == 0
    assert client.get("/api/v1/orders?instrument=HP-2027-01", headers=keys["miner"]).json["total"] == 0

    client.post("/api/v1/orders", json=order("sell", quantity=1, price=49004), headers=keys["trader"])
    trades = client.get("/api/v1/trades", headers=keys["trader"]).json
    assert (trades["total"], trades["page"]) == (1, 1)
    assert client.get("/api/v1/trades", query_string={"end": "2020-01-01T00:00:00Z"},
                      headers=keys["trader"]).json["items"] == []
    assert client.get("/api/v1/trades", query_string={"start": later, "instrument": SYMBOL},
                      headers=keys["trader"]).json["total"] == 1
    positions = client.get(f"/api/v1/positions?instrument={SYMBOL}", headers=keys["trader"]).json
    assert [(p["instrument"], p["quantity"]) for p in positions["items"]] == [(SYMBOL, -1)]
    assert client.get("/api/v1/positions?instrument=HP-2027-01", headers=keys["trader"]).json["items"] == []
    for path in ("/api/v1/orders", "/api/v1/trades", "/api/v1/positions"):
        refused = client.get(f"{path}?page_size=1001", headers=keys["miner"])
        assert refused.status_code == 400 and "page_size" in refused.json["error"]["fields"]
        assert client.get(f"{path}?limit=5", headers=keys["miner"]).status_code == 400  # one convention only
    backwards = client.get("/api/v1/trades?start=2026-12-02T00:00:00Z&end=2026-12-01T00:00:00Z", headers=keys["miner"])
    assert backwards.status_code == 400 and "start" in backwards.json["error"]["fields"]


def test_cancel_all_cancels_every_resting_order_of_the_key_only(api, runtime):
    client, keys = api
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2027, 1), runtime.clock.now())
        uow.marks.add("HP-2027-01", runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    mine = [client.post("/api/v1/orders", json=order("buy", quantity=1, price=48000 + n), headers=keys["miner"]).json
            for n in range(2)]
    mine.append(client.post("/api/v1/orders", json={**order("sell", quantity=1, price=52000), "instrument": "HP-2027-01"},
                            headers=keys["miner"]).json)
    theirs = client.post("/api/v1/orders", json=order("buy", quantity=1, price=47000), headers=keys["trader"]).json

    only_january = client.delete("/api/v1/orders?instrument=HP-2027-01", headers=keys["miner"])
    assert only_january.status_code == 200 and [o["id"] for o in only_january.json["items"]] == [mine[2]["id"]]
    everything = client.delete("/api/v1/orders", headers=keys["miner"]).json
    assert sorted(o["id"] for o in everything["items"]) == sorted(o["id"] for o in mine[:2])
    assert everything["total"] == 2 and all(o["status"] == "cancelled" and o["cancel_reason"] == "user"
                                            for o in everything["items"])
    assert client.delete("/api/v1/orders", headers=keys["miner"]).json == {"items": [], "total": 0}
    assert client.get(f"/api/v1/orders/{theirs['id']}", headers=keys["trader"]).json["status"] == "open"
    assert client.get(f"/api/v1/instruments/{SYMBOL}/book").json["bids"] == [{"price": "47000", "quantity": 1}]
    unknown = client.delete("/api/v1/orders?instrument=HP-1999-01", headers=keys["miner"])
    assert unknown.status_code == 404


@pytest.mark.parametrize("price, accepted", [("50000", True), ("50000.0", True), (50000, True),
                                             ("5e4", False), (" 50000", False), ("-1", False), (True, False)])
def test_a_price_is_a_decimal_string_and_a_plain_number_is_accepted_too(api, price, accepted):
    client, keys = api
    response = client.post("/api/v1/orders", json=order("buy", price=price), headers=keys["miner"])
    assert response.status_code == (201 if accepted else 400), response.json
    if accepted:
        assert response.json["price"] == "50000"
    else:
        assert "price" in response.json["error"]["fields"]


@pytest.mark.parametrize("price", [39999, 60001, 20000])
def test_a_limit_price_outside_the_band_around_the_mark_is_a_422_naming_the_allowed_range(api, price):
    client, keys = api  # marked at 50,000: 20% either side
    refused = client.post("/api/v1/orders", json=order("buy", price=price), headers=keys["miner"])
    assert refused.status_code == 422 and refused.json["error"]["code"] == "order_rejected"
    [message] = refused.json["error"]["fields"]["price"]
    assert "40000 to 60000" in message and "20% around the mark 50000" in message
    assert client.get(f"/api/v1/instruments/{SYMBOL}/book").json["bids"] == []
    bid = place(client, keys["miner"], order("buy", price=40000))
    assert amend(client, keys["miner"], bid["id"], price=price).status_code == 422

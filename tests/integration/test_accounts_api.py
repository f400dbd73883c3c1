"""The account API over a real database: API-key auth, balances and margin, statements,
withdrawals with idempotency keys, and bad input answered with 4xx field details."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hashedge.services import accounts, ledger
from hashedge.web import create_app


@pytest.fixture
def client(runtime):
    return create_app(runtime).test_client()


@pytest.fixture
def alice(runtime):
    """An account with 100,000 sats, and its API key."""
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "alice")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000, "funding")
    runtime.clock.advance(timedelta(minutes=1))
    return account, {"Authorization": f"Bearer {key}"}


def error_of(response) -> dict:
    assert response.is_json, response.data[:200]
    return response.get_json()["error"]


def withdraw(client, auth, body, key: str | None = "w-1"):
    headers = dict(auth, **({"Idempotency-Key": key} if key is not None else {}))
    return client.post("/api/v1/withdrawals", json=body, headers=headers)


@pytest.mark.parametrize("path", ["/api/v1/account", "/api/v1/statements"])
@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz",
                                           "Bearer he_000000000000_" + "A" * 43])
def test_without_a_valid_key_every_account_endpoint_is_a_401(client, alice, path, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_key_is_a_401(runtime, client, alice):
    _account, auth = alice
    prefix = auth["Authorization"].split("_")[1]
    accounts.revoke_api_key(runtime.uow(), runtime.clock, prefix)
    assert client.get("/api/v1/account", headers=auth).status_code == 401


def test_a_key_revoked_after_use_is_a_401_at_once(runtime, client, alice):
    _account, auth = alice
    assert client.get("/api/v1/account", headers=auth).status_code == 200  # verified and remembered
    accounts.revoke_api_key(runtime.uow(), runtime.clock, auth["Authorization"].split("_")[1])
    assert client.get("/api/v1/account", headers=auth).status_code == 401


def test_a_bad_withdrawal_without_a_key_is_a_401_before_anything_else(client):
    response = client.post("/api/v1/withdrawals", json={"amount_sats": -1})
    assert response.status_code == 401


def test_the_account_shows_balances_equity_and_margin(client, alice):
    account, auth = alice
    response = client.get("/api/v1/account", headers=auth)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": account.id, "name": "alice", "balances": {"collateral_sats": 100_000},
        "equity_sats": 100_000, "unrealized_pnl_sats": 0, "initial_margin_sats": 0,
        "maintenance_margin_sats": 0, "free_collateral_sats": 100_000, "status": "healthy",
    }


def test_a_key_only_ever_sees_its_own_account(runtime, client, alice):
    bob, bob_key = accounts.create_account(runtime.uow(), runtime.clock, "bob")
    ledger.deposit(runtime.uow(), runtime.clock, bob.id, 7, "bob-funding")
    bob_auth = {"Authorization": f"Bearer {bob_key}"}
    assert client.get("/api/v1/account", headers=bob_auth).get_json()["balances"] == {"collateral_sats": 7}
    statement = client.get("/api/v1/statements", headers=bob_auth).get_json()
    assert [item["amount_sats"] for item in statement["items"]] == [7]


def test_a_withdrawal_is_posted_and_a_retry_gets_the_same_answer(client, alice):
    _account, auth = alice
    first = withdraw(client, auth, {"amount_sats": 30_000})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    body = first.get_json()
    assert (body["kind"], body["amount_sats"], body["idempotency_key"]) == ("withdrawal", 30_000, "w-1")
    retry = withdraw(client, auth, {"amount_sats": 30_000})
    assert retry.status_code == 201 and retry.get_json() == body
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/v1/account", headers=auth).get_json()["balances"]["collateral_sats"] == 70_000


def test_the_same_key_with_another_amount_is_a_409(client, alice):
    _account, auth = alice
    withdraw(client, auth, {"amount_sats": 30_000})
    response = withdraw(client, auth, {"amount_sats": 31_000})
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "idempotency_key_reused" and "'w-1'" in error["message"]


def test_a_withdrawal_above_free_collateral_is_a_422_with_the_shortfall(client, alice):
    _account, auth = alice
    response = withdraw(client, auth, {"amount_sats": 100_001})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "insufficient_collateral"
    assert "exceeds free collateral of 100000 sats by 1 sats" in error["message"]
    assert error["fields"] == {"amount_sats": [error["message"]]}


def test_state_changing_calls_need_an_idempotency_key(client, alice):
    _account, auth = alice
    response = withdraw(client, auth, {"amount_sats": 1}, key=None)
    assert response.status_code == 400
    assert "Idempotency-Key" in error_of(response)["fields"]
    too_long = withdraw(client, auth, {"amount_sats": 1}, key="k" * 101)
    assert too_long.status_code == 400 and "Idempotency-Key" in error_of(too_long)["fields"]


@pytest.mark.parametrize("body", [
    {"amount_sats": 0}, {"amount_sats": -5}, {"amount_sats": 10**30}, {"amount_sats": 1.5},
    {"amount_sats": "100"}, {"amount_sats": True}, {"amount_sats": None}, {}, {"amount_sats": 5, "extra": 1},
    [5], "5",
])
def test_bad_amounts_are_a_400_with_field_details_never_a_500(client, alice, body):
    _account, auth = alice
    response = withdraw(client, auth, body)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_input" and error["fields"]


def test_a_body_that_is_not_json_is_a_400(client, alice):
    _account, auth = alice
    response = client.post("/api/v1/withdrawals", data="{not json", content_type="application/json",
                           headers=dict(auth, **{"Idempotency-Key": "x"}))
    assert response.status_code == 400 and error_of(response)


def test_statements_have_running_balances_and_pages(runtime, client, alice):
    account, auth = alice
    for n in range(3):
        withdraw(client, auth, {"amount_sats": 1_000}, key=f"w-{n}")
        runtime.clock.advance(timedelta(minutes=1))
    first = client.get("/api/v1/statements?page_size=2", headers=auth).get_json()
    second = client.get("/api/v1/statements?page_size=2&page=2", headers=auth).get_json()
    assert first["total"] == second["total"] == 4 and first["account_id"] == account.id
    assert [i["balance_after_sats"] for i in first["items"] + second["items"]] == [100_000, 99_000, 98_000, 97_000]
    assert (first["opening_balance_sats"], second["opening_balance_sats"]) == (0, 99_000)
    assert [i["kind"] for i in first["items"]] == ["deposit", "withdrawal"]


def test_statements_filter_by_time(runtime, client, alice):
    _account, auth = alice
    withdraw(client, auth, {"amount_sats": 1_000})
    since = runtime.clock.now().isoformat()
    page = client.get("/api/v1/statements", query_string={"start": since}, headers=auth).get_json()
    assert [i["amount_sats"] for i in page["items"]] == [-1_000]
    assert (page["opening_balance_sats"], page["closing_balance_sats"]) == (100_000, 99_000)


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=99999999999999999999", "page"), ("page_size=1001", "page_size"),
    ("start=yesterday", "start"),
    ("start=2026-01-01T00:00:00", "start"), ("colour=blue", "colour"),
])
def test_bad_statement_parameters_are_a_400_with_field_messages(client, alice, query, field):
    _account, auth = alice
    response = client.get(f"/api/v1/statements?{query}", headers=auth)
    assert response.status_code == 400 and field in error_of(response)["fields"]


def test_the_openapi_document_describes_the_account_endpoints_and_bearer_auth(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "an API key from `hashedge account create`"}
    for path, method in (("/api/v1/account", "get"), ("/api/v1/statements", "get"), ("/api/v1/withdrawals", "post")):
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}] and "401" in operation["responses"]
    withdrawal = spec["paths"]["/api/v1/withdrawals"]["post"]
    [header] = [p for p in withdrawal["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key" and header["required"] is True
    amount = spec["components"]["schemas"]["WithdrawalRequest"]["properties"]["amount_sats"]
    assert amount["minimum"] == 1 and amount["type"] == "integer"

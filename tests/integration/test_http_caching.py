"""HTTP caching on SQLite and PostgreSQL: public market data carries a short max-age (the book:
revalidate every time) and an ETag that revalidates to a 304; authenticated answers and errors are
never stored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger
from hashedge.web import create_app

SYMBOL = "HP-2026-12"


@pytest.fixture
def market(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    keys = {}
    for name in ("maker", "taker"):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**10, f"seed-{name}")
        keys[name] = {"Authorization": f"Bearer {key}"}
    return create_app(runtime).test_client(), keys


def test_public_market_data_is_cacheable_and_revalidates_to_a_304(runtime, market):
    client, _ = market
    for path, control in [("/api/v1/indices", "public, max-age=10"), ("/api/v1/instruments", "public, max-age=5"),
                          (f"/api/v1/instruments/{SYMBOL}/book", "public, no-cache")]:
        first = client.get(path)
        assert first.status_code == 200 and first.headers["Cache-Control"] == control and first.headers["ETag"]
        again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_a_changed_book_answers_in_full_to_its_old_etag(runtime, market):
    client, keys = market
    path = f"/api/v1/instruments/{SYMBOL}/book"
    before = client.get(path)
    placed = client.post("/api/v1/orders", headers=keys["maker"], json={
        "instrument": SYMBOL, "side": "buy", "type": "limit", "quantity": 2, "price": 49000})
    assert placed.status_code == 201 and placed.headers["Cache-Control"] == "no-store"
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.json["bids"] == [{"price": "49000", "quantity": 2}]
    assert after.headers["ETag"] != before.headers["ETag"]


@pytest.mark.parametrize("path", ["/api/v1/account", "/api/v1/positions", "/api/v1/orders", "/api/v1/trades",
                                  "/api/v1/statements"])
def test_authenticated_answers_and_errors_are_never_stored(runtime, market, path):
    client, keys = market
    answer = client.get(path, headers=keys["taker"])
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert "ETag" not in answer.headers
    refused = client.get(path)
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"
    unknown = client.get("/api/v1/indices/NOPE")
    assert unknown.status_code == 404 and unknown.headers["Cache-Control"] == "no-store"

"""The issue's end-to-end scenario through the API (SQLite and PostgreSQL): a trader is liquidated;
one contract goes to the book, some to a third party's backstop offer, the rest to the pool; the
next night the backstopper and the pool receive their penalty shares; an LP's withdrawal, asked
before, waits its delay and pays at the NAV of the night it executes. The sweep and the nightly
settlement run as their jobs run them (``services.liquidation.sweep``, ``run_due_settlements``)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger, liquidation
from hashedge.services.settlement import run_due_settlements
from hashedge.web import create_app

SYMBOL = "HP-2026-12"


def test_a_liquidation_through_book_offer_and_pool_then_penalty_shares_and_a_delayed_withdrawal(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    client, keys, ids = create_app(runtime).test_client(), {}, {}
    for name, sats in (("trader", 2_400_000), ("short", 100_000_000), ("maker", 100_000_000),
                       ("backstopper", 100_000_000), ("lp", 300_000_000)):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        keys[name], ids[name] = {"Authorization": f"Bearer {key}"}, str(account.id)

    def call(method: str, path: str, who: str | None = None, body=None, key: str | None = None, status=200):
        headers = dict(keys[who]) if who else {}
        if key:
            headers["Idempotency-Key"] = key
        answer = client.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == status, (path, answer.status_code, answer.get_json())
        return answer.get_json()

    def order(who: str, side: str, quantity: int, price: int):
        return call("POST", "/api/v1/orders", who, {"instrument": SYMBOL, "side": side, "type": "limit",
                                                    "quantity": quantity, "price": str(price)}, status=201)

    call("POST", "/api/v1/pool/deposits", "lp", {"amount_sats": 200_000_000}, key="lp-in", status=201)
    exit_request = call("POST", "/api/v1/pool/withdrawals", "lp", {"shares": 50_000_000}, key="lp-out", status=201)
    assert exit_request["status"] == "queued"
    order("short", "sell", 10, 50000)
    order("trader", "buy", 10, 50000)
    order("maker", "buy", 1, 46500)
    offer = call("POST", "/api/v1/backstop/offers", "backstopper",
                 {"instrument": SYMBOL, "side": "buy", "max_quantity": 2, "max_discount_bps": 100}, status=201)

    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:  # the market falls: the trader's equity drops below maintenance
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(46800), "model", Decimal(46800))
        uow.commit()
    liquidation.sweep(runtime.uow, runtime.clock)

    [record] = call("GET", "/api/v1/liquidations", "trader")["items"]
    by_stage: dict[str, int] = {}
    for fill in record["fills"]:
        by_stage[fill["stage"]] = by_stage.get(fill["stage"], 0) + fill["quantity"]
    assert by_stage["book"] == 1 and by_stage["backstop_offers"] == 2 and by_stage["backstop_pool"] > 0
    assert set(by_stage) <= {"book", "backstop_offers", "backstop_pool", "adl"}  # ADL beyond the pool's cap
    trades = call("GET", "/api/v1/trades", "backstopper")["items"]
    assert {(t["kind"], t["liquidity"], t["side"], t["fee_sats"]) for t in trades} == {("backstop", "taker", "buy", 0)}
    assert sum(t["quantity"] for t in trades) == 2
    [taken] = call("GET", "/api/v1/backstop/offers", "backstopper")["items"]
    assert (taken["id"], taken["filled_quantity"], taken["status"]) == (offer["id"], 2, "filled")
    public = call("GET", "/api/v1/pool")
    assert public["positions"][0]["quantity"] == by_stage["backstop_pool"]
    assert public["exposure_sats"] == by_stage["backstop_pool"] * 46800 * 31

    def night():  # the first settlement run after midnight, as the hourly job does it
        runtime.clock.set(datetime.combine(runtime.clock.now().date() + timedelta(days=1), time(0, 5),
                                           tzinfo=timezone.utc))
        run_due_settlements(runtime.uow, runtime.clock)

    night()
    lines = call("GET", "/api/v1/statements", "backstopper")["items"]
    shares_paid = [line["amount_sats"] for line in lines if line["kind"] == "penalty_distribution"]
    assert len(shares_paid) == 1 and shares_paid[0] > 0  # the takers' share, pro rata to its notional
    after_first_night = call("GET", "/api/v1/pool")
    assert after_first_night["penalties_earned_sats"] > 0
    assert Decimal(after_first_night["nav_per_share"]) > Decimal(public["nav_per_share"])
    assert [p["business_date"] for p in after_first_night["nav_history"]] == ["2026-11-01"]

    lp_before = call("GET", "/api/v1/account", "lp")["balances"]["collateral_sats"]
    for _ in range(5):  # the delay: nothing is paid before it has passed
        night()
        assert call("GET", "/api/v1/pool/shares", "lp")["queued_shares"] == 50_000_000
    due_night = call("GET", "/api/v1/pool")
    night()  # seven days after the request
    shares = call("GET", "/api/v1/pool/shares", "lp")
    assert (shares["shares"], shares["queued_shares"], shares["withdrawals"]) == (150_000_000, 0, [])
    paid = call("GET", "/api/v1/account", "lp")["balances"]["collateral_sats"] - lp_before
    assert paid == 50_000_000 * due_night["nav_sats"] // due_night["shares_outstanding"] > 50_000_000
    assert ledger.check_balances(runtime.uow()).ok

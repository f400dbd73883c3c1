"""A liquidation through the book, a third party's backstop offer and the backstop pool; the next
night the backstopper and the pool receive their penalty shares; an offer whose owner would breach
initial margin is skipped and recorded; the manipulation case (an account liquidated into the pool)
costs the pool at most its per-liquidation caps. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, backstop_offers, ledger, liquidation, liquidation_records, pool, trading
from hashedge.services.margin import risk_parameters
from hashedge.services.settlement import run_due_settlements

SYMBOL = "HP-2026-12"  # 31 PH-days a contract


def mark(runtime, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def order(runtime, account_id: int, side: str, quantity: int, price: int):
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                               order_type="limit", quantity=quantity, price=price)


def balances(runtime) -> dict:
    with runtime.uow() as uow:
        return {a.key: v for a, v in uow.ledger.balances().items()}


@pytest.fixture
def market(runtime):
    """A long of 10 contracts at 50,000 on 2,400,000 sats, a rich short, a maker, a backstopper
    and an LP whose 200,000,000 sats fund the pool."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50000)
    ids = {name: funded(runtime, name, sats) for name, sats in (
        ("long", 2_400_000), ("short", 100_000_000), ("maker", 100_000_000), ("backstopper", 100_000_000),
        ("lp", 300_000_000))}
    order(runtime, ids["short"], "sell", 10, 50000)
    order(runtime, ids["long"], "buy", 10, 50000)
    pool.deposit(runtime.uow(), runtime.clock, ids["lp"], 200_000_000, "lp-1")
    return ids


def test_book_then_offer_then_pool_and_the_penalty_shares_the_next_night(runtime, market):
    order(runtime, market["maker"], "buy", 1, 46500)  # the book takes one contract
    offer = backstop_offers.post_offer(runtime.uow(), runtime.clock, market["backstopper"], instrument=SYMBOL,
                                       side="buy", max_quantity=1, max_discount_bps=100)
    mark(runtime, 46800)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    outcome = result.outcome
    stages = [(f.stage, f.fill.quantity, f.fill.price, f.counterparty) for f in outcome.fills]
    pool_id = str(pool.overview(runtime.uow()).account_id)
    params = risk_parameters()
    assert stages[0] == ("book", 1, Decimal(46500), str(market["maker"]))
    assert stages[1] == ("backstop_offers", 1, Decimal(46332), str(market["backstopper"]))  # 46,800 less 1%
    pool_price = Decimal(46800) * (1 - params.pool_takeover_discount_ratio)
    taken = [s for s in stages if s[0] == "backstop_pool"]
    assert all(price == pool_price and who == pool_id for _, _, price, who in taken)
    # at most 1% of its NAV of 200,000,000 sats in one liquidation: one contract of 46,332 x 31
    assert sum(q for _, q, _, _ in taken) == int(params.pool_max_takeover_ratio * 200_000_000) // (46332 * 31) == 1
    assert [s[0] for s in stages[2:]] == ["backstop_pool"] * len(taken) + ["adl"] * (len(stages) - 2 - len(taken))
    assert [(f.offer_id, f.quantity) for f in outcome.offer_fills] == [(offer.id, 1)]
    with runtime.uow() as uow:
        stored = uow.backstop_offers.get(offer.id)
        net = uow.positions.net_quantity(SYMBOL)
        kinds = sorted({t.kind for t in uow.trades.of_account(market["long"], limit=50)})
    assert (stored.filled_quantity, stored.status) == (1, "filled")
    assert net == 0 and kinds == ["adl", "backstop", "book", "liquidation", "pool"]
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).ok
    assert ledger.check_balances(runtime.uow()).ok

    before = balances(runtime)
    runtime.clock.advance(timedelta(days=1))
    mark(runtime, 46800)
    run_due_settlements(runtime.uow, runtime.clock)
    after = balances(runtime)
    # the takers' 40% of the penalty, pro rata to the notional each took
    notional: dict[str, int] = {}
    for item in outcome.fills:
        notional[item.counterparty] = notional.get(item.counterparty, 0) + int(item.fill.price * item.fill.quantity * 31)
    assert {str(market["maker"]), str(market["backstopper"]), pool_id} <= set(notional)
    takers = outcome.penalty_sats * risk_parameters().penalty_split_takers
    for who, took in notional.items():
        share = int(takers * took / sum(notional.values()))
        assert after[f"collateral:{who}"] - before[f"collateral:{who}"] >= share - 1 > 0
    assert pool.overview(runtime.uow()).penalties_earned_sats > 0


def test_an_offer_that_would_breach_its_owners_initial_margin_is_skipped_and_recorded(runtime, market):
    poor = funded(runtime, "poor", 10_000)
    offer = backstop_offers.post_offer(runtime.uow(), runtime.clock, poor, instrument=SYMBOL, side="buy",
                                       max_quantity=5, max_discount_bps=100)
    mark(runtime, 46800)
    [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    assert result.outcome.offer_fills == ()
    assert {(s.offer_id, s.reason) for s in result.outcome.skipped_offers} == {(offer.id, "initial_margin")}
    assert "backstop_offers" not in {f.stage for f in result.outcome.fills}
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).ok
    record = liquidation_records.get_liquidation(runtime.uow(), result.liquidation_id)
    from hashedge.web.api.liquidation_schemas import LiquidationSchema, liquidation_view

    shown = LiquidationSchema().dump(liquidation_view(record))
    assert {(s["offer_id"], s["reason"]) for s in shown["skipped_offers"]} == {(offer.id, "initial_margin")}


def test_self_liquidation_into_the_pool_costs_it_at_most_its_caps(runtime, market):
    """The Hyperliquid case: a whale at initial margin, the mark pushed through its bankruptcy, no
    book, no offers, an empty insurance fund. The pool takes over at most max_takeover_ratio x NAV
    and pays at most max_loss_ratio x NAV of the shortfall; the rest goes to ADL."""
    params = risk_parameters()
    whale = funded(runtime, "whale", 60_000_000)
    order(runtime, market["short"], "sell", 200, 50000)
    order(runtime, whale, "buy", 200, 50000)
    free = accounts.account_summary(runtime.uow(), whale).free_collateral_sats
    ledger.withdraw(runtime.uow(), runtime.clock, whale, free, "whale-out")  # exactly at initial margin
    nav_before = pool.overview(runtime.uow()).nav_sats
    mark(runtime, 40000)  # far through its bankruptcy price
    results = liquidation.sweep(runtime.uow, runtime.clock).liquidations
    [result] = [r for r in results if r.account_id == whale]
    outcome = result.outcome
    taken = sum(Fraction(f.fill.price) * f.fill.quantity * 31 for f in outcome.fills if f.stage == "backstop_pool")
    assert taken <= params.pool_max_takeover_ratio * nav_before
    assert 0 < outcome.covered_by("backstop_pool") <= params.pool_max_loss_ratio * nav_before
    mark(runtime, 50000)  # the manipulated mark snaps back
    loss = nav_before - pool.overview(runtime.uow()).nav_sats
    bound = (params.pool_max_loss_ratio + params.pool_max_takeover_ratio) * nav_before
    assert loss <= bound, (loss, bound)
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).ok
    assert ledger.check_balances(runtime.uow()).ok


def test_offers_through_the_api_and_the_cli(runtime, market, database_url):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from hashedge.web import create_app

    account, key = accounts.create_account(runtime.uow(), runtime.clock, "taker")
    client = create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {key}"}
    body = {"instrument": SYMBOL, "side": "buy", "max_quantity": 5, "max_discount_bps": 150}
    posted = client.post("/api/v1/backstop/offers", json=body, headers=auth)
    assert posted.status_code == 201 and posted.get_json()["status"] == "active"
    offer_id = posted.get_json()["id"]
    bad = client.post("/api/v1/backstop/offers", json=body | {"side": "up", "max_quantity": 0}, headers=auth)
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {"side", "max_quantity"}
    unknown = client.post("/api/v1/backstop/offers", json=body | {"instrument": "HP-1999-01"}, headers=auth)
    assert unknown.status_code == 404
    assert [o["id"] for o in client.get("/api/v1/backstop/offers", headers=auth).get_json()["items"]] == [offer_id]
    other = backstop_offers.post_offer(runtime.uow(), runtime.clock, market["backstopper"], instrument=SYMBOL,
                                       side="sell", max_quantity=1, max_discount_bps=0)
    assert client.delete(f"/api/v1/backstop/offers/{other.id}", headers=auth).status_code == 404
    cancelled = client.delete(f"/api/v1/backstop/offers/{offer_id}", headers=auth)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"

    hashedge = str(Path(sys.executable).with_name("hashedge"))
    env = {"HASHEDGE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}

    def run(*args):
        return subprocess.run([hashedge, *args], capture_output=True, text=True, env=env, timeout=60)

    made = run("backstop", "offer", "taker", SYMBOL, "buy", "3", "200", "--json")
    assert made.returncode == 0, made.stderr
    made_id = json.loads(made.stdout)["id"]
    listed = json.loads(run("backstop", "list", "--json").stdout)
    assert {o["id"] for o in listed} == {made_id, other.id}
    assert run("backstop", "cancel", str(made_id)).stdout.strip() == f"offer {made_id} cancelled"
    refused = run("backstop", "offer", "taker", SYMBOL, "buy", "3", "99999")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")


def test_the_pool_unwinds_through_the_book_at_the_mark(runtime, market):
    from hashedge.domain.parameters import RiskParameters
    from hashedge.services import pool_unwind
    from hashedge.services.margin import parameters_in_force

    mark(runtime, 46800)
    with parameters_in_force(RiskParameters().with_changes({"pool.max_takeover_ratio": Decimal("0.05")})):
        [result] = liquidation.sweep(runtime.uow, runtime.clock).liquidations  # a pool that takes a few
    held = sum(f.fill.quantity for f in result.outcome.fills if f.stage == "backstop_pool")
    assert held > 0
    pool_id = pool.overview(runtime.uow()).account_id
    fraction = risk_parameters().pool_unwind_fraction
    first = pool_unwind.unwind(runtime.uow, runtime.clock)
    step = max(1, -(-held * fraction // 1))
    assert first.orders == [{"instrument": SYMBOL, "side": "sell", "quantity": int(step), "price": "46800",
                             "filled": 0}]  # nobody bids at the mark yet: it rests
    order(runtime, market["maker"], "buy", 50, 46800)  # a bid at the mark takes it
    with runtime.uow() as uow:
        assert uow.positions.of_account(pool_id)[0].quantity == held - step
    second = pool_unwind.unwind(runtime.uow, runtime.clock)  # the resting order was filled; a new one trades
    assert second.orders[0]["filled"] == second.orders[0]["quantity"]
    with runtime.uow() as uow:
        trades = uow.trades.of_account(pool_id, limit=50)
        assert uow.orders.resting_of(pool_id) == []
    assert sum(t.fill.quantity for t in trades if t.kind == "book") == 2 * step
    assert ledger.check_balances(runtime.uow()).ok

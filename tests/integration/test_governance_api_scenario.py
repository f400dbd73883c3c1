"""The issue's scenario through the API (SQLite and PostgreSQL): backstop-pool LPs propose raising
the liquidation penalty, vote with their shares at the snapshot, one LP who voted no ragequits
during the timelock (paid at the pool's NAV, without the withdrawal delay), the governance job
applies the change at the end of the timelock, and the next liquidation uses it: its record names
the new version and its penalty is the new ratio of the notional closed."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.jobs.scheduler import JobContext, governance_job, slot_of
from hashedge.services import accounts, ledger, liquidation
from hashedge.web import create_app

SYMBOL = "HP-2026-12"
MULTIPLIER = 31


def test_lps_raise_the_penalty_one_ragequits_and_the_next_liquidation_uses_the_new_version(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    client, keys, ids = create_app(runtime).test_client(), {}, {}
    for name, sats in (("lp_a", 100_000_000), ("lp_b", 100_000_000), ("lp_c", 100_000_000), ("late", 500_000_000),
                       ("trader", 2_400_000), ("short", 100_000_000), ("maker", 100_000_000)):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        keys[name], ids[name] = {"Authorization": f"Bearer {key}"}, account.id

    def call(method: str, path: str, who: str | None = None, body=None, key: str | None = None, status=200):
        headers = dict(keys[who]) if who else {}
        if key:
            headers["Idempotency-Key"] = key
        answer = client.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == status, (path, answer.status_code, answer.get_json())
        return answer.get_json()

    for name, sats in (("lp_a", 60_000_000), ("lp_b", 25_000_000), ("lp_c", 15_000_000)):
        call("POST", "/api/v1/pool/deposits", name, {"amount_sats": sats}, key=f"{name}-in", status=201)
    runtime.clock.advance(timedelta(minutes=1))

    # lp_a proposes; the snapshot is taken now: shares bought afterwards do not vote
    proposal = call("POST", "/api/v1/governance/proposals", "lp_a",
                    {"changes": {"liquidation.penalty_ratio": "0.02"},
                     "rationale": "the pool takes more risk than 1% pays for"}, status=201)
    assert (proposal["status"], proposal["snapshot_shares"]) == ("voting", 100_000_000)
    assert proposal["changes"] == {"liquidation.penalty_ratio": {"from": "0.01", "to": "0.02"}}
    runtime.clock.advance(timedelta(minutes=1))
    call("POST", "/api/v1/pool/deposits", "late", {"amount_sats": 400_000_000}, key="late-in", status=201)
    refused = call("POST", f"/api/v1/governance/proposals/{proposal['id']}/votes", "late", {"choice": "no"},
                   status=409)
    assert "no pool shares at the snapshot" in refused["error"]["message"]
    voted = call("POST", f"/api/v1/governance/proposals/{proposal['id']}/votes", "lp_a", {"choice": "yes"},
                 status=201)
    voted = call("POST", f"/api/v1/governance/proposals/{proposal['id']}/votes", "lp_b", {"choice": "no"},
                 status=201)
    assert (voted["yes_weight"], voted["no_weight"]) == (60_000_000, 25_000_000)  # lp_c does not vote

    # the vote ends: passed (85% of the snapshot voted, 60/85 yes); the timelock opens ragequit
    runtime.clock.advance(timedelta(days=7))
    shown = call("GET", f"/api/v1/governance/proposals/{proposal['id']}")
    assert (shown["status"], shown["quorum_reached"], shown["support_reached"]) == ("timelock", True, True)
    assert governance_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 60)) == {"closed": []}
    call("POST", f"/api/v1/governance/proposals/{proposal['id']}/ragequit", "lp_a", status=409)  # voted yes
    pool = call("GET", "/api/v1/pool")
    before = call("GET", "/api/v1/account", "lp_b")["balances"]["collateral_sats"]
    quit_ = call("POST", f"/api/v1/governance/proposals/{proposal['id']}/ragequit", "lp_b", status=201)
    nav_payout = 25_000_000 * pool["nav_sats"] // pool["shares_outstanding"]
    assert (quit_["shares"], quit_["amount_sats"]) == (25_000_000, nav_payout)
    assert call("GET", "/api/v1/account", "lp_b")["balances"]["collateral_sats"] - before == nav_payout
    assert call("GET", "/api/v1/pool/shares", "lp_b")["shares"] == 0  # no withdrawal delay
    call("POST", f"/api/v1/governance/proposals/{proposal['id']}/ragequit", "lp_b", status=409)  # once

    # the end of the timelock: the governance job applies it, once
    runtime.clock.advance(timedelta(days=2))
    job = governance_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 60))
    [closed] = job["closed"]
    assert closed["status"] == "executed"
    registry = call("GET", "/api/v1/governance/parameters")
    assert registry["version"]["id"] == closed["version_id"] and registry["version"]["proposal_id"] == proposal["id"]
    assert {p["name"]: p["value"] for p in registry["parameters"]}["liquidation.penalty_ratio"] == "0.02"
    runtime.clock.advance(timedelta(minutes=1))
    assert governance_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 60)) == {"closed": []}

    # the next liquidation uses the new penalty, and its record says which version
    order = {"instrument": SYMBOL, "type": "limit"}
    call("POST", "/api/v1/orders", "short", {**order, "side": "sell", "quantity": 10, "price": "50000"}, status=201)
    call("POST", "/api/v1/orders", "trader", {**order, "side": "buy", "quantity": 10, "price": "50000"}, status=201)
    call("POST", "/api/v1/orders", "maker", {**order, "side": "buy", "quantity": 2, "price": "46500"}, status=201)
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(46800), "model", Decimal(46800))
        uow.commit()
    liquidation.sweep(runtime.uow, runtime.clock)
    [record] = call("GET", "/api/v1/liquidations", "trader")["items"]
    assert record["parameters_version"] == closed["version_id"]
    notional = sum(Decimal(f["price"]) * f["quantity"] * MULTIPLIER for f in record["fills"])
    assert record["penalty_sats"] == math.ceil(notional * Decimal("0.02")) > 0
    assert ledger.check_balances(runtime.uow()).ok

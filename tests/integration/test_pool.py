"""The backstop pool's shares: deposits mint at the NAV, withdrawals wait the governed delay and
pay at the NAV when they execute (or at once for governance's ragequit), both rounding against
the LP; the share record answers as of any past instant. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from hashedge.domain import ledger as journal
from hashedge.errors import IdempotencyKeyReused, InsufficientCollateral, InvalidInput
from hashedge.services import accounts, ledger, pool
from hashedge.services.margin import risk_parameters


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def gain(runtime, sats: int, key: str) -> None:
    """The pool earns ``sats`` (as a penalty share would arrive): NAV moves, shares do not."""
    with runtime.uow() as uow:
        pool_id = uow.pool.account_id()
        ledger.post(uow, journal.transfer(journal.INSURANCE_FUND, journal.collateral(str(pool_id)), sats,
                                          idempotency_key=key, occurred_at=runtime.clock.now()), runtime.clock.now())
        uow.commit()


def balances(runtime) -> dict:
    with runtime.uow() as uow:
        return {a.key: v for a, v in uow.ledger.balances().items()}


def test_deposits_mint_at_the_nav_and_withdrawals_pay_at_the_nav_after_the_delay(runtime):
    alice, bob = funded(runtime, "alice", 1_000_000), funded(runtime, "bob", 1_000_000)
    first = pool.deposit(runtime.uow(), runtime.clock, alice, 300_000, "d1")
    assert (first.shares, first.nav_sats, first.shares_outstanding) == (300_000, 0, 0)  # 1 share per sat to start
    with runtime.uow() as uow:  # the insurance fund lends the pool a gain of 100,000 sats for the test
        ledger.post(uow, journal.contribution(journal.INSURANCE_FUND, 100_000, idempotency_key="fund",
                                              occurred_at=runtime.clock.now()), runtime.clock.now())
        uow.commit()
    gain(runtime, 100_000, "gain-1")  # NAV 400,000 for 300,000 shares
    second = pool.deposit(runtime.uow(), runtime.clock, bob, 100_001, "d1")
    assert second.shares == 100_001 * 300_000 // 400_000 == 75_000  # rounded down: 1 sat stays in the pool
    view = pool.overview(runtime.uow())
    assert (view.nav_sats, view.shares_outstanding) == (500_001, 375_000)
    assert view.nav_per_share >= Fraction(400_000, 300_000)  # never fell because bob came

    request, replayed = pool.request_withdrawal(runtime.uow(), runtime.clock, alice, 150_000, "w1")
    assert not replayed and request.executes_at == runtime.clock.now() + timedelta(
        days=int(risk_parameters().pool_withdrawal_delay_days))
    again, replayed = pool.request_withdrawal(runtime.uow(), runtime.clock, alice, 150_000, "w1")
    assert replayed and again.id == request.id
    with pytest.raises(IdempotencyKeyReused):
        pool.request_withdrawal(runtime.uow(), runtime.clock, alice, 1, "w1")
    with pytest.raises(InvalidInput, match="150000 shares free"):
        pool.request_withdrawal(runtime.uow(), runtime.clock, alice, 150_001, "w2")
    assert pool.execute_due_withdrawals(runtime.uow(), runtime.clock) == []  # not due yet
    shares = pool.lp_shares(runtime.uow(), alice)
    assert (shares.shares, shares.queued_shares) == (300_000, 150_000)  # still owned, still at risk

    runtime.clock.advance(timedelta(days=7))
    gain(runtime, 75_000, "gain-2")  # the queued shares share the gain: NAV 575,001
    [paid] = pool.execute_due_withdrawals(runtime.uow(), runtime.clock)
    assert paid.amount_sats == 150_000 * 575_001 // 375_000 == 230_000
    after = balances(runtime)
    assert after[f"collateral:{alice}"] == 1_000_000 - 300_000 + 230_000
    assert after[f"collateral:{view.account_id}"] == 575_001 - 230_000
    assert pool.lp_shares(runtime.uow(), alice).shares == 150_000
    assert pool.withdrawal_queue(runtime.uow()) == []
    assert ledger.check_balances(runtime.uow()).ok


def test_deposits_are_idempotent_and_need_free_collateral(runtime):
    alice = funded(runtime, "alice", 100_000)
    first = pool.deposit(runtime.uow(), runtime.clock, alice, 40_000, "k")
    again = pool.deposit(runtime.uow(), runtime.clock, alice, 40_000, "k")
    assert again.replayed and again.shares == first.shares
    with pytest.raises(IdempotencyKeyReused):
        pool.deposit(runtime.uow(), runtime.clock, alice, 40_001, "k")
    with pytest.raises(InsufficientCollateral):
        pool.deposit(runtime.uow(), runtime.clock, alice, 60_001, "k2")
    with pytest.raises(InvalidInput):
        pool.deposit(runtime.uow(), runtime.clock, alice, 0, "k3")
    with pytest.raises(InvalidInput):
        pool.request_withdrawal(runtime.uow(), runtime.clock, alice, True, "k4")
    assert balances(runtime)[f"collateral:{alice}"] == 60_000
    assert pool.overview(runtime.uow()).shares_outstanding == 40_000


def test_shares_as_of_an_instant_and_the_immediate_withdrawal(runtime):
    alice, bob = funded(runtime, "alice", 100_000), funded(runtime, "bob", 100_000)
    pool.deposit(runtime.uow(), runtime.clock, alice, 50_000, "a")
    snapshot = runtime.clock.now()
    runtime.clock.advance(timedelta(hours=1))
    pool.deposit(runtime.uow(), runtime.clock, bob, 20_000, "b")
    paid = pool.execute_withdrawal_now(runtime.uow(), runtime.clock, alice, 10_000, "rq")
    assert paid.amount_sats == 10_000
    replay = pool.execute_withdrawal_now(runtime.uow(), runtime.clock, alice, 10_000, "rq")
    assert replay.replayed and replay.amount_sats == 10_000
    assert pool.shares_as_of(runtime.uow(), snapshot) == {alice: 50_000}
    assert pool.total_shares_as_of(runtime.uow(), snapshot) == 50_000
    assert pool.shares_as_of(runtime.uow(), runtime.clock.now()) == {alice: 40_000, bob: 20_000}
    assert pool.total_shares_as_of(runtime.uow(), runtime.clock.now()) == 60_000
    with runtime.uow() as uow:
        kinds = [e.kind for e in reversed(uow.pool.events())]
        ids = [e.id for e in reversed(uow.pool.events())]
    assert kinds == ["mint", "mint", "withdrawal_requested", "burn"] and ids == sorted(ids)
    with pytest.raises(InvalidInput):
        pool.execute_withdrawal_now(runtime.uow(), runtime.clock, bob, 20_001, "too-many")


def test_the_nav_of_a_date_is_recorded_once(runtime):
    from datetime import date

    assert pool.record_nav(runtime.uow(), runtime.clock, date(2026, 11, 1)) is None  # no pool yet
    alice = funded(runtime, "alice", 100_000)
    pool.deposit(runtime.uow(), runtime.clock, alice, 50_000, "a")
    pool.record_nav(runtime.uow(), runtime.clock, date(2026, 11, 1))
    pool.deposit(runtime.uow(), runtime.clock, alice, 10_000, "b")
    pool.record_nav(runtime.uow(), runtime.clock, date(2026, 11, 1))  # already recorded: unchanged
    [point] = pool.overview(runtime.uow()).history
    assert (point.nav_sats, point.shares_outstanding) == (50_000, 50_000)
    assert Decimal(1) == Decimal(point.nav_sats) / point.shares_outstanding


def test_the_api_and_the_cli(runtime, database_url):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from hashedge.web import create_app

    account, key = accounts.create_account(runtime.uow(), runtime.clock, "lp")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 1_000_000, "seed")
    client = create_app(runtime).test_client()
    auth = {"Authorization": f"Bearer {key}", "Idempotency-Key": "first"}
    answer = client.post("/api/v1/pool/deposits", json={"amount_sats": 400_000}, headers=auth)
    assert answer.status_code == 201 and answer.get_json()["shares"] == 400_000
    again = client.post("/api/v1/pool/deposits", json={"amount_sats": 400_000}, headers=auth)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert client.post("/api/v1/pool/deposits", json={"amount_sats": 400_001}, headers=auth).status_code == 409
    bad = client.post("/api/v1/pool/deposits", json={"amount_sats": "1"}, headers=auth | {"Idempotency-Key": "x"})
    assert bad.status_code == 400 and "amount_sats" in bad.get_json()["error"]["fields"]
    queued = client.post("/api/v1/pool/withdrawals", json={"shares": 100_000}, headers=auth | {"Idempotency-Key": "w"})
    assert queued.status_code == 201 and queued.get_json()["executes_at"] == (
        runtime.clock.now() + timedelta(days=7)).isoformat()
    too_many = client.post("/api/v1/pool/withdrawals", json={"shares": 300_001},
                           headers=auth | {"Idempotency-Key": "w2"})
    assert too_many.status_code == 400 and "shares" in too_many.get_json()["error"]["fields"]
    shares = client.get("/api/v1/pool/shares", headers=auth).get_json()
    assert (shares["shares"], shares["queued_shares"], shares["value_sats"]) == (400_000, 100_000, 400_000)
    assert client.get("/api/v1/pool/shares").status_code == 401
    public = client.get("/api/v1/pool").get_json()
    assert (public["nav_sats"], public["nav_per_share"], public["shares_outstanding"]) == (
        400_000, "1.000000000000", 400_000)

    hashedge = str(Path(sys.executable).with_name("hashedge"))
    env = {"HASHEDGE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}

    def run(*args):
        return subprocess.run([hashedge, *args], capture_output=True, text=True, env=env, timeout=60)

    shown = run("pool", "show", "--json")
    assert shown.returncode == 0, shown.stderr
    assert {k: json.loads(shown.stdout)[k] for k in ("nav_sats", "nav_per_share", "shares_outstanding")} == {
        "nav_sats": 400_000, "nav_per_share": "1.000000000000", "shares_outstanding": 400_000}
    deposited = run("pool", "deposit", "lp", "100000", "--json", "--idempotency-key", "cli-1")
    assert deposited.returncode == 0 and json.loads(deposited.stdout)["shares"] == 100_000
    withdrawn = run("pool", "withdraw", "lp", "5", "--json")
    assert withdrawn.returncode == 0 and json.loads(withdrawn.stdout)["status"] == "queued"
    listed = run("pool", "queue")
    assert listed.returncode == 0 and len(listed.stdout.strip().splitlines()) == 2
    refused = run("pool", "withdraw", "lp", "10000000")
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and "Traceback" not in refused.stderr


def test_two_first_deposits_at_once_create_one_pool(runtime):
    import threading

    ids = [funded(runtime, f"lp-{n}", 100_000) for n in range(2)]
    start, errors = threading.Barrier(2), []

    def deposit(account_id: int) -> None:
        try:
            start.wait(timeout=30)
            pool.deposit(runtime.uow(), runtime.clock, account_id, 10_000, "first")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deposit, args=(a,)) for a in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert pool.shares_as_of(runtime.uow(), runtime.clock.now()) == {ids[0]: 10_000, ids[1]: 10_000}
    with runtime.uow() as uow:
        assert sum(1 for name in uow.accounts.names().values() if name == pool.POOL_ACCOUNT_NAME) == 1


def test_the_pools_account_takes_no_key_and_no_withdrawal(runtime):
    from hashedge.errors import Forbidden

    alice = funded(runtime, "alice", 100_000)
    pool.deposit(runtime.uow(), runtime.clock, alice, 50_000, "a")
    pool_id = pool.overview(runtime.uow()).account_id
    with pytest.raises(Forbidden, match="backstop pool"):
        accounts.issue_api_key(runtime.uow(), runtime.clock, pool_id)
    with pytest.raises(Forbidden, match="backstop pool"):
        ledger.withdraw(runtime.uow(), runtime.clock, pool_id, 1_000, "drain")
    assert balances(runtime)[f"collateral:{pool_id}"] == 50_000

"""Governance on the real backstop pool's tables (SQLite and PostgreSQL): the snapshot is the
pool's shares at the proposal's creation (``pool_share_events`` up to that instant), later deposits
and withdrawals change no weight, and a ragequit pays the member's free shares at the pool's NAV at
once, through the pool's own immediate withdrawal, without the withdrawal delay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from hashedge.domain import ledger as journal
from hashedge.domain.instruments import hashprice_monthly
from hashedge.errors import Conflict
from hashedge.services import accounts, governance, ledger, pool

DAY = timedelta(days=1)


@pytest.fixture
def lps(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add("HP-2026-12", runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    ids = {}
    for name, sats in (("alice", 60_000_000), ("bob", 30_000_000), ("carol", 10_000_000)):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 200_000_000, f"seed-{name}")
        pool.deposit(runtime.uow(), runtime.clock, account.id, sats, f"in-{name}")
        ids[name] = account.id
    runtime.clock.advance(timedelta(minutes=1))
    return ids


def collateral(runtime, account_id: int) -> int:
    with runtime.uow() as uow:
        return uow.ledger.balances([journal.collateral(str(account_id))])[journal.collateral(str(account_id))]


def test_the_snapshot_is_the_pools_shares_at_creation(runtime, lps):
    backstop = governance.BackstopPool()
    proposal = governance.propose(runtime.uow(), runtime.clock, backstop, lps["alice"],
                                  {"liquidation.penalty_ratio": "0.02"}, "more for the pool")
    assert proposal.snapshot_shares == 100_000_000
    runtime.clock.advance(timedelta(minutes=1))
    pool.deposit(runtime.uow(), runtime.clock, lps["carol"], 150_000_000, "carol-more")  # after the snapshot
    pool.request_withdrawal(runtime.uow(), runtime.clock, lps["bob"], 30_000_000, "bob-out")
    shown = governance.cast_vote(runtime.uow(), runtime.clock, proposal.id, lps["carol"], "no")
    assert shown.no_weight == 10_000_000  # not 160,000,000
    shown = governance.cast_vote(runtime.uow(), runtime.clock, proposal.id, lps["bob"], "no")
    assert shown.no_weight == 40_000_000  # a queued withdrawal still votes its snapshot shares
    with runtime.uow() as uow:
        assert backstop.total_at(uow, proposal.snapshot_at) == 100_000_000
        assert backstop.shares_at(uow, proposal.snapshot_at) == {lps["alice"]: 60_000_000, lps["bob"]: 30_000_000,
                                                                 lps["carol"]: 10_000_000}


def test_a_ragequit_pays_the_free_shares_at_nav_at_once_and_only_once(runtime, lps):
    backstop = governance.BackstopPool()
    proposal = governance.propose(runtime.uow(), runtime.clock, backstop, lps["alice"],
                                  {"liquidation.penalty_ratio": "0.02"}, "more for the pool")
    governance.cast_vote(runtime.uow(), runtime.clock, proposal.id, lps["alice"], "yes")
    governance.cast_vote(runtime.uow(), runtime.clock, proposal.id, lps["bob"], "no")
    runtime.clock.advance(7 * DAY)
    with pytest.raises(Conflict, match="voted yes"):
        governance.ragequit(runtime.uow, runtime.clock, backstop, proposal.id, lps["alice"])
    value = pool.overview(runtime.uow())
    before = collateral(runtime, lps["bob"])
    quit_ = governance.ragequit(runtime.uow, runtime.clock, backstop, proposal.id, lps["bob"])
    assert quit_.shares == 30_000_000
    assert quit_.amount_sats == 30_000_000 * value.nav_sats // value.shares_outstanding
    assert collateral(runtime, lps["bob"]) - before == quit_.amount_sats
    assert pool.lp_shares(runtime.uow(), lps["bob"]).shares == 0
    with pytest.raises(Conflict, match="already"):
        governance.ragequit(runtime.uow, runtime.clock, backstop, proposal.id, lps["bob"])
    assert collateral(runtime, lps["bob"]) - before == quit_.amount_sats
    assert ledger.check_balances(runtime.uow()).ok

"""Governance through its services on SQLite and PostgreSQL: proposals refused outside the bounds
or below the threshold, weights from the snapshot (shares bought later do not vote), quorum and
support boundaries (exactly half fails), the timelock, ragequit only for those who did not vote
yes and only in the timelock, a single execution by the governance job, the new version in force
from then on, and the risk committee's emergency tightening.

The pool behind the votes is ``LedgerPool`` below, a hand-written fake of the ``PoolShares`` port:
share movements kept in memory with their times, a ragequit paid from the backstop pool's ledger
account at a fixed NAV per share. The real pool's shares are tested in test_governance_pool.py.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from hashedge.domain import ledger as journal
from hashedge.errors import Conflict, Forbidden, InvalidInput, NotFound
from hashedge.services import accounts, desk_actions, governance
from hashedge.services.audit import Actor
from hashedge.services.margin import parameter_version, risk_parameters

PENALTY = "liquidation.penalty_ratio"
DAY = timedelta(days=1)


class LedgerPool:
    """A fake of ``governance.PoolShares``: movements (time, account, shares) in memory."""

    def __init__(self, sats_per_share: int = 10):
        self.movements: list[tuple] = []
        self.sats_per_share = sats_per_share
        self.paid: dict[str, tuple[int, int]] = {}

    def mint(self, at, account_id: int, shares: int) -> None:
        self.movements.append((at, account_id, shares))

    def shares_at(self, uow, instant) -> dict[int, int]:
        held: dict[int, int] = {}
        for at, account, shares in self.movements:
            if at <= instant:
                held[account] = held.get(account, 0) + shares
        return held

    def total_at(self, uow, instant) -> int:
        return sum(self.shares_at(uow, instant).values())

    def execute_withdrawal_now(self, new_uow, clock, account_id, idempotency_key):
        key = f"{idempotency_key}:{account_id}"
        if key not in self.paid:
            shares = self.shares_at(None, clock.now()).get(account_id, 0)
            amount = shares * self.sats_per_share
            with new_uow() as uow:
                uow.ledger.append(journal.transfer(journal.BACKSTOP_POOL, journal.collateral(str(account_id)), amount,
                                                   idempotency_key=key, occurred_at=clock.now()), clock.now())
                uow.commit()
            self.mint(clock.now(), account_id, -shares)
            self.paid[key] = (shares, amount)
        return self.paid[key]


@pytest.fixture
def members(runtime):
    """Four accounts; shares 40/30/20/10 minted an hour before now."""
    pool = LedgerPool()
    ids = []
    for name, shares in (("alice", 40), ("bob", 30), ("carol", 20), ("dave", 10)):
        account, _key = accounts.create_account(runtime.uow(), runtime.clock, name)
        pool.mint(runtime.clock.now() - timedelta(hours=1), account.id, shares)
        ids.append(account.id)
    return pool, ids


def propose(runtime, pool, account_id, **changes):
    return governance.propose(runtime.uow(), runtime.clock, pool, account_id,
                              changes or {PENALTY: "0.02"}, "penalties too low for the risk taken")


def vote(runtime, proposal, account_id, choice):
    return governance.cast_vote(runtime.uow(), runtime.clock, proposal.id, account_id, choice)


def test_a_proposal_snapshots_the_weights_and_shows_its_timeline(runtime, members):
    pool, (alice, bob, carol, dave) = members
    proposal = propose(runtime, pool, alice)
    now = runtime.clock.now()
    assert proposal.status == "voting" and proposal.snapshot_shares == 100 and proposal.snapshot_at == now
    assert proposal.changes == {PENALTY: {"from": "0.01", "to": "0.02"}}
    assert proposal.voting_ends_at == now + 7 * DAY and proposal.executes_at == now + 9 * DAY
    assert (proposal.quorum_ratio, proposal.support_ratio) == ("0.5", "0.5")


def test_shares_bought_after_creation_do_not_vote(runtime, members):
    pool, (alice, bob, carol, dave) = members
    proposal = propose(runtime, pool, alice)
    runtime.clock.advance(timedelta(minutes=1))
    pool.mint(runtime.clock.now(), dave, 1000)  # a flash deposit after the snapshot (Beanstalk)
    outsider, _ = accounts.create_account(runtime.uow(), runtime.clock, "eve")
    pool.mint(runtime.clock.now(), outsider.id, 500)
    assert vote(runtime, proposal, dave, "yes").yes_weight == 10
    with pytest.raises(Conflict, match="no pool shares at the snapshot"):
        vote(runtime, proposal, outsider.id, "yes")


def test_a_vote_is_final_and_only_while_voting(runtime, members):
    pool, (alice, bob, carol, dave) = members
    proposal = propose(runtime, pool, alice)
    vote(runtime, proposal, bob, "no")
    with pytest.raises(Conflict, match="final"):
        vote(runtime, proposal, bob, "yes")
    with pytest.raises(InvalidInput, match="yes or no"):
        vote(runtime, proposal, carol, "maybe")
    runtime.clock.advance(7 * DAY)
    with pytest.raises(Conflict, match="voting ended"):
        vote(runtime, proposal, carol, "yes")
    with pytest.raises(NotFound):
        governance.cast_vote(runtime.uow(), runtime.clock, 999, carol, "yes")


def test_proposals_outside_the_bounds_or_step_limits_or_below_the_threshold_are_refused(runtime, members):
    pool, (alice, bob, carol, dave) = members
    with pytest.raises(InvalidInput, match="outside its bound"):
        propose(runtime, pool, alice, **{PENALTY: "0.06"})
    with pytest.raises(InvalidInput, match="margin_step_ratio"):
        propose(runtime, pool, alice, **{"margin.initial.diff_epoch": "0.2"})
    with pytest.raises(InvalidInput, match="not a governed parameter"):
        propose(runtime, pool, alice, **{"margin.initial.nope": "0.2"})
    with pytest.raises(InvalidInput, match="rationale"):
        governance.propose(runtime.uow(), runtime.clock, pool, alice, {PENALTY: "0.02"}, " ")
    nobody, _ = accounts.create_account(runtime.uow(), runtime.clock, "nobody")
    with pytest.raises(Forbidden, match="at least 0.01"):
        propose(runtime, pool, nobody.id)
    with pytest.raises(Forbidden, match="no shares"):
        propose(runtime, governance.NoPool(), alice)
    with runtime.uow() as uow:
        assert uow.proposals.count() == 0


@pytest.mark.parametrize("votes, status", [
    ({"alice": "yes", "dave": "yes"}, "timelock"),  # 50 cast of 100: quorum exactly half fails...
    ({"alice": "yes", "carol": "no"}, "timelock"),  # 60 cast > 50, 40 yes > 30
    ({"bob": "yes", "alice": "no"}, "failed"),  # 30 yes of 70 cast
    ({"alice": "yes", "bob": "no", "carol": "no"}, "failed"),
])
def test_the_outcome_needs_quorum_and_support_strictly_above_half(runtime, members, votes, status):
    pool, ids = members
    by_name = dict(zip(("alice", "bob", "carol", "dave"), ids))
    proposal = propose(runtime, pool, by_name["alice"])
    for name, choice in votes.items():
        vote(runtime, proposal, by_name[name], choice)
    runtime.clock.advance(7 * DAY)
    shown = governance.get_proposal(runtime.uow(), runtime.clock, proposal.id)
    expected = "failed" if sum({"alice": 40, "bob": 30, "carol": 20, "dave": 10}[n] for n in votes) <= 50 else status
    assert shown.status == expected


def test_exactly_half_of_the_votes_cast_fails(runtime, members):
    pool, (alice, bob, carol, dave) = members
    proposal = propose(runtime, pool, alice)
    for member, choice in ((bob, "yes"), (carol, "no"), (dave, "no")):  # 30 yes, 30 no, 60 cast
        vote(runtime, proposal, member, choice)
    runtime.clock.advance(7 * DAY)
    shown = governance.get_proposal(runtime.uow(), runtime.clock, proposal.id)
    assert (shown.quorum_reached, shown.support_reached, shown.status) == (True, False, "failed")


def passed_proposal(runtime, pool, alice, carol):
    proposal = propose(runtime, pool, alice)
    vote(runtime, proposal, alice, "yes")
    vote(runtime, proposal, carol, "yes")  # 60 of 100 cast, all yes
    runtime.clock.advance(7 * DAY)
    return proposal


def test_a_passed_proposal_executes_once_at_the_end_of_its_timelock(runtime, members):
    pool, (alice, bob, carol, dave) = members
    proposal = passed_proposal(runtime, pool, alice, carol)
    assert governance.execute_due(runtime.uow(), runtime.clock) == []  # in its timelock
    assert risk_parameters(runtime.uow()).liquidation_penalty_ratio == Decimal("0.01")
    runtime.clock.advance(2 * DAY - timedelta(seconds=1))
    assert governance.execute_due(runtime.uow(), runtime.clock) == []
    runtime.clock.advance(timedelta(seconds=1))
    [closed] = governance.execute_due(runtime.uow(), runtime.clock)
    assert closed.status == "executed" and closed.proposal_id == proposal.id
    assert governance.execute_due(runtime.uow(), runtime.clock) == []  # once
    version, params = parameter_version(runtime.uow())
    assert version.id == closed.version_id and version.proposal_id == proposal.id
    assert version.effective_at == runtime.clock.now() and version.source == "proposal"
    assert version.changes == {PENALTY: ("0.01", "0.02")} and params.liquidation_penalty_ratio == Decimal("0.02")
    shown = governance.get_proposal(runtime.uow(), runtime.clock, proposal.id)
    assert shown.status == "executed" and shown.executed_version_id == version.id
    with runtime.uow() as uow:  # a second execution would be refused by the database too
        assert uow.parameters.in_force(runtime.clock.now() - timedelta(seconds=1)).id == 1


def test_failed_and_expired_proposals_never_execute(runtime, members):
    pool, (alice, bob, carol, dave) = members
    failing = propose(runtime, pool, alice)
    vote(runtime, failing, bob, "no")
    vote(runtime, failing, carol, "no")
    late = propose(runtime, pool, bob, **{"fees.maker_bps": "1"})
    vote(runtime, late, alice, "yes")
    vote(runtime, late, carol, "yes")
    runtime.clock.advance(9 * DAY + 14 * DAY)  # nobody ran the job within the grace period
    closed = governance.execute_due(runtime.uow(), runtime.clock)
    assert {(c.proposal_id, c.status) for c in closed} == {(failing.id, "failed"), (late.id, "expired")}
    assert parameter_version(runtime.uow())[0].id == 1


def test_a_proposal_no_longer_valid_at_execution_is_refused_not_applied(runtime, members):
    pool, (alice, bob, carol, dave) = members
    first = propose(runtime, pool, alice, **{"fees.split.makers": "0.3", "fees.split.backstop_pool": "0.2"})
    second = propose(runtime, pool, bob, **{"fees.split.insurance_fund": "0.3", "fees.split.backstop_pool": "0.4"})
    for proposal in (first, second):
        vote(runtime, proposal, alice, "yes")
        vote(runtime, proposal, carol, "yes")
    runtime.clock.advance(9 * DAY)
    closed = {c.proposal_id: c for c in governance.execute_due(runtime.uow(), runtime.clock)}
    assert closed[first.id].status == "executed"
    assert closed[second.id].status == "failed" and "sum to 1" in closed[second.id].reason
    assert governance.get_proposal(runtime.uow(), runtime.clock, second.id).status == "failed"


def test_ragequit_pays_members_who_did_not_vote_yes_during_the_timelock_only(runtime, members):
    pool, (alice, bob, carol, dave) = members
    proposal = propose(runtime, pool, alice)
    vote(runtime, proposal, alice, "yes")
    vote(runtime, proposal, carol, "yes")
    vote(runtime, proposal, bob, "no")
    with pytest.raises(Conflict, match="only during"):  # still voting
        governance.ragequit(runtime.uow, runtime.clock, pool, proposal.id, bob)
    runtime.clock.advance(7 * DAY)
    quit_ = governance.ragequit(runtime.uow, runtime.clock, pool, proposal.id, bob)
    assert (quit_.shares, quit_.amount_sats) == (30, 300)
    assert governance.ragequit(runtime.uow, runtime.clock, pool, proposal.id, dave).shares == 10  # did not vote
    with pytest.raises(Conflict, match="voted yes"):
        governance.ragequit(runtime.uow, runtime.clock, pool, proposal.id, carol)
    with pytest.raises(Conflict, match="already"):
        governance.ragequit(runtime.uow, runtime.clock, pool, proposal.id, bob)
    with runtime.uow() as uow:
        assert uow.ledger.balances([journal.collateral(str(bob))])[journal.collateral(str(bob))] == 300
    shown = governance.get_proposal(runtime.uow(), runtime.clock, proposal.id)
    assert [(q.account_id, q.amount_sats) for q in shown.ragequits] == [(bob, 300), (dave, 100)]
    runtime.clock.advance(2 * DAY)
    with pytest.raises(Conflict, match="only during"):  # the timelock is over
        governance.ragequit(runtime.uow, runtime.clock, pool, proposal.id, alice)


def test_the_risk_committee_tightens_margins_at_once_and_nothing_else(runtime, members):
    pool, (alice, bob, carol, dave) = members
    initial = "margin.initial.diff_epoch"
    with pytest.raises(Forbidden, match="risk committee"):  # nobody is on it by default
        governance.emergency_tighten(runtime.uow(), runtime.clock, "rita", {initial: "0.2"}, "hashrate crash")
    proposal = propose(runtime, pool, alice, **{"governance.risk_committee": "rita"})
    vote(runtime, proposal, alice, "yes")
    vote(runtime, proposal, carol, "yes")
    runtime.clock.advance(9 * DAY)
    governance.execute_due(runtime.uow(), runtime.clock)
    version = desk_actions.emergency_tighten(runtime.session_factory, runtime.clock, Actor("rita", "risk"),
                                             {initial: "0.3"}, "hashrate crash")
    assert version.source == "emergency" and version.actor == "rita"  # no step limit: 0.13 -> 0.3 at once
    assert risk_parameters(runtime.uow()).ratios("diff_epoch").initial == Decimal("0.3")
    with pytest.raises(InvalidInput, match="loosening needs a vote"):
        governance.emergency_tighten(runtime.uow(), runtime.clock, "rita", {initial: "0.2"}, "calm again")
    with pytest.raises(InvalidInput, match="only margin ratios"):
        governance.emergency_tighten(runtime.uow(), runtime.clock, "rita", {PENALTY: "0.02"}, "why not")
    with pytest.raises(InvalidInput, match="outside its bound"):
        governance.emergency_tighten(runtime.uow(), runtime.clock, "rita", {initial: "1.5"}, "panic")
    with pytest.raises(Forbidden):
        governance.emergency_tighten(runtime.uow(), runtime.clock, "mallory", {initial: "0.4"}, "hashrate crash")
    with runtime.uow() as uow:
        [record] = uow.audit.page(action="governance.emergency_tighten", limit=10, offset=0)
    assert (record.actor, record.before, record.after) == ("rita", {initial: "0.13"}, {initial: "0.3"})
    assert record.details == {"changes": {initial: "0.3"}, "reason": "hashrate crash"}
    registry = governance.registry(runtime.uow())
    assert [v.source for v in registry.history] == ["emergency", "proposal", "defaults"]


class FailingOncePool(LedgerPool):
    """The pool's payment fails the first time (a crash between the recorded exit and the payment)."""

    def __init__(self):
        super().__init__()
        self.failures = 1

    def execute_withdrawal_now(self, new_uow, clock, account_id, idempotency_key):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the pool's transaction died")
        return super().execute_withdrawal_now(new_uow, clock, account_id, idempotency_key)


def test_a_ragequit_interrupted_before_the_payment_is_finished_by_asking_again_and_paid_once(runtime, members):
    pool, (alice, bob, carol, dave) = members
    flaky = FailingOncePool()
    flaky.movements = pool.movements
    proposal = passed_proposal(runtime, flaky, alice, carol)
    with pytest.raises(RuntimeError):
        governance.ragequit(runtime.uow, runtime.clock, flaky, proposal.id, bob)
    [pending] = governance.get_proposal(runtime.uow(), runtime.clock, proposal.id).ragequits
    assert (pending.account_id, pending.shares, pending.amount_sats) == (bob, None, None)
    runtime.clock.advance(2 * DAY)  # even after the timelock: the recorded exit is owed
    done = governance.ragequit(runtime.uow, runtime.clock, flaky, proposal.id, bob)
    assert (done.shares, done.amount_sats) == (30, 300)
    with pytest.raises(Conflict, match="already"):
        governance.ragequit(runtime.uow, runtime.clock, flaky, proposal.id, bob)
    with runtime.uow() as uow:
        assert uow.ledger.balances([journal.collateral(str(bob))])[journal.collateral(str(bob))] == 300

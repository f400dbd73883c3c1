"""Governance use cases (``hashedge/domain/governance/GOVERNANCE.md``): the parameter registry as
it stands, proposals, votes, ragequit, the governance job's execution, and the risk committee's
emergency tightening. One transaction per use case; the rules are ``domain.governance``'s.

Votes weigh backstop-pool shares, read through ``PoolShares``, a narrow port of this service:
shares of every member and in total as of an instant (the snapshot, inside the caller's
transaction) and an immediate withdrawal at NAV (the ragequit, the pool's own idempotent use
case). ``pool_shares(runtime)`` gives the implementation in use: ``BackstopPool``, the backstop
pool's own tables and services (BACKSTOP.md); tests may hand a service another implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from hashedge.adapters.repositories.governance import StoredProposal
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.errors import InvalidValue
from hashedge.domain.governance.proposals import (
    Choice,
    GovernanceDenied,
    Status,
    Tally,
    Timeline,
    check_ragequit,
    check_threshold,
    check_vote,
    status_at,
    timeline,
)
from hashedge.domain.governance.registry import (
    ParameterInfo,
    ParameterVersion,
    Source,
    apply_changes,
    check_step_limits,
    describe,
    parse_value,
    tightens_margins_only,
    value_text,
)
from hashedge.domain.parameters import ParameterOutOfBounds
from hashedge.errors import Conflict, Forbidden, InvalidInput, NotFound
from hashedge.services.accounts import require_account
from hashedge.services.margin import parameter_version

MAX_PAGE_SIZE = 500
MAX_RATIONALE = 4000
MAX_ID = 2**31 - 1  # proposal ids are INTEGER columns


class PoolShares(Protocol):
    """What governance needs of the backstop pool (module docstring)."""

    def shares_at(self, uow: UnitOfWork, instant: datetime) -> dict[int, int]:
        """Every member's shares as of ``instant``, inside the caller's open unit of work."""

    def total_at(self, uow: UnitOfWork, instant: datetime) -> int:
        """Every share outstanding as of ``instant``, inside the caller's open unit of work."""

    def execute_withdrawal_now(self, new_uow: Callable[[], UnitOfWork], clock: Clock, account_id: int,
                               idempotency_key: str) -> tuple[int, int]:
        """Withdraw all the member's free shares at once at NAV, in the pool's own transaction,
        idempotent by key: (shares, amount_sats)."""


class NoPool:
    """No backstop pool: nobody holds shares, so nobody can propose, vote or ragequit."""

    def shares_at(self, uow: UnitOfWork, instant: datetime) -> dict[int, int]:
        return {}

    def total_at(self, uow: UnitOfWork, instant: datetime) -> int:
        return 0

    def execute_withdrawal_now(self, new_uow, clock, account_id, idempotency_key) -> tuple[int, int]:
        raise Conflict("there is no backstop pool to leave")


class BackstopPool:
    """The backstop pool (``services.pool``, BACKSTOP.md) behind the votes: its append-only share
    movements summed up to an instant, and its immediate withdrawal at NAV for a ragequit."""

    def shares_at(self, uow: UnitOfWork, instant: datetime) -> dict[int, int]:
        return uow.pool.shares_by_account(instant)

    def total_at(self, uow: UnitOfWork, instant: datetime) -> int:
        return uow.pool.total_shares(instant)

    def execute_withdrawal_now(self, new_uow: Callable[[], UnitOfWork], clock: Clock, account_id: int,
                               idempotency_key: str) -> tuple[int, int]:
        """All the member's free shares (those not already queued for a delayed withdrawal) at the
        NAV now; asked again with the same key, the same withdrawal (never a second)."""
        from hashedge.services import pool

        uow = new_uow()
        with uow.read_only():
            done = uow.pool.withdrawal_by_key(account_id, idempotency_key)
            free = uow.pool.shares_of(account_id) - uow.pool.queued_shares(account_id)
        shares = done.shares if done is not None else free
        if shares <= 0:
            raise Conflict(f"account {account_id} has no free pool shares to withdraw",
                           fields={"account": ["no free pool shares"]})
        movement = pool.execute_withdrawal_now(new_uow(), clock, account_id, shares, idempotency_key)
        return movement.shares, movement.amount_sats


def pool_shares(runtime) -> PoolShares:
    """The pool behind the votes: the backstop pool."""
    return BackstopPool()


# --- the registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    version: ParameterVersion
    parameters: list[ParameterInfo]
    history: list[ParameterVersion]  # newest first


def registry(uow: UnitOfWork, *, history: int = 50) -> Registry:
    """The parameters in force (value, default, bounds, unit, description) and the versions."""
    with uow.read_only():
        version, params = parameter_version(uow)
        return Registry(version, describe(params), uow.parameters.history(limit=history))


# --- proposals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteView:
    account_id: int
    choice: str
    weight: int
    cast_at: datetime


@dataclass(frozen=True)
class RagequitView:
    account_id: int
    shares: int
    amount_sats: int
    at: datetime


@dataclass(frozen=True)
class ProposalView:
    id: int
    proposer_account_id: int
    rationale: str
    changes: dict[str, dict[str, str]]  # name -> {"from": value at creation, "to": proposed}
    status: str
    yes_weight: int
    no_weight: int
    snapshot_shares: int
    snapshot_at: datetime
    quorum_ratio: str
    support_ratio: str
    quorum_reached: bool
    support_reached: bool
    voting_ends_at: datetime
    executes_at: datetime
    expires_at: datetime
    executed_version_id: int | None
    refused_reason: str | None
    votes: list[VoteView] = field(default_factory=list)
    ragequits: list[RagequitView] = field(default_factory=list)


@dataclass(frozen=True)
class ProposalPage:
    items: list[ProposalView]
    total: int
    page: int
    page_size: int


def _tally(stored: StoredProposal, yes: int, no: int) -> Tally:
    return Tally(yes, no, stored.snapshot_shares, Decimal(stored.support_ratio), Decimal(stored.quorum_ratio))


def _times(stored: StoredProposal) -> Timeline:
    return Timeline(stored.created_at, stored.voting_ends_at, stored.executes_at, stored.expires_at)


def _status(stored: StoredProposal, tally: Tally, now: datetime) -> Status:
    return status_at(now, _times(stored), tally, executed=stored.executed_version_id is not None,
                     refused=stored.refused_reason is not None)


def _view(uow: UnitOfWork, stored: StoredProposal, now: datetime, *, yes: int, no: int,
          detail: bool = False) -> ProposalView:
    tally = _tally(stored, yes, no)
    base = uow.parameters.parameters_of(uow.parameters.get(stored.base_version_id)).as_registry()
    changes = {name: {"from": value_text(base[name]) if name in base else "", "to": value}
               for name, value in stored.changes.items()}
    votes = [VoteView(v.account_id, v.choice, v.weight, v.cast_at) for v in uow.proposals.votes(stored.id)] \
        if detail else []
    quits = [RagequitView(r.account_id, r.shares, r.amount_sats, r.at) for r in uow.proposals.ragequits(stored.id)] \
        if detail else []
    return ProposalView(stored.id, stored.proposer_account_id, stored.rationale, changes,
                        _status(stored, tally, now).value, yes, no, stored.snapshot_shares, stored.created_at,
                        stored.quorum_ratio, stored.support_ratio, tally.quorum_reached, tally.support_reached,
                        stored.voting_ends_at, stored.executes_at, stored.expires_at, stored.executed_version_id,
                        stored.refused_reason, votes, quits)


def _require_proposal(uow: UnitOfWork, proposal_id: int, *, lock: bool = False) -> StoredProposal:
    if not 0 < int(proposal_id) <= MAX_ID:  # beyond the column's range: no such proposal, on every backend
        raise NotFound(f"no proposal {proposal_id}")
    stored = uow.proposals.get(int(proposal_id), lock=lock)
    if stored is None:
        raise NotFound(f"no proposal {proposal_id}")
    return stored


def _detail(uow: UnitOfWork, stored: StoredProposal, now: datetime) -> ProposalView:
    yes, no = uow.proposals.tallies([stored.id])[stored.id]
    return _view(uow, stored, now, yes=yes, no=no, detail=True)


def parse_changes(changes: Mapping[str, object]) -> dict[str, Decimal | str]:
    """``{name: text}`` to registry values, each refused with its name as the field."""
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidInput("name at least one parameter to change", fields={"changes": ["at least one NAME=VALUE"]})
    parsed, errors = {}, {}
    for name, text in changes.items():
        try:
            parsed[name] = parse_value(name, text)
        except InvalidValue as exc:
            errors[name] = [exc.reason]
    if errors:
        raise InvalidInput("invalid parameter change: " + "; ".join(f"{n} {m[0]}" for n, m in errors.items()),
                           fields={"changes": [f"{n}: {m[0]}" for n, m in errors.items()]})
    return parsed


def _refused(exc: Exception) -> InvalidInput:
    message = exc.message if hasattr(exc, "message") else str(exc)
    return InvalidInput(message, fields={"changes": [message]})


def propose(uow: UnitOfWork, clock: Clock, pool: PoolShares, account_id: int, changes: Mapping[str, object],
            rationale: str) -> ProposalView:
    """Open a proposal to change one or more parameters (refused at once outside the hard bounds or
    the per-step limits), with the snapshot of every member's shares taken now."""
    parsed = parse_changes(changes)
    rationale = (rationale or "").strip()
    if not rationale or len(rationale) > MAX_RATIONALE:
        raise InvalidInput("a proposal needs a rationale", fields={"rationale": [f"1 to {MAX_RATIONALE} characters"]})
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        version, params = parameter_version(uow, now)
        try:
            check_step_limits(params, parsed)
            apply_changes(params, version.overrides, parsed)
        except (ParameterOutOfBounds, InvalidValue) as exc:
            raise _refused(exc) from None
        weights = {int(a): int(s) for a, s in pool.shares_at(uow, now).items() if s > 0}
        total = sum(weights.values())
        try:
            check_threshold(weights.get(account_id, 0), total, params.governance_proposal_threshold_ratio)
        except GovernanceDenied as exc:
            raise Forbidden(exc.message, fields={exc.field: [exc.message]}) from None
        times = timeline(now, voting_period_days=params.governance_voting_period_days,
                         timelock_days=params.governance_timelock_days,
                         execution_grace_days=params.governance_execution_grace_days)
        proposal_id = uow.proposals.add(
            proposer_account_id=account_id, rationale=rationale,
            changes={name: value_text(value) for name, value in parsed.items()}, base_version_id=version.id,
            created_at=now, voting_ends_at=times.voting_ends_at, executes_at=times.executes_at,
            expires_at=times.expires_at, weights=weights, support_ratio=value_text(params.governance_support_ratio),
            quorum_ratio=value_text(params.governance_quorum_ratio))
        view = _detail(uow, _require_proposal(uow, proposal_id), now)
        uow.commit()
    return view


def cast_vote(uow: UnitOfWork, clock: Clock, proposal_id: int, account_id: int, choice: str) -> ProposalView:
    """The member's vote, weighted by its shares at the proposal's snapshot; final."""
    try:
        chosen = Choice(str(choice).strip().lower())
    except ValueError:
        raise InvalidInput(f"a vote is yes or no, not {choice!r}", fields={"choice": ["yes or no"]}) from None
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        stored = _require_proposal(uow, proposal_id, lock=True)  # votes on one proposal one at a time
        weights = {str(a): s for a, s in uow.proposals.weights(stored.id).items()}
        votes = {str(v.account_id): Choice(v.choice) for v in uow.proposals.votes(stored.id)}
        try:
            weight = check_vote(now, _times(stored), weights, votes, str(account_id))
        except GovernanceDenied as exc:
            raise Conflict(exc.message, fields={exc.field: [exc.message]}) from None
        uow.proposals.add_vote(stored.id, account_id, chosen.value, weight, now)
        view = _detail(uow, stored, now)
        uow.commit()
    return view


def get_proposal(uow: UnitOfWork, clock: Clock, proposal_id: int) -> ProposalView:
    with uow.read_only():
        return _detail(uow, _require_proposal(uow, proposal_id), clock.now())


def proposal_page(uow: UnitOfWork, clock: Clock, *, page: int = 1, page_size: int = 100) -> ProposalPage:
    """Newest first, with their tallies (two queries)."""
    now = clock.now()
    with uow.read_only():
        found = uow.proposals.listing(limit=page_size, offset=(page - 1) * page_size)
        tallies = uow.proposals.tallies([p.id for p in found])
        items = [_view(uow, p, now, yes=tallies[p.id][0], no=tallies[p.id][1]) for p in found]
        return ProposalPage(items, uow.proposals.count(), page, page_size)


# --- ragequit ---------------------------------------------------------------------------------------


def ragequit(new_uow: Callable[[], UnitOfWork], clock: Clock, pool: PoolShares, proposal_id: int,
             account_id: int) -> RagequitView:
    """Leave the pool at NAV now, without the withdrawal delay: during a passed proposal's timelock,
    for members of its snapshot who voted no or did not vote.

    Eligibility is checked and the exit recorded in one transaction (amount pending); the pool pays
    in its own, idempotent by the key ``ragequit-<proposal>``; the amount is then recorded. A crash
    in between is finished by calling again: the recorded exit is paid (never twice), nothing else."""
    now = clock.now()
    with new_uow() as uow:
        require_account(uow, account_id)
        stored = _require_proposal(uow, proposal_id, lock=True)
        done = {q.account_id: q for q in uow.proposals.ragequits(stored.id)}
        if account_id not in done or done[account_id].amount_sats is not None:
            yes, no = uow.proposals.tallies([stored.id])[stored.id]
            weights = {str(a): s for a, s in uow.proposals.weights(stored.id).items()}
            votes = {str(v.account_id): Choice(v.choice) for v in uow.proposals.votes(stored.id)}
            try:
                check_ragequit(_status(stored, _tally(stored, yes, no), now), weights, votes,
                               {str(a) for a in done}, str(account_id))
            except GovernanceDenied as exc:
                raise Conflict(exc.message, fields={exc.field: [exc.message]}) from None
            uow.proposals.add_ragequit(stored.id, account_id, now)
            uow.commit()
    shares, amount = pool.execute_withdrawal_now(new_uow, clock, account_id, f"ragequit-{int(proposal_id)}")
    with new_uow() as uow:
        uow.proposals.paid_ragequit(int(proposal_id), account_id, shares, amount)
        quit_ = next(q for q in uow.proposals.ragequits(int(proposal_id)) if q.account_id == account_id)
        uow.commit()
    return RagequitView(quit_.account_id, quit_.shares, quit_.amount_sats, quit_.at)


# --- execution (the governance job) -----------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    proposal_id: int
    status: str
    version_id: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"proposal_id": self.proposal_id, "status": self.status, "version_id": self.version_id,
                "reason": self.reason}


def execute_due(uow: UnitOfWork, clock: Clock) -> list[Closed]:
    """Close every proposal whose voting has ended and whose fate is known: failed ones, expired
    ones, and passed ones at the end of their timelock, executed once (a new version, effective now)
    or refused if their changes no longer fit the bounds and rules of the parameters now in force."""
    now = clock.now()
    closed = []
    with uow:
        for candidate in uow.proposals.open_after_voting(now):
            stored = _require_proposal(uow, candidate.id, lock=True)
            if stored.closed_at is not None:
                continue
            yes, no = uow.proposals.tallies([stored.id])[stored.id]
            status = _status(stored, _tally(stored, yes, no), now)
            if status is Status.TIMELOCK or status is Status.VOTING:
                continue
            if status is not Status.EXECUTABLE:  # failed or expired: never executes
                uow.proposals.close(stored.id, now)
                closed.append(Closed(stored.id, status.value))
                continue
            version, params = parameter_version(uow)
            changes = {name: parse_value(name, text) for name, text in stored.changes.items()}
            try:
                _after, diff, overrides = apply_changes(params, version.overrides, changes)
            except (ParameterOutOfBounds, InvalidValue) as exc:
                reason = f"refused at execution: {exc}"
                uow.proposals.close(stored.id, now, refused_reason=reason)
                closed.append(Closed(stored.id, Status.FAILED.value, reason=reason))
                continue
            written = uow.parameters.add(
                effective_at=now, recorded_at=now, source=Source.PROPOSAL,
                actor=f"account {stored.proposer_account_id}", proposal_id=stored.id,
                reason=f"proposal {stored.id}: {stored.rationale}"[:2000], changes=diff, overrides=overrides)
            uow.forget_parameters()
            uow.proposals.close(stored.id, now, executed_version_id=written.id)
            closed.append(Closed(stored.id, Status.EXECUTED.value, written.id))
        uow.commit()
    return closed


# --- the risk committee -----------------------------------------------------------------------------


def emergency_tighten(uow: UnitOfWork, clock: Clock, username: str, changes: Mapping[str, object],
                      reason: str) -> ParameterVersion:
    """A member of the governed risk committee raises margin ratios at once, within their hard
    bounds (no step limit, no vote); loosening, or any other parameter, needs a proposal. The desk
    calls it through ``desk_actions.emergency_tighten``, whose unit of work audits it."""
    parsed = parse_changes(changes)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("an emergency change needs a reason", fields={"reason": ["required"]})
    now = clock.now()
    with uow:
        version, params = parameter_version(uow, now)
        if username not in params.risk_committee:
            raise Forbidden(f"{username} is not on the risk committee (governance.risk_committee)",
                            fields={"username": ["not on the risk committee"]})
        refusals = tightens_margins_only(params, parsed)
        if refusals:
            raise InvalidInput("an emergency change only tightens margins: " + "; ".join(refusals),
                               fields={"changes": refusals})
        try:
            _after, diff, overrides = apply_changes(params, version.overrides, parsed)
        except (ParameterOutOfBounds, InvalidValue) as exc:
            raise _refused(exc) from None
        written = uow.parameters.add(effective_at=now, recorded_at=now, source=Source.EMERGENCY, actor=username,
                                     proposal_id=None, reason=reason[:2000], changes=diff, overrides=overrides)
        uow.forget_parameters()
        uow.commit()
    return written


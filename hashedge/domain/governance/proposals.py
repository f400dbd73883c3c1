"""Proposals, votes, outcome, timelock and ragequit: the rules, on plain values.

Weights are pool shares at the proposal's snapshot (taken when it is created), never live ones;
each account votes once, and its vote is final. After the voting period a proposal has passed
when both hold, strictly: yes > support x (yes + no), and yes + no > quorum x snapshot shares
(exactly one half fails either). A passed proposal waits out its timelock, in which members who
did not vote yes may ragequit, then executes once; after its grace period it expires unexecuted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from hashedge.domain.errors import DomainError


class Status(str, Enum):
    VOTING = "voting"
    FAILED = "failed"  # quorum or support not reached, or refused at execution
    TIMELOCK = "timelock"  # passed, waiting out the timelock: ragequit open
    EXECUTABLE = "executable"  # passed, timelock over: the governance job executes it
    EXECUTED = "executed"
    EXPIRED = "expired"  # passed but not executed within the grace period


class Choice(str, Enum):
    YES = "yes"
    NO = "no"


class GovernanceDenied(DomainError, ValueError):
    """A governance action the rules refuse (a vote after the end, a ragequit not allowed, ...)."""

    def __init__(self, message: str, field: str = "proposal"):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Tally:
    yes_weight: int
    no_weight: int
    snapshot_shares: int  # every pool share at the snapshot
    support_ratio: Decimal
    quorum_ratio: Decimal

    @property
    def cast_weight(self) -> int:
        return self.yes_weight + self.no_weight

    @property
    def quorum_reached(self) -> bool:
        return self.snapshot_shares > 0 and Decimal(self.cast_weight) > self.quorum_ratio * self.snapshot_shares

    @property
    def support_reached(self) -> bool:
        return self.cast_weight > 0 and Decimal(self.yes_weight) > self.support_ratio * self.cast_weight

    @property
    def passed(self) -> bool:
        return self.quorum_reached and self.support_reached


@dataclass(frozen=True)
class Timeline:
    created_at: datetime
    voting_ends_at: datetime
    executes_at: datetime  # end of the timelock, if it passes
    expires_at: datetime  # a passed proposal not executed by then never is


def timeline(created_at: datetime, *, voting_period_days: Decimal, timelock_days: Decimal,
             execution_grace_days: Decimal) -> Timeline:
    voting_ends_at = created_at + timedelta(days=int(voting_period_days))
    executes_at = voting_ends_at + timedelta(days=int(timelock_days))
    return Timeline(created_at, voting_ends_at, executes_at, executes_at + timedelta(days=int(execution_grace_days)))


def status_at(now: datetime, times: Timeline, tally: Tally, *, executed: bool, refused: bool) -> Status:
    """Where a proposal stands at ``now`` (the facts decide; nothing is stored that could disagree)."""
    if executed:
        return Status.EXECUTED
    if refused:
        return Status.FAILED
    if now < times.voting_ends_at:
        return Status.VOTING
    if not tally.passed:
        return Status.FAILED
    if now < times.executes_at:
        return Status.TIMELOCK
    if now < times.expires_at:
        return Status.EXECUTABLE
    return Status.EXPIRED


def check_threshold(proposer_shares: int, total_shares: int, threshold_ratio: Decimal) -> None:
    """The proposer must hold at least ``threshold_ratio`` of every pool share at the snapshot."""
    if total_shares <= 0:
        raise GovernanceDenied("the backstop pool has no shares: nobody can propose yet", "account")
    if Decimal(proposer_shares) < threshold_ratio * total_shares:
        raise GovernanceDenied(f"proposing needs at least {threshold_ratio} of the pool's shares "
                               f"({proposer_shares} of {total_shares} held)", "account")


def check_vote(now: datetime, times: Timeline, weights: Mapping[str, int], votes: Mapping[str, Choice],
               account_id: str) -> int:
    """The weight ``account_id`` votes with; refused outside the period, without snapshot shares,
    or a second time (a vote is final)."""
    if now >= times.voting_ends_at:
        raise GovernanceDenied(f"voting ended at {times.voting_ends_at.isoformat()}")
    if account_id in votes:
        raise GovernanceDenied(f"account {account_id} already voted {votes[account_id].value}; a vote is final",
                               "account")
    weight = weights.get(account_id, 0)
    if weight <= 0:
        raise GovernanceDenied(f"account {account_id} held no pool shares at the snapshot", "account")
    return weight


def check_ragequit(status: Status, weights: Mapping[str, int], votes: Mapping[str, Choice], quitters: set[str],
                   account_id: str) -> None:
    """Ragequit is open during the timelock of a passed proposal to members of its snapshot who
    voted no or did not vote, once each."""
    if account_id in quitters:
        raise GovernanceDenied(f"account {account_id} already ragequit this proposal", "account")
    if status is not Status.TIMELOCK:
        raise GovernanceDenied(f"ragequit is open only during a passed proposal's timelock (it is {status.value})")
    if weights.get(account_id, 0) <= 0:
        raise GovernanceDenied(f"account {account_id} held no pool shares at the snapshot", "account")
    if votes.get(account_id) is Choice.YES:
        raise GovernanceDenied(f"account {account_id} voted yes: only those who voted no or did not vote may "
                               "ragequit", "account")

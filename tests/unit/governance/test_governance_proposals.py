"""Proposal rules on plain values: outcome boundaries (exactly half fails), the timeline, votes,
the proposal threshold and who may ragequit when."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain.governance.proposals import (
    Choice,
    GovernanceDenied,
    Status,
    Tally,
    check_ragequit,
    check_threshold,
    check_vote,
    status_at,
    timeline,
)

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
HALF = Decimal("0.5")
TIMES = timeline(T0, voting_period_days=Decimal(7), timelock_days=Decimal(2), execution_grace_days=Decimal(14))


def tally(yes: int, no: int, total: int = 100) -> Tally:
    return Tally(yes, no, total, HALF, HALF)


@pytest.mark.parametrize("yes, no, passed", [
    (51, 0, True),  # quorum 51 > 50
    (50, 0, False),  # quorum exactly half: fails
    (26, 25, True),  # cast 51 > 50, support 26 > 25.5
    (30, 30, False),  # support exactly half: fails
    (31, 30, True),
    (0, 0, False),
])
def test_support_and_quorum_are_strictly_above_their_ratio(yes, no, passed):
    assert tally(yes, no).passed is passed


def test_the_quorum_counts_every_vote_cast_against_the_snapshot():
    assert tally(2, 49).quorum_reached and not tally(2, 49).support_reached
    assert not tally(40, 10).quorum_reached and tally(40, 10).support_reached


def test_the_timeline_runs_voting_then_timelock_then_the_grace_period():
    assert TIMES.voting_ends_at == T0 + timedelta(days=7)
    assert TIMES.executes_at == T0 + timedelta(days=9)
    assert TIMES.expires_at == T0 + timedelta(days=23)


@pytest.mark.parametrize("moment, passed, status", [
    (T0, True, Status.VOTING),
    (T0 + timedelta(days=7) - timedelta(microseconds=1), True, Status.VOTING),
    (T0 + timedelta(days=7), True, Status.TIMELOCK),
    (T0 + timedelta(days=7), False, Status.FAILED),
    (T0 + timedelta(days=9), True, Status.EXECUTABLE),
    (T0 + timedelta(days=23), True, Status.EXPIRED),
    (T0 + timedelta(days=23), False, Status.FAILED),
])
def test_status_follows_the_clock_and_the_tally(moment, passed, status):
    result = tally(60, 0) if passed else tally(10, 0)
    assert status_at(moment, TIMES, result, executed=False, refused=False) is status


def test_executed_and_refused_proposals_keep_their_status():
    assert status_at(T0 + timedelta(days=30), TIMES, tally(60, 0), executed=True, refused=False) is Status.EXECUTED
    assert status_at(T0 + timedelta(days=9), TIMES, tally(60, 0), executed=False, refused=True) is Status.FAILED


def test_a_vote_weighs_the_snapshot_shares_once_and_only_while_voting():
    weights = {"1": 40, "2": 60}
    assert check_vote(T0, TIMES, weights, {}, "1") == 40
    with pytest.raises(GovernanceDenied, match="final"):
        check_vote(T0, TIMES, weights, {"1": Choice.NO}, "1")
    with pytest.raises(GovernanceDenied, match="no pool shares at the snapshot"):
        check_vote(T0, TIMES, weights, {}, "3")
    with pytest.raises(GovernanceDenied, match="voting ended"):
        check_vote(TIMES.voting_ends_at, TIMES, weights, {}, "2")


def test_proposing_needs_the_threshold_share_of_the_pool():
    check_threshold(1, 100, Decimal("0.01"))
    with pytest.raises(GovernanceDenied, match="at least 0.02"):
        check_threshold(1, 100, Decimal("0.02"))
    with pytest.raises(GovernanceDenied, match="no shares"):
        check_threshold(0, 0, Decimal("0.01"))


def test_ragequit_is_for_members_who_did_not_vote_yes_during_the_timelock_once():
    weights = {"1": 40, "2": 30, "3": 30}
    votes = {"1": Choice.YES, "2": Choice.NO}
    check_ragequit(Status.TIMELOCK, weights, votes, set(), "2")  # voted no
    check_ragequit(Status.TIMELOCK, weights, votes, set(), "3")  # did not vote
    with pytest.raises(GovernanceDenied, match="voted yes"):
        check_ragequit(Status.TIMELOCK, weights, votes, set(), "1")
    with pytest.raises(GovernanceDenied, match="no pool shares"):
        check_ragequit(Status.TIMELOCK, weights, votes, set(), "4")
    with pytest.raises(GovernanceDenied, match="already"):
        check_ragequit(Status.TIMELOCK, weights, votes, {"2"}, "2")
    for status in (Status.VOTING, Status.FAILED, Status.EXECUTABLE, Status.EXECUTED, Status.EXPIRED):
        with pytest.raises(GovernanceDenied, match="only during"):
            check_ragequit(status, weights, votes, set(), "2")

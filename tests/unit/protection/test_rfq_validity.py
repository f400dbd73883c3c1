"""How long an answer to a request for quote binds its seller (``domain.protection.rfq``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hashedge.domain.protection.rfq import (
    MAX_ANSWER_VALID_SECONDS,
    answer_is_live,
    answer_valid_until,
    answer_validity_problem,
)

ANSWERED_AT = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("valid_seconds", [1, 60, MAX_ANSWER_VALID_SECONDS])
def test_an_answer_is_live_up_to_its_last_second_and_not_from_its_end(valid_seconds):
    assert answer_validity_problem(valid_seconds) is None
    until = answer_valid_until(ANSWERED_AT, valid_seconds)
    assert until - ANSWERED_AT == timedelta(seconds=valid_seconds)
    assert answer_is_live(until, ANSWERED_AT)
    assert answer_is_live(until, until - timedelta(microseconds=1))
    assert not answer_is_live(until, until)


@pytest.mark.parametrize("valid_seconds", [0, -1, MAX_ANSWER_VALID_SECONDS + 1, 1.0, "60", True, None])
def test_a_validity_that_is_not_whole_seconds_within_a_day_is_refused(valid_seconds):
    assert answer_validity_problem(valid_seconds) is not None

"""How long a seller's answer to a request for quote binds it (PROTECTION.md, "Requests for quote").

An answer is firm for the seconds its seller gives (``DEFAULT_ANSWER_VALID_SECONDS`` when it gives
none, at most ``MAX_ANSWER_VALID_SECONDS``): until then the buyer may accept it, from then on it
cannot be. Without a limit an answer would be a free option on the seller, exercisable whenever the
reference's risk moved against it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_ANSWER_VALID_SECONDS = 300
MAX_ANSWER_VALID_SECONDS = 86_400


def answer_validity_problem(valid_seconds: object) -> str | None:
    """Why ``valid_seconds`` cannot be an answer's validity, or None."""
    if isinstance(valid_seconds, bool) or not isinstance(valid_seconds, int):
        return "must be a whole number of seconds"
    if not 1 <= valid_seconds <= MAX_ANSWER_VALID_SECONDS:
        return f"must be between 1 and {MAX_ANSWER_VALID_SECONDS} seconds"
    return None


def answer_valid_until(answered_at: datetime, valid_seconds: int) -> datetime:
    """The first moment an answer given at ``answered_at`` can no longer be accepted."""
    return answered_at + timedelta(seconds=valid_seconds)


def answer_is_live(valid_until: datetime, now: datetime) -> bool:
    return now < valid_until

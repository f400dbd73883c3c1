"""Broken invariants: the caller handed the domain something that must never happen.

These are bugs (or corrupted stored state), not business denials: a deposit of a float, an
unbalanced journal entry, a crossed book loaded from storage. They fail fast, and every
exception keeps the values involved as attributes so logs and error mappers need not parse
messages. Expected denials (a price off the tick, not enough free collateral) are returned as
``denials.Rejected`` instead.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of the domain's invariant violations."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidValue(DomainError, ValueError):
    """A value of the wrong type or outside its domain (e.g. a float amount of satoshis)."""

    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(f"{field}={value!r}: {reason}")
        self.field, self.value, self.reason = field, value, reason


class UnbalancedEntry(DomainError):
    """A journal entry whose postings do not sum to zero."""

    def __init__(self, idempotency_key: str, total_sats: int):
        super().__init__(
            f"journal entry {idempotency_key!r} does not balance: postings sum to"
            f" {total_sats} sats, expected 0"
        )
        self.idempotency_key, self.total_sats = idempotency_key, total_sats


class InvalidEntry(DomainError):
    """A journal entry that is malformed in another way (too few postings, repeated account)."""

    def __init__(self, idempotency_key: str, reason: str):
        super().__init__(f"journal entry {idempotency_key!r}: {reason}")
        self.idempotency_key, self.reason = idempotency_key, reason


class IdempotencyConflict(DomainError):
    """An idempotency key reused for an entry with different content."""

    def __init__(self, idempotency_key: str, original: Any, proposed: Any):
        super().__init__(
            f"idempotency key {idempotency_key!r} was already used for a different entry"
        )
        self.idempotency_key, self.original, self.proposed = idempotency_key, original, proposed


class LedgerOutOfBalance(DomainError):
    """Stored balances disagree with the journal, or all balances do not sum to zero."""

    def __init__(self, reason: str, differences: dict[str, tuple[int, int]] | None = None):
        super().__init__(f"ledger out of balance: {reason}")
        self.reason, self.differences = reason, differences or {}


class InstrumentMismatch(DomainError):
    """An order, fill or position handed to an object for another instrument."""

    def __init__(self, expected: str, actual: str):
        super().__init__(f"expected instrument {expected!r}, got {actual!r}")
        self.expected, self.actual = expected, actual


class InvalidBookState(DomainError):
    """Resting orders that cannot form a book (duplicate id, crossed, not resting)."""

    def __init__(self, reason: str, order_id: str | None = None):
        super().__init__(f"invalid order book state: {reason}" + (f" (order {order_id})" if order_id else ""))
        self.reason, self.order_id = reason, order_id


class StaleSequence(DomainError):
    """An order sequence number not greater than one the book has already seen."""

    def __init__(self, sequence: int, last_sequence: int):
        super().__init__(f"sequence {sequence} is not after the book's last sequence {last_sequence}")
        self.sequence, self.last_sequence = sequence, last_sequence


class NotAParty(DomainError):
    """A fill applied to the position of an account that is neither its buyer nor its seller."""

    def __init__(self, account_id: str, fill_id: str):
        super().__init__(f"account {account_id!r} is not a party to fill {fill_id!r}")
        self.account_id, self.fill_id = account_id, fill_id

"""Errors a user can cause or fix, each with a clear one-line message and the fields involved.

Adapters map them: the API to JSON 4xx, the desk to a form error, the CLI to a non-zero exit.
"""

from __future__ import annotations


class HashEdgeError(Exception):
    """Base for expected, user-facing failures."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(HashEdgeError):
    code = "not_found"
    http_status = 404


class InvalidInput(HashEdgeError):
    code = "invalid_input"
    http_status = 400


class Conflict(HashEdgeError):
    code = "conflict"
    http_status = 409


class DataUnavailable(HashEdgeError):
    """The data a request needs is not in the database yet (e.g. before ingestion)."""

    code = "data_unavailable"
    http_status = 409


class DatabaseMissing(HashEdgeError):
    """The configured SQLite file does not exist, and this command does not create databases."""

    code = "database_missing"
    http_status = 503

    def __init__(self, path: str):
        super().__init__(f"database: no SQLite file at {path}; run `hashedge init-db` (or `hashedge demo`) "
                         "to create it, or check HASHEDGE_DATABASE_URL")
        self.path = path


class DatabaseUnavailable(HashEdgeError):
    """The connection to the database broke during the request (the server restarted or went
    away): its transaction is gone, nothing of it was applied; the next attempt reconnects."""

    code = "database_unavailable"
    http_status = 503

    def __init__(self):
        super().__init__("the database connection was lost; nothing was applied; retry")


class ReorgTooDeep(Conflict):
    code = "reorg_too_deep"

    def __init__(self, fork_height: int, tip_height: int, confirmations: int):
        super().__init__(
            f"chain reorganisation from height {fork_height + 1} replaces {tip_height - fork_height}"
            f" stored blocks, at or beyond the {confirmations}-confirmation depth that published"
            " fixings rely on; rerun with --allow-deep-reorg after review"
        )
        self.fork_height, self.tip_height, self.confirmations = fork_height, tip_height, confirmations


class Unauthenticated(HashEdgeError):
    """No API key, or one that is malformed, unknown or revoked (never says which)."""

    code = "unauthenticated"
    http_status = 401


class IdempotencyKeyReused(Conflict):
    """An idempotency key already used for a different request."""

    code = "idempotency_key_reused"

    def __init__(self, idempotency_key: str):
        super().__init__(
            f"idempotency key {idempotency_key!r} was already used for a different request",
            fields={"idempotency_key": ["already used for a different request; use a new key"]},
        )
        self.idempotency_key = idempotency_key


class InsufficientCollateral(HashEdgeError):
    """A withdrawal that would take collateral below what initial margin requires."""

    code = "insufficient_collateral"
    http_status = 422

    def __init__(self, message: str, *, amount_sats: int, balance_sats: int, initial_margin_sats: int,
                 free_collateral_sats: int, shortfall_sats: int):
        super().__init__(message, fields={"amount_sats": [message]})
        self.amount_sats, self.balance_sats = amount_sats, balance_sats
        self.initial_margin_sats, self.free_collateral_sats = initial_margin_sats, free_collateral_sats
        self.shortfall_sats = shortfall_sats


class Forbidden(HashEdgeError):
    """The user is known but may not do this (a role without the permission, the requester of a
    four-eyes request trying to approve it)."""

    code = "forbidden"
    http_status = 403


class LoginRefused(HashEdgeError):
    """Wrong user name or password, or a disabled user (never says which)."""

    code = "login_refused"
    http_status = 401


class TooManyAttempts(HashEdgeError):
    """Login throttled after repeated failures; ``retry_after_seconds`` says for how long."""

    code = "too_many_attempts"
    http_status = 429

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message, fields={"username": [message]})
        self.retry_after_seconds = retry_after_seconds

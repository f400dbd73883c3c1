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


class ReorgTooDeep(Conflict):
    code = "reorg_too_deep"

    def __init__(self, fork_height: int, tip_height: int, confirmations: int):
        super().__init__(
            f"chain reorganisation from height {fork_height + 1} replaces {tip_height - fork_height}"
            f" stored blocks, at or beyond the {confirmations}-confirmation depth that published"
            " fixings rely on; rerun with --allow-deep-reorg after review"
        )
        self.fork_height, self.tip_height, self.confirmations = fork_height, tip_height, confirmations

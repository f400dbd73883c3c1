"""What every desk view uses: the runtime, its clock and session factory, and account lookup."""

from __future__ import annotations

from flask import current_app

from hashedge.bootstrap import Runtime
from hashedge.services import accounts


def runtime() -> Runtime:
    return current_app.extensions["hashedge"]


def resolve(reference: str) -> int:
    """An account id from an id or a name (NotFound otherwise)."""
    return accounts.resolve_account(runtime().uow(), reference or "").id


def account_names(limit: int = 500) -> list[str]:
    """Names for the account fields' suggestions (a datalist), the first ``limit`` accounts."""
    return accounts.account_names(runtime().uow(), limit=limit)

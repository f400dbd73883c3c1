"""The desk's audit log: every state-changing desk action leaves one record (who, when, what, the
state before and after), written in the same transaction as the action itself.

``AuditedUnitOfWork`` is how: the desk hands a platform service (``ledger.deposit``,
``block_trades.book_block_trade``, ...) a unit of work that

1. on first entering its transaction runs ``on_enter`` (e.g. lock and check a four-eyes request)
   and reads the ``snapshot`` of what the action will change (the *before*);
2. when the service commits, reads the snapshot again (the *after*), runs ``on_commit`` (e.g. mark
   the request executed) and appends the audit record, all before the one COMMIT.

So an action is never done without its record, and a refused action (rolled back) leaves none;
refusals that matter (a failed four-eyes execution, a rejected login) are recorded by their own
services. The table is append-only: the database refuses updates and deletes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.repositories.desk import AuditRecord
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.errors import InvalidInput

MAX_PAGE_SIZE = 500
SYSTEM = "system"  # the actor of what no person did (e.g. a request expiring)

Snapshot = Callable[[UnitOfWork], dict | None]


@dataclass(frozen=True)
class Actor:
    """The desk user acting (the web layer builds it from the logged-in user)."""

    username: str
    role: str


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditRecord]
    total: int
    page: int
    page_size: int


class AuditedUnitOfWork(UnitOfWork):
    """A unit of work whose commit appends one audit record in the same transaction (module
    docstring). ``target`` may be changed by ``on_commit`` (e.g. once a new id is known)."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Clock, actor: Actor, action: str,
                 target: str, details: dict[str, Any], *, snapshot: Snapshot | None = None,
                 on_enter: Callable[[UnitOfWork], None] | None = None,
                 on_commit: Callable[["AuditedUnitOfWork", dict | None], None] | None = None):
        super().__init__(session_factory)
        self._clock, self.actor, self.action, self.target, self.details = clock, actor, action, target, details
        self._snapshot, self._on_enter, self._on_commit = snapshot, on_enter, on_commit
        self._entered = False
        self.before: dict | None = None
        self.committed = False

    def __enter__(self) -> "AuditedUnitOfWork":
        super().__enter__()
        if not self._entered:  # the service's transaction: the before-state is read inside it
            self._entered = True
            try:
                if self._on_enter is not None:
                    self._on_enter(self)
                self.before = self._snapshot(self) if self._snapshot else None
            except BaseException:  # ``with`` does not call __exit__ when __enter__ raises
                self.__exit__(None, None, None)
                raise
        return self

    def commit(self) -> None:
        after = self._snapshot(self) if self._snapshot else None
        if self._on_commit is not None:
            self._on_commit(self, after)
        self.audit.add(occurred_at=self._clock.now(), actor=self.actor.username, action=self.action,
                       target=self.target, details=self.details, before=self.before, after=after)
        super().commit()
        self.committed = True


def record(uow: UnitOfWork, clock: Clock, actor: Actor | str, action: str, target: str, details: dict,
           *, before: dict | None = None, after: dict | None = None) -> None:
    """Append a record inside the caller's open unit of work (the caller commits)."""
    name = actor.username if isinstance(actor, Actor) else actor
    uow.audit.add(occurred_at=clock.now(), actor=name, action=action, target=target, details=details,
                  before=before, after=after)


def collateral_snapshot(*account_ids: int) -> Snapshot:
    """Before/after of the accounts' collateral balances (deposits, withdrawals)."""

    def snapshot(uow: UnitOfWork) -> dict:
        accounts = [collateral_of(a) for a in account_ids]
        balances = uow.ledger.balances(accounts)
        return {f"collateral_sats:{a}": balances.get(collateral_of(a), 0) for a in account_ids}

    return snapshot


def positions_snapshot(instrument: str, *account_ids: int) -> Snapshot:
    """Before/after of the accounts' collateral and positions in one instrument (block trades)."""
    balances = collateral_snapshot(*account_ids)

    def snapshot(uow: UnitOfWork) -> dict:
        state = balances(uow)
        for account_id in account_ids:
            held = {p.instrument_id: p.quantity for p in uow.positions.of_account(account_id)}
            state[f"position:{account_id}:{instrument}"] = held.get(instrument, 0)
        return state

    return snapshot


def audit_page(uow: UnitOfWork, *, actor: str | None = None, action: str | None = None,
               target: str | None = None, page: int = 1, page_size: int = 50) -> AuditPage:
    """The log, newest first, filtered by actor, action prefix (``cash.``) or exact target."""
    if not 1 <= page <= 1_000_000:
        raise InvalidInput("page out of range", fields={"page": ["must be between 1 and 1000000"]})
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page size out of range", fields={"page_size": [f"must be 1 to {MAX_PAGE_SIZE}"]})
    filters = {"actor": actor or None, "action": action or None, "target": target or None}
    with uow.read_only():
        items = uow.audit.page(**filters, limit=page_size, offset=(page - 1) * page_size)
        total = uow.audit.count(**filters)
    return AuditPage(items, total, page, page_size)

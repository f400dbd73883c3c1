"""Ledger use cases: post an entry exactly once, deposits and withdrawals, statements, and the
reconciliation of derived balances against the journal.

The rules of entries (postings sum to zero, idempotency compares kind and postings, when a
withdrawal is denied) are the domain's (``hashedge.domain.ledger``); this module decides *under
the right locks* and stores. Every entry locks its participants' balance rows before reading
them, so two withdrawals racing on one account are decided one after the other, never on the
same stale balance.

Lock order, the same in every transaction that writes to the ledger (so none waits for another
in a cycle; ``hashedge/domain/JOURNAL.md``): (1) instrument sequence rows in symbol order, when
trading or settling; (2) participants' collateral balance rows in key order, before any entry is
appended (``post`` locks an entry's participants; callers posting several entries lock them all
first); (3) at commit, the platform balance rows in key order: an entry's platform postings are
summed per account while the transaction runs and applied once, by the unit of work's commit;
(4) at commit, the hash-chain lock, to link the transaction's entries (``check_balances`` verifies
the chain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from hashedge.adapters.repositories.ledger import KeyAlreadyPosted, Movement, RecordedEntry
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.journal_chain import ChainFault, ChainLink
from hashedge.domain.ledger import AccountKind, JournalEntry, LedgerAccount
from hashedge.domain.units import SATS_PER_BTC
from hashedge.errors import IdempotencyKeyReused, InsufficientCollateral, InvalidInput, NotFound
from hashedge.services.accounts import refuse_the_pool, require_account

MAX_AMOUNT_SATS = 21_000_000 * SATS_PER_BTC  # no single movement exceeds every bitcoin there is
MAX_IDEMPOTENCY_KEY_LENGTH = 100
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]+$"  # visible ASCII, no spaces
MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000  # keeps offsets within every database's integers

MarginRequirement = Callable[[int, UnitOfWork], int]
"""(account id, open unit of work) -> initial margin the account's positions require, in sats."""


def no_open_positions(account_id: int, uow: UnitOfWork) -> int:
    """The initial margin of an account without positions (all of them, until trading lands)."""
    return 0


def margin_engine_requirement(account_id: int, uow: UnitOfWork) -> int:
    """What the account's positions and open orders hold back from withdrawal, from the margin
    engine (``services.margin.withdrawal_requirement_sats``: initial and order margin plus
    unrealized losses)."""
    from hashedge.services.margin import withdrawal_requirement_sats  # trading builds on this module

    return withdrawal_requirement_sats(account_id, uow)


@dataclass(frozen=True)
class PostedEntry:
    recorded: RecordedEntry
    replayed: bool  # True when the idempotency key had already been posted with this content


@dataclass(frozen=True)
class CollateralMovement:
    """A deposit or withdrawal as its requester sees it (``amount_sats`` is positive)."""

    entry_id: int
    account_id: int
    kind: str
    amount_sats: int
    idempotency_key: str  # the requester's key, without the account namespace
    occurred_at: datetime
    recorded_at: datetime
    replayed: bool


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    kind: str
    memo: str
    occurred_at: datetime
    recorded_at: datetime
    amount_sats: int  # signed: what the entry added to the account
    balance_after_sats: int


@dataclass(frozen=True)
class StatementPage:
    account_id: int
    start: datetime | None
    end: datetime | None
    opening_balance_sats: int  # just before the first line of this page
    closing_balance_sats: int  # just after the last line of this page
    lines: list[StatementLine]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class BalanceCheck:
    """Stored balances against the journal (differences as account -> (stored, from journal)),
    and the journal against its hash chain (``chain_faults``, each naming the entry)."""

    accounts_checked: int
    differences: dict[str, tuple[int, int]]
    unbalanced_entries: dict[int, int]
    total_sats: int
    chain_faults: tuple[ChainFault, ...] = ()
    chain_head: ChainLink | None = None  # the last link: publish its hash to anchor the journal

    @property
    def ok(self) -> bool:
        return (not self.differences and not self.unbalanced_entries and self.total_sats == 0
                and not self.chain_faults)


# --- inputs ---------------------------------------------------------------------------


def require_amount(amount_sats: object, field: str = "amount_sats") -> int:
    if isinstance(amount_sats, bool) or not isinstance(amount_sats, int):
        raise InvalidInput(f"{field} must be a whole number of satoshis", fields={field: ["not an integer"]})
    if not 1 <= amount_sats <= MAX_AMOUNT_SATS:
        raise InvalidInput(f"{field} must be between 1 and {MAX_AMOUNT_SATS} sats, got {amount_sats}",
                           fields={field: [f"must be between 1 and {MAX_AMOUNT_SATS}"]})
    return amount_sats


def request_key(account_id: int, idempotency_key: str) -> str:
    """The journal key of a participant's request: the client's key, namespaced by account so
    one client can never collide with (or learn about) another's keys."""
    if (not isinstance(idempotency_key, str) or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH
            or not re.match(IDEMPOTENCY_KEY_PATTERN, idempotency_key)):
        raise InvalidInput("invalid idempotency key", fields={"idempotency_key": [
            f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters"]})
    return f"account:{account_id}:{idempotency_key}"


# --- posting --------------------------------------------------------------------------


def post(uow: UnitOfWork, entry: JournalEntry, recorded_at: datetime,
         guard: Callable[[dict[LedgerAccount, int]], None] | None = None) -> PostedEntry:
    """Append ``entry`` once, inside the caller's open unit of work (the caller commits).

    Locks the balance rows of the participants' (collateral) accounts in the entry, the
    balances that denials are about; platform accounts are only incremented, atomically, so
    unrelated accounts never wait for each other. Then: a key already posted with the same
    content returns the original (``replayed``); with other content it is
    ``IdempotencyKeyReused``; otherwise ``guard`` sees the locked balances and may raise a
    denial before anything is written.
    """
    participants = [p.account for p in entry.postings if p.account.kind is AccountKind.COLLATERAL]
    balances = uow.ledger.lock_balances(participants)
    missing = {a.key for a in participants} - {a.key for a in balances}
    if missing:
        raise NotFound(f"no ledger account {', '.join(sorted(missing))}")
    original = uow.ledger.find(entry.idempotency_key)
    if original is not None:
        return _replay(original, entry)
    if guard is not None:
        guard(balances)
    try:
        return PostedEntry(uow.ledger.append(entry, recorded_at), replayed=False)
    except KeyAlreadyPosted:  # by a transaction that shared no lock with this one
        return _replay(uow.ledger.find(entry.idempotency_key), entry)


def post_new(uow: UnitOfWork, entries: list[JournalEntry], recorded_at: datetime) -> list[RecordedEntry]:
    """Append ``entries`` (in order) in one batch, for a caller that holds the collateral rows of
    every participant and whose idempotency keys cannot have been posted: a book fill's keys
    carry its fill id, made of the instrument's sequence, which the caller holds locked and has
    just advanced. So no lock, no lookup and no savepoint per entry; the unique index on keys
    still refuses a duplicate (the whole transaction fails, nothing half-applied). Everything
    else ``post`` does (balances, platform increments at commit, the hash chain) is the same."""
    return uow.ledger.append_new(entries, recorded_at)


def _replay(original: RecordedEntry, entry: JournalEntry) -> PostedEntry:
    if original.entry.content != entry.content:
        raise IdempotencyKeyReused(entry.idempotency_key)
    return PostedEntry(original, replayed=True)


def _post_request(uow: UnitOfWork, entry: JournalEntry, now: datetime, client_key: str, guard=None) -> PostedEntry:
    try:
        return post(uow, entry, now, guard)
    except IdempotencyKeyReused:  # name the key the client sent, not its namespaced form
        raise IdempotencyKeyReused(client_key) from None


def _movement(account_id: int, posted: PostedEntry, client_key: str) -> CollateralMovement:
    recorded = posted.recorded
    return CollateralMovement(
        entry_id=recorded.id, account_id=account_id, kind=recorded.entry.kind.value,
        amount_sats=abs(recorded.entry.amount_for(ledger.collateral(str(account_id)))),
        idempotency_key=client_key, occurred_at=recorded.entry.occurred_at,
        recorded_at=recorded.recorded_at, replayed=posted.replayed,
    )


def deposit(uow: UnitOfWork, clock: Clock, account_id: int, amount_sats: int, idempotency_key: str,
            *, memo: str = "") -> CollateralMovement:
    """Credit bitcoin received in custody to the account's collateral (idempotent by key)."""
    amount = require_amount(amount_sats)
    key = request_key(account_id, idempotency_key)
    now = clock.now()
    with uow:
        account = require_account(uow, account_id)
        entry = ledger.deposit(str(account.id), amount, idempotency_key=key, occurred_at=now, memo=memo)
        posted = _post_request(uow, entry, now, idempotency_key)
        uow.commit()
    return _movement(account_id, posted, idempotency_key)


def withdraw(uow: UnitOfWork, clock: Clock, account_id: int, amount_sats: int, idempotency_key: str,
             margin_requirement: MarginRequirement = margin_engine_requirement, *, memo: str = "") -> CollateralMovement:
    """Pay collateral out to custody, refused (``InsufficientCollateral``) when it would leave
    less collateral than the account's positions require as initial margin."""
    amount = require_amount(amount_sats)
    key = request_key(account_id, idempotency_key)
    now = clock.now()
    with uow:
        account = require_account(uow, account_id)
        refuse_the_pool(uow, account.id, "a withdrawal of collateral")
        entry = ledger.withdrawal(str(account.id), amount, idempotency_key=key, occurred_at=now, memo=memo)

        def enough_free_collateral(balances: dict[LedgerAccount, int]) -> None:
            balance = balances[account.collateral]
            initial_margin = margin_requirement(account.id, uow)  # under the lock, like the balance
            denial = ledger.withdrawal_denial(amount, balance - initial_margin)
            if denial is not None:
                raise InsufficientCollateral(
                    f"{denial.message} (collateral {balance} sats, initial margin {initial_margin} sats)",
                    amount_sats=amount, balance_sats=balance, initial_margin_sats=initial_margin,
                    free_collateral_sats=max(balance - initial_margin, 0), shortfall_sats=denial.shortfall_sats,
                )

        posted = _post_request(uow, entry, now, idempotency_key, guard=enough_free_collateral)
        uow.commit()
    return _movement(account_id, posted, idempotency_key)


# --- reading --------------------------------------------------------------------------


def statement(uow: UnitOfWork, account_id: int, start: datetime | None = None, end: datetime | None = None,
              *, page: int = 1, page_size: int = 100) -> StatementPage:
    """The account's entries with occurred_at in [start, end] (inclusive), in the order they
    took effect (occurred_at, then entry id), each with the balance after it."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput("page out of range", fields={"page": [f"must be between 1 and {MAX_PAGE}"]})
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page size out of range", fields={"page_size": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
    if start and end and start > end:
        raise InvalidInput("start is after end", fields={"start": ["must not be after end"]})
    with uow.read_only():
        account = require_account(uow, account_id).collateral
        movements = uow.ledger.movements(account, start=start, end=end, limit=page_size,
                                         offset=(page - 1) * page_size)
        total = uow.ledger.count_movements(account, start=start, end=end)
        if movements:
            opening = uow.ledger.balance_before(account, movements[0].occurred_at, movements[0].entry_id)
        else:  # past the last page, or an empty range: the balance at the range's end
            opening = uow.ledger.balance_through(account, end)
    lines, balance = [], opening
    for movement in movements:
        balance += movement.amount_sats
        lines.append(_line(movement, balance))
    return StatementPage(account_id, start, end, opening, balance, lines, total, page, page_size)


def _line(movement: Movement, balance_after: int) -> StatementLine:
    return StatementLine(movement.entry_id, movement.kind, movement.memo, movement.occurred_at,
                         movement.recorded_at, movement.amount_sats, balance_after)


def check_balances(uow: UnitOfWork) -> BalanceCheck:
    """Recompute every balance from the journal and compare with the stored ones; find entries
    that do not sum to zero (the database refuses them, so there should be none); and verify
    every entry against the hash chain (``domain.journal_chain``), which finds a rewritten,
    removed or inserted entry even when the database's triggers were dropped to do it."""
    with uow.read_only():
        stored = uow.ledger.balances()
        derived = uow.ledger.journal_balances()
        unbalanced = uow.ledger.unbalanced_entries()
        faults, head = uow.ledger.chain.verify()
    accounts = set(stored) | set(derived)
    differences = {
        account.key: (stored.get(account, 0), derived.get(account, 0))
        for account in accounts if stored.get(account, 0) != derived.get(account, 0)
    }
    return BalanceCheck(len(accounts), differences, unbalanced, sum(derived.values()), tuple(faults), head)

"""Participants and their API keys: create, authenticate, revoke, look up, summarize."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.exc import IntegrityError

from hashedge.adapters import api_keys
from hashedge.adapters.repositories.ledger import AccountRecord, ApiKeyRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from hashedge.services.versioned_reads import WITNESSED

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$")
NAME_RULE = ("1 to 64 letters, digits, spaces or . _ @ -, starting with a letter or digit, "
             "and not only digits (those are account ids)")


@dataclass(frozen=True)
class MarginFigures:
    """What the margin engine says about an account. Until trading lands nobody holds positions,
    so every account is flat: no margin, no unrealized PnL, healthy."""

    initial_margin_sats: int = 0
    maintenance_margin_sats: int = 0
    unrealized_pnl_sats: int = 0
    status: str = "healthy"  # healthy | margin_call | liquidatable


# (account id, unit of work, the collateral the caller read in it) -> the account's figures
MarginView = Callable[[int, UnitOfWork, int], MarginFigures]


def flat_account_margin(account_id: int, uow: UnitOfWork, collateral_sats: int) -> MarginFigures:
    return MarginFigures()


def engine_account_margin(account_id: int, uow: UnitOfWork, collateral_sats: int) -> MarginFigures:
    """The figures of the margin engine (``services.margin.margin_figures``)."""
    from hashedge.services.margin import margin_figures  # trading builds on this module

    return margin_figures(account_id, uow, collateral_sats)


@dataclass(frozen=True)
class AccountSummary:
    id: int
    name: str
    collateral_sats: int
    equity_sats: int  # collateral + unrealized PnL
    initial_margin_sats: int
    maintenance_margin_sats: int
    unrealized_pnl_sats: int
    free_collateral_sats: int  # equity - initial margin; negative in a margin call
    status: str

    @property
    def balances(self) -> dict[str, int]:
        return {"collateral_sats": self.collateral_sats}


def valid_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not _NAME_PATTERN.match(name) or name.isdigit():
        raise InvalidInput(f"invalid account name {name!r}", fields={"name": [f"must be {NAME_RULE}"]})
    return name


def require_account(uow: UnitOfWork, account_id: int) -> AccountRecord:
    """The account, inside an open unit of work; NotFound otherwise."""
    account = uow.accounts.get(account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id}", fields={"account": ["unknown account"]})
    return account


def refuse_the_pool(uow: UnitOfWork, account_id: int, action: str) -> None:
    """The backstop pool's system account belongs to its LPs: no key, no withdrawal of its capital
    except LP withdrawals at the NAV (``services.pool``); inside an open unit of work."""
    if uow.pool.account_id() == account_id:
        raise Forbidden(f"account {account_id} is the backstop pool: {action} is not allowed for it",
                        fields={"account": ["is the backstop pool"]})


def create_account(uow: UnitOfWork, clock: Clock, name: str) -> tuple[AccountRecord, str]:
    """A participant with an empty collateral account and one API key, returned in plaintext
    this once (only its hash is stored)."""
    name = valid_name(name)
    now = clock.now()
    key = api_keys.generate_key()
    duplicate = Conflict(f"an account named {name!r} already exists", fields={"name": ["already taken"]})
    with uow:
        if uow.accounts.by_name(name) is not None:
            raise duplicate
        try:
            account = uow.accounts.add(name, now)
            uow.api_keys.add(account.id, key.prefix, api_keys.hash_key(key.plaintext), now)
            uow.commit()
        except IntegrityError:  # created by someone else meanwhile
            raise duplicate from None
    return account, key.plaintext


def issue_api_key(uow: UnitOfWork, clock: Clock, account_id: int) -> str:
    """Another key for an existing account; the plaintext is returned once."""
    key = api_keys.generate_key()
    with uow:
        require_account(uow, account_id)
        refuse_the_pool(uow, account_id, "an API key")
        uow.api_keys.add(account_id, key.prefix, api_keys.hash_key(key.plaintext), clock.now())
        uow.commit()
    return key.plaintext


def revoke_api_key(uow: UnitOfWork, clock: Clock, prefix: str, *, account_id: int | None = None) -> None:
    """Revoke the active key ``prefix`` (of ``account_id`` when given: another account's key is
    NotFound, never a hint it exists)."""
    with uow:
        if account_id is not None:
            require_account(uow, account_id)
            key = uow.api_keys.by_prefix(prefix) if isinstance(prefix, str) else None
            if key is None or key.account_id != account_id:
                raise NotFound(f"account {account_id} has no API key {prefix!r}", fields={"prefix": ["unknown key"]})
        if not uow.api_keys.revoke(prefix, clock.now()):
            raise NotFound(f"no active API key with prefix {prefix!r}", fields={"prefix": ["unknown or revoked"]})
        uow.commit()


def revoke_all_api_keys(uow: UnitOfWork, clock: Clock, account_id: int) -> list[str]:
    """Revoke every active key of the account (a leaked key, a client gone); returns their prefixes."""
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        active = [k.prefix for k in uow.api_keys.of_account(account_id) if k.revoked_at is None]
        for prefix in active:
            uow.api_keys.revoke(prefix, now)
        uow.commit()
    return active


def refused_api_key() -> Unauthenticated:
    """The one answer to a missing, malformed, unknown or revoked key, wherever it is found out."""
    return Unauthenticated("missing, invalid or revoked API key",
                           fields={"Authorization": ["expected 'Bearer <API key>'"]})


def authenticate_api_key(uow: UnitOfWork, key: str | None) -> int:
    """The id of the account ``key`` belongs to; Unauthenticated for a missing, malformed,
    unknown or revoked key (the same answer, in about the same time, for each)."""
    return _authenticated(uow, key).account_id


def _authenticated(uow: UnitOfWork, key: str | None) -> ApiKeyRecord:
    key = key.strip() if isinstance(key, str) else ""
    prefix = api_keys.prefix_of(key)
    record = uow.read_api_key(prefix) if prefix is not None else None  # the hash is checked after it
    active = record is not None and record.revoked_at is None
    if not api_keys.verify_key(key, record.secret_hash if active else None):
        raise refused_api_key()
    return record


@dataclass(frozen=True)
class KeyHolder:
    """Whom an API key speaks for. ``unchecked_prefix`` is set when the key was recognised
    without a read (``identify_api_key``): whatever acts on the request must refuse it, in its
    own transaction, unless that key is still the account's and unrevoked (the exchange's batch
    does, ``OrderRequest.api_key_prefix``)."""

    account_id: int
    unchecked_prefix: str | None = None


# prefix -> (account id, stored hash) of keys this process read unrevoked and verified; a key's
# row never changes but for its revocation, which the holder's consumer checks (KeyHolder)
_recognised: OrderedDict[str, tuple[int, str]] = OrderedDict()
_recognised_lock = threading.Lock()
RECOGNISED_KEYS_SIZE = 10_000


def identify_api_key(uow: UnitOfWork, key: str | None) -> KeyHolder:
    """``authenticate_api_key`` for a request whose consumer checks revocation in its own
    transaction: a key read unrevoked and verified before in this process is recognised by its
    hash without reading its row (the order path's web request then sends no statement at all);
    any other key is authenticated as usual, and remembered when it passes. The same answers."""
    key = key.strip() if isinstance(key, str) else ""
    prefix = api_keys.prefix_of(key)
    with _recognised_lock:
        known = _recognised.get(prefix) if prefix is not None else None
        if known is not None:
            _recognised.move_to_end(prefix)
    if known is not None:
        account_id, secret_hash = known
        if not api_keys.verify_key(key, secret_hash):  # that prefix's hash never changes: refused
            raise refused_api_key()
        return KeyHolder(account_id, prefix)
    record = _authenticated(uow, key)
    with _recognised_lock:
        _recognised[record.prefix] = (record.account_id, record.secret_hash)
        while len(_recognised) > RECOGNISED_KEYS_SIZE:
            _recognised.popitem(last=False)
    return KeyHolder(record.account_id)


def forget_api_key(prefix: str) -> None:
    """Stop recognising ``prefix`` without a read (its key was found revoked)."""
    with _recognised_lock:
        _recognised.pop(prefix, None)


def resolve_account(uow: UnitOfWork, reference: str) -> AccountRecord:
    """An account by id (all digits) or by name."""
    reference = reference.strip()
    with uow.read_only():
        if reference.isdigit():
            account = uow.accounts.get(int(reference)) if len(reference) <= 18 else None
        else:
            account = uow.accounts.by_name(reference)
    if account is None:
        raise NotFound(f"no account with id or name {reference!r}", fields={"account": ["unknown account"]})
    return account


def account_summary(uow: UnitOfWork, account_id: int, margin: MarginView = engine_account_margin) -> AccountSummary:
    """Balances, equity, margin and status of the account, kept per process under a marker of the
    database's writes (``versioned_reads.WITNESSED``: an account read again with nothing written
    since costs one statement); read afresh while a simulation sets the parameters."""
    from hashedge.services.margin import simulating  # trading builds on this module

    return WITNESSED.current(uow, ("account_summary", account_id, margin),
                             lambda reader: _account_summary(reader, account_id, margin), keep=not simulating())


def _account_summary(uow: UnitOfWork, account_id: int, margin: MarginView) -> AccountSummary:
    """The summary, read inside ``uow``'s open block."""
    account = require_account(uow, account_id)
    collateral_sats = uow.ledger.balances([account.collateral]).get(account.collateral, 0)
    figures = margin(account.id, uow, collateral_sats)
    equity = collateral_sats + figures.unrealized_pnl_sats
    return AccountSummary(
        id=account.id, name=account.name, collateral_sats=collateral_sats, equity_sats=equity,
        initial_margin_sats=figures.initial_margin_sats,
        maintenance_margin_sats=figures.maintenance_margin_sats,
        unrealized_pnl_sats=figures.unrealized_pnl_sats,
        free_collateral_sats=equity - figures.initial_margin_sats, status=figures.status,
    )


@dataclass(frozen=True)
class AccountLine:
    account: AccountRecord
    collateral_sats: int
    active_keys: int


@dataclass(frozen=True)
class AccountsPage:
    items: list[AccountLine]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class KeyLine:
    prefix: str
    created_at: object
    revoked_at: object


def list_accounts(uow: UnitOfWork, *, name_contains: str | None = None, page: int = 1,
                  page_size: int = 25) -> AccountsPage:
    """Accounts by id, optionally those whose name contains the text, with their collateral."""
    if not 1 <= page <= 1_000_000 or not 1 <= page_size <= 500:
        raise InvalidInput("page out of range", fields={"page": ["page 1 to 1000000, size 1 to 500"]})
    text = (name_contains or "").strip()[:64] or None
    with uow.read_only():
        found = uow.accounts.search(text, limit=page_size, offset=(page - 1) * page_size)
        total = uow.accounts.count(text)
        balances = uow.ledger.balances([a.collateral for a in found])
        keys = uow.api_keys.active_counts(a.id for a in found)
    lines = [AccountLine(a, balances.get(a.collateral, 0), keys.get(a.id, 0)) for a in found]
    return AccountsPage(lines, total, page, page_size)


def list_api_keys(uow: UnitOfWork, account_id: int) -> list[KeyLine]:
    """The account's keys by prefix (never their hashes), newest first."""
    with uow.read_only():
        require_account(uow, account_id)
        return [KeyLine(k.prefix, k.created_at, k.revoked_at) for k in uow.api_keys.of_account(account_id)]


def account_names(uow: UnitOfWork, *, limit: int = 500) -> list[str]:
    """The names of the first ``limit`` accounts (the desk's suggestions for account fields)."""
    with uow.read_only():
        return [a.name for a in uow.accounts.search(None, limit=limit, offset=0)]

"""Double-entry journal in integer satoshis.

Sign convention
---------------
A posting's ``amount_sats`` is added to its account's balance, and every entry's postings
sum to zero, so **the sum of all balances is always zero**. A balance is what the platform
owes to (positive) or is owed by (negative) the account's holder:

- a participant's ``collateral`` balance is positive when the participant has money with us;
- ``fees``, ``insurance_fund``, ``backstop_pool``, ``community_fund`` are positive when they
  hold money; ``penalty_escrow`` holds liquidation penalties until the nightly split shares them
  out;
- ``external_custody`` mirrors the outside world: a deposit of 100 sats posts
  ``external_custody -100, collateral +100``, so custody goes negative by exactly the amount
  of bitcoin the platform holds in custody;
- ``settlement_clearing`` is the counterparty of variation margin and final settlement; it
  nets to zero across all positions except for sub-satoshi rounding residue (PnL is
  rounded down, against the account, so the residue is never negative).

Entries are immutable; a correction is a reversing entry (``reversal``). Each entry has an
idempotency key: applying an entry with a known key and the same content returns the
original; with different content it is an ``IdempotencyConflict``. "Same content" means the
same kind and the same postings; memo, times and ids are not compared, so a retried request
stamped a moment later is recognised as the same request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import (
    IdempotencyConflict,
    InvalidEntry,
    InvalidValue,
    LedgerOutOfBalance,
    UnbalancedEntry,
)
from hashedge.domain.units import require_sats


class AccountKind(str, Enum):
    COLLATERAL = "collateral"  # one per participant
    FEES = "fees"
    INSURANCE_FUND = "insurance_fund"
    BACKSTOP_POOL = "backstop_pool"
    COMMUNITY_FUND = "community_fund"
    SETTLEMENT_CLEARING = "settlement_clearing"
    EXTERNAL_CUSTODY = "external_custody"
    PENALTY_ESCROW = "penalty_escrow"
    PROTECTION_ESCROW = "protection_escrow"  # protection sellers' posted collateral


@dataclass(frozen=True)
class LedgerAccount:
    """A ledger account: a participant's collateral (with ``owner_id``) or a platform account."""

    kind: AccountKind
    owner_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AccountKind(self.kind))
        if self.kind is AccountKind.COLLATERAL:
            if not isinstance(self.owner_id, str) or not self.owner_id:
                raise InvalidValue("owner_id", self.owner_id, "a collateral account needs an owner")
        elif self.owner_id is not None:
            raise InvalidValue("owner_id", self.owner_id, f"platform account {self.kind.value} has no owner")

    @property
    def key(self) -> str:
        """Stable text key: ``collateral:<owner_id>`` or the platform account's kind."""
        return f"{self.kind.value}:{self.owner_id}" if self.owner_id else self.kind.value

    @classmethod
    def parse(cls, key: str) -> LedgerAccount:
        kind, _, owner = key.partition(":")
        return cls(AccountKind(kind), owner or None)

    def __str__(self) -> str:
        return self.key


def collateral(owner_id: str) -> LedgerAccount:
    return LedgerAccount(AccountKind.COLLATERAL, owner_id)


FEES = LedgerAccount(AccountKind.FEES)
INSURANCE_FUND = LedgerAccount(AccountKind.INSURANCE_FUND)
BACKSTOP_POOL = LedgerAccount(AccountKind.BACKSTOP_POOL)
COMMUNITY_FUND = LedgerAccount(AccountKind.COMMUNITY_FUND)
SETTLEMENT_CLEARING = LedgerAccount(AccountKind.SETTLEMENT_CLEARING)
EXTERNAL_CUSTODY = LedgerAccount(AccountKind.EXTERNAL_CUSTODY)
PENALTY_ESCROW = LedgerAccount(AccountKind.PENALTY_ESCROW)
PROTECTION_ESCROW = LedgerAccount(AccountKind.PROTECTION_ESCROW)
PLATFORM_ACCOUNTS = (FEES, INSURANCE_FUND, BACKSTOP_POOL, COMMUNITY_FUND, SETTLEMENT_CLEARING, EXTERNAL_CUSTODY,
                     PENALTY_ESCROW, PROTECTION_ESCROW)


class EntryKind(str, Enum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    FEE = "fee"
    VARIATION_MARGIN = "variation_margin"
    FINAL_SETTLEMENT = "final_settlement"
    TRANSFER = "transfer"
    PENALTY = "penalty"
    PREMIUM = "premium"
    POOL_DEPOSIT = "pool_deposit"
    REVERSAL = "reversal"
    SHORTFALL_COVER = "shortfall_cover"  # a waterfall stage pays an account's loss below zero
    PENALTY_DISTRIBUTION = "penalty_distribution"  # a date's penalty escrow shared out
    CONTRIBUTION = "contribution"  # the platform puts its own money into a fund
    FEE_DISTRIBUTION = "fee_distribution"  # a date's trading fees shared out
    PROTECTION = "protection"  # a protection contract's booking, collateral move, settlement or expiry


@dataclass(frozen=True)
class Posting:
    """``amount_sats`` added to ``account``'s balance; never zero, always an ``int``."""

    account: LedgerAccount
    amount_sats: int

    def __post_init__(self) -> None:
        if not isinstance(self.account, LedgerAccount):
            raise InvalidValue("account", self.account, "must be a LedgerAccount")
        require_sats(self.amount_sats)
        if self.amount_sats == 0:
            raise InvalidValue("amount_sats", 0, f"a posting to {self.account} cannot be zero")


@dataclass(frozen=True, kw_only=True)
class JournalEntry:
    """One business event: at least two postings on distinct accounts, summing to zero."""

    kind: EntryKind
    idempotency_key: str
    postings: tuple[Posting, ...]
    occurred_at: datetime
    memo: str = ""
    entry_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EntryKind(self.kind))
        object.__setattr__(self, "postings", tuple(self.postings))
        key = self.idempotency_key
        if not isinstance(key, str) or not key:
            raise InvalidValue("idempotency_key", key, "must be a non-empty string")
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.tzinfo is None:
            raise InvalidEntry(key, "occurred_at must be timezone-aware (UTC)")
        if len(self.postings) < 2:
            raise InvalidEntry(key, f"needs at least two postings, got {len(self.postings)}")
        accounts = [p.account for p in self.postings]
        if len(set(accounts)) != len(accounts):
            raise InvalidEntry(key, "an account appears in more than one posting; net them first")
        total = sum(p.amount_sats for p in self.postings)
        if total != 0:
            raise UnbalancedEntry(key, total)

    @property
    def content(self) -> tuple[EntryKind, tuple[tuple[str, int], ...]]:
        """What idempotency compares: the kind and the postings (order-insensitive)."""
        return self.kind, tuple(sorted((p.account.key, p.amount_sats) for p in self.postings))

    def amount_for(self, account: LedgerAccount) -> int:
        return sum(p.amount_sats for p in self.postings if p.account == account)


# --- builders for the standard events -------------------------------------------------


def _positive(amount_sats: int, field: str = "amount_sats") -> int:
    if require_sats(amount_sats, field) <= 0:
        raise InvalidValue(field, amount_sats, "must be positive")
    return amount_sats


def _entry(kind: EntryKind, moves: Mapping[LedgerAccount, int], key: str, at: datetime, memo: str) -> JournalEntry:
    postings = tuple(Posting(account, amount) for account, amount in moves.items() if amount != 0)
    return JournalEntry(kind=kind, idempotency_key=key, postings=postings, occurred_at=at, memo=memo)


def deposit(
    owner_id: str, amount_sats: int, *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """Bitcoin arrives in custody and is credited to the participant's collateral."""
    amount = _positive(amount_sats)
    moves = {EXTERNAL_CUSTODY: -amount, collateral(owner_id): amount}
    return _entry(EntryKind.DEPOSIT, moves, idempotency_key, occurred_at, memo)


def withdrawal(
    owner_id: str, amount_sats: int, *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """Collateral leaves the platform back to custody (check ``withdrawal_denial`` first)."""
    amount = _positive(amount_sats)
    moves = {collateral(owner_id): -amount, EXTERNAL_CUSTODY: amount}
    return _entry(EntryKind.WITHDRAWAL, moves, idempotency_key, occurred_at, memo)


def fee(
    owner_id: str, amount_sats: int, *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """A fee charged to the participant's collateral, credited to the fees account."""
    amount = _positive(amount_sats)
    moves = {collateral(owner_id): -amount, FEES: amount}
    return _entry(EntryKind.FEE, moves, idempotency_key, occurred_at, memo)


def transfer(
    source: LedgerAccount,
    destination: LedgerAccount,
    amount_sats: int,
    *,
    idempotency_key: str,
    occurred_at: datetime,
    kind: EntryKind = EntryKind.TRANSFER,
    memo: str = "",
) -> JournalEntry:
    """Move ``amount_sats`` from one account to another (fee splits, penalties, premiums...)."""
    amount = _positive(amount_sats)
    if source == destination:
        raise InvalidValue("destination", destination.key, "cannot transfer to the source account")
    return _entry(kind, {source: -amount, destination: amount}, idempotency_key, occurred_at, memo)


def penalty(
    owner_id: str, amount_sats: int, *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """A liquidation penalty from the participant's collateral into the penalty escrow."""
    amount = _positive(amount_sats)
    moves = {collateral(owner_id): -amount, PENALTY_ESCROW: amount}
    return _entry(EntryKind.PENALTY, moves, idempotency_key, occurred_at, memo)


def penalty_distribution(
    amounts_sats: Mapping[LedgerAccount, int], *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """A date's penalty escrow paid out: one posting per recipient, the escrow debited their sum."""
    return _payout(EntryKind.PENALTY_DISTRIBUTION, PENALTY_ESCROW, "the escrow", amounts_sats,
                   idempotency_key, occurred_at, memo)


def fee_distribution(
    amounts_sats: Mapping[LedgerAccount, int], *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """A date's fees paid out of the ``fees`` account: one posting per recipient."""
    return _payout(EntryKind.FEE_DISTRIBUTION, FEES, "the fees account", amounts_sats,
                   idempotency_key, occurred_at, memo)


def _payout(kind: EntryKind, source: LedgerAccount, source_name: str, amounts_sats: Mapping[LedgerAccount, int],
            idempotency_key: str, occurred_at: datetime, memo: str) -> JournalEntry:
    """``source`` pays each recipient its (positive) amount, one posting each, debited their sum."""
    moves = {account: _positive(amount, f"amounts_sats[{account}]") for account, amount in amounts_sats.items()}
    if source in moves:
        raise InvalidValue("amounts_sats", source.key, f"{source_name} cannot pay itself")
    moves[source] = -sum(moves.values())
    return _entry(kind, moves, idempotency_key, occurred_at, memo)


def shortfall_cover(
    source: LedgerAccount, owner_id: str, amount_sats: int, *, idempotency_key: str, occurred_at: datetime,
    memo: str = "",
) -> JournalEntry:
    """A waterfall stage (e.g. the insurance fund) pays part of an account's loss below zero."""
    return transfer(source, collateral(owner_id), amount_sats, idempotency_key=idempotency_key,
                    occurred_at=occurred_at, kind=EntryKind.SHORTFALL_COVER, memo=memo)


def contribution(
    fund: LedgerAccount, amount_sats: int, *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry:
    """The platform's own bitcoin, arriving in custody, credited to one of its funds."""
    amount = _positive(amount_sats)
    if fund.kind is AccountKind.COLLATERAL or fund == EXTERNAL_CUSTODY:
        raise InvalidValue("fund", fund.key, "is not a platform fund")
    return _entry(EntryKind.CONTRIBUTION, {EXTERNAL_CUSTODY: -amount, fund: amount}, idempotency_key, occurred_at, memo)


def protection(
    moves: Mapping[LedgerAccount, int], *, idempotency_key: str, occurred_at: datetime,
    kind: EntryKind = EntryKind.PROTECTION, memo: str = "",
) -> JournalEntry | None:
    """One protection event's money (booking, a night's premiums or collateral moves, a credit
    event's settlement, an expiry): any balanced set of moves; ``None`` when nothing moves."""
    if not any(moves.values()):
        return None
    return _entry(kind, moves, idempotency_key, occurred_at, memo)


def _against_clearing(
    kind: EntryKind, amounts_sats: Mapping[str, int], key: str, at: datetime, memo: str
) -> JournalEntry | None:
    moves: dict[LedgerAccount, int] = {}
    for owner_id, amount in amounts_sats.items():
        moves[collateral(owner_id)] = require_sats(amount, f"amounts_sats[{owner_id}]")
    moves[SETTLEMENT_CLEARING] = -sum(moves.values())
    if not any(moves.values()):
        return None
    return _entry(kind, moves, key, at, memo)


def variation_margin(
    pnl_sats_by_owner: Mapping[str, int], *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry | None:
    """Each participant's rounded PnL to or from collateral, against settlement clearing.

    Gains are positive, losses negative; clearing takes the opposite of their sum (zero
    when they net out). Returns ``None`` when every amount is zero (nothing to post).
    """
    return _against_clearing(EntryKind.VARIATION_MARGIN, pnl_sats_by_owner, idempotency_key, occurred_at, memo)


def final_settlement(
    amounts_sats_by_owner: Mapping[str, int], *, idempotency_key: str, occurred_at: datetime, memo: str = ""
) -> JournalEntry | None:
    """Final settlement of expired contracts, shaped like variation margin."""
    return _against_clearing(EntryKind.FINAL_SETTLEMENT, amounts_sats_by_owner, idempotency_key, occurred_at, memo)


def reversal(original: JournalEntry, *, idempotency_key: str, occurred_at: datetime, memo: str = "") -> JournalEntry:
    """The entry that undoes ``original`` (history is never edited)."""
    moves = {p.account: -p.amount_sats for p in original.postings}
    memo = memo or f"reverses {original.idempotency_key}"
    return _entry(EntryKind.REVERSAL, moves, idempotency_key, occurred_at, memo)


def withdrawal_denial(amount_sats: int, free_collateral_sats: int) -> Rejected | None:
    """Why a withdrawal is refused, or ``None`` if it may go ahead.

    ``free_collateral_sats`` is what the account may take out without falling below initial
    margin (computed by the margin engine; the plain balance when there are no positions).
    """
    if require_sats(amount_sats) <= 0:
        return Rejected(RejectReason.AMOUNT_NOT_POSITIVE, "amount_sats", "withdrawal amount must be positive")
    free = max(require_sats(free_collateral_sats, "free_collateral_sats"), 0)
    if amount_sats > free:
        shortfall = amount_sats - free
        return Rejected(
            RejectReason.INSUFFICIENT_FREE_COLLATERAL,
            "amount_sats",
            f"withdrawal of {amount_sats} sats exceeds free collateral of {free} sats by {shortfall} sats",
            shortfall_sats=shortfall,
        )
    return None


# --- the in-memory aggregate ------------------------------------------------------------


def balances_from(entries: Iterable[JournalEntry]) -> dict[LedgerAccount, int]:
    """Balances derived from a journal: the reference the stored balances are checked against."""
    balances: dict[LedgerAccount, int] = {}
    for entry in entries:
        for p in entry.postings:
            balances[p.account] = balances.get(p.account, 0) + p.amount_sats
    return balances


class Ledger:
    """An append-only journal with derived balances, kept in memory (tests and fakes).

    The database keeps the same journal; this class states the rules it must follow.
    """

    def __init__(self, entries: Iterable[JournalEntry] = ()):
        self._entries: list[JournalEntry] = []
        self._by_key: dict[str, JournalEntry] = {}
        self._balances: dict[LedgerAccount, int] = {}
        for entry in entries:
            self.apply(entry)

    def apply(self, entry: JournalEntry) -> JournalEntry:
        """Append ``entry``; return it, or the original entry if its key was already applied."""
        original = self._by_key.get(entry.idempotency_key)
        if original is not None:
            if original.content != entry.content:
                raise IdempotencyConflict(entry.idempotency_key, original, entry)
            return original
        self._entries.append(entry)
        self._by_key[entry.idempotency_key] = entry
        for p in entry.postings:
            self._balances[p.account] = self._balances.get(p.account, 0) + p.amount_sats
        return entry

    def get(self, idempotency_key: str) -> JournalEntry | None:
        return self._by_key.get(idempotency_key)

    @property
    def entries(self) -> tuple[JournalEntry, ...]:
        return tuple(self._entries)

    def balance(self, account: LedgerAccount) -> int:
        return self._balances.get(account, 0)

    def balances(self) -> dict[LedgerAccount, int]:
        return dict(self._balances)

    def total_sats(self) -> int:
        """Sum of every balance: zero, always (money is conserved)."""
        return sum(self._balances.values())

    def verify(self) -> None:
        """Recompute balances from the journal; raise ``LedgerOutOfBalance`` on any difference."""
        check_balances(self._balances, self._entries)


def check_balances(stored: Mapping[LedgerAccount, int], entries: Iterable[JournalEntry]) -> None:
    """Compare stored balances with the journal's; raise ``LedgerOutOfBalance`` on a mismatch."""
    derived = balances_from(entries)
    accounts = set(derived) | set(stored)
    differences = {
        a.key: (stored.get(a, 0), derived.get(a, 0)) for a in accounts if stored.get(a, 0) != derived.get(a, 0)
    }
    if differences:
        raise LedgerOutOfBalance("stored balances differ from the journal", differences)
    total = sum(derived.values())
    if total != 0:
        raise LedgerOutOfBalance(f"balances sum to {total} sats, expected 0")

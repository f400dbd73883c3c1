"""Repositories for participants, API keys and the journal: plain records and domain entries out,
never ORM rows.

The journal is written in the order the database enforces (``orm.ledger``): postings first, then
the entry row that seals them, then the participants' derived balances, all in the caller's
transaction; at its commit, ``complete`` applies the platform balances (in key order) and links
the entries into the hash chain (``repositories.journal_chain``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hashedge.adapters.bulk_rows import insert_rows
from hashedge.adapters.entry_id_reserve import reserve_of
from hashedge.adapters.orm.ledger import (
    AccountRow,
    ApiKeyRow,
    JournalEntryRow,
    JournalPostingRow,
    LedgerBalanceRow,
)
from hashedge.adapters.repositories.journal_chain import JournalChainRepository
from hashedge.adapters.write_pipeline import pipeline_of
from hashedge.domain.journal_chain import content_sha256
from hashedge.domain.ledger import AccountKind, JournalEntry, LedgerAccount, Posting, collateral

_BALANCES = LedgerBalanceRow.__table__
# PostgreSQL: add deltas to many balances in one execution (adapters.bulk_rows), lock rows in key
# order (in a write pipeline), and draw the journal's next ids
_INCREMENT_BALANCES = text(
    "UPDATE ledger_balances AS b SET balance_sats = b.balance_sats + v.delta "
    "FROM unnest(CAST(:keys AS text[]), CAST(:deltas AS bigint[])) AS v(account_key, delta) "
    "WHERE b.account_key = v.account_key")
_LOCK_BALANCES = text("SELECT account_key, balance_sats FROM ledger_balances "
                      "WHERE account_key = ANY(CAST(:keys AS text[])) ORDER BY account_key FOR UPDATE")
_NEXT_ENTRY_IDS = text("SELECT nextval('journal_entry_ids') FROM generate_series(1, :n)")
_MAX_ENTRY_ID = text("SELECT max(id) FROM journal_entries")  # SQLite's: built once, no ORM statement
_KEYS = ApiKeyRow.__table__
# Every authenticated API request runs this: built once and run as a plain statement (no ORM
# object is built for a record that is only read; ``UnitOfWork.read_api_key`` runs it without a
# session at all), the key check costs a third of what it did with an ORM query of the row in a
# unit of work (BENCHMARKS.md, part H).
_KEY_BY_PREFIX = select(_KEYS.c.prefix, _KEYS.c.account_id, _KEYS.c.secret_hash, _KEYS.c.created_at,
                        _KEYS.c.revoked_at).where(_KEYS.c.prefix == bindparam("prefix"))


def api_key_by_prefix(connection: Connection, prefix: str) -> ApiKeyRecord | None:
    """The API key with ``prefix`` (one statement on ``connection``, in its transaction)."""
    row = connection.execute(_KEY_BY_PREFIX, {"prefix": prefix}).one_or_none()
    return None if row is None else ApiKeyRecord(*row)


class KeyAlreadyPosted(Exception):
    """``append`` found the entry's idempotency key taken (by a concurrent transaction); nothing
    was written and the caller's transaction is still usable."""


@dataclass(frozen=True)
class AccountRecord:
    id: int
    name: str
    created_at: datetime

    @property
    def collateral(self) -> LedgerAccount:
        return collateral_of(self.id)


@dataclass(frozen=True)
class ApiKeyRecord:
    prefix: str
    account_id: int
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class RecordedEntry:
    """A journal entry as stored: the domain entry (``entry_id`` set) and when it was recorded."""

    id: int
    entry: JournalEntry
    recorded_at: datetime


@dataclass(frozen=True)
class Movement:
    """One entry's effect on one ledger account (a statement line before its running balance)."""

    entry_id: int
    kind: str
    memo: str
    occurred_at: datetime
    recorded_at: datetime
    amount_sats: int


def collateral_of(account_id: int) -> LedgerAccount:
    """The participant's collateral ledger account; the domain keys owners by text."""
    return collateral(str(account_id))


def _account(row: AccountRow) -> AccountRecord:
    return AccountRecord(row.id, row.name, row.created_at)


class AccountRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, name: str, created_at: datetime) -> AccountRecord:
        """A participant and its (empty) collateral ledger account."""
        row = AccountRow(name=name, created_at=created_at)
        self.session.add(row)
        self.session.flush()
        self.session.execute(insert(LedgerBalanceRow), [{
            "account_key": collateral_of(row.id).key, "kind": AccountKind.COLLATERAL.value,
            "owner_id": row.id, "balance_sats": 0,
        }])
        return _account(row)

    def get(self, account_id: int) -> AccountRecord | None:
        table = AccountRow.__table__  # a plain row: read on every request and every order
        row = self.session.execute(select(table).where(table.c.id == account_id)).first()
        return _account(row) if row else None

    def existing(self, account_ids) -> set[int]:
        """Which of ``account_ids`` (ints; anything else is not an account) exist: one statement."""
        wanted = sorted({a for a in account_ids if isinstance(a, int) and not isinstance(a, bool)})
        if not wanted:
            return set()
        table = AccountRow.__table__
        return set(self.session.scalars(select(table.c.id).where(table.c.id.in_(wanted))))

    def names(self) -> dict[int, str]:
        return dict(self.session.execute(select(AccountRow.id, AccountRow.name)).all())

    def by_name(self, name: str) -> AccountRecord | None:
        row = self.session.scalar(select(AccountRow).where(AccountRow.name == name))
        return _account(row) if row else None

    def _matching(self, query, name_contains: str | None):
        if name_contains:
            escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(AccountRow.name).like(f"%{escaped.lower()}%", escape="\\"))
        return query

    def search(self, name_contains: str | None = None, *, limit: int, offset: int) -> list[AccountRecord]:
        """Accounts whose name contains ``name_contains`` (any case), by id."""
        query = self._matching(select(AccountRow), name_contains).order_by(AccountRow.id).limit(limit).offset(offset)
        return [_account(row) for row in self.session.scalars(query)]

    def count(self, name_contains: str | None = None) -> int:  # noqa: D401 - all accounts without a filter
        return int(self.session.scalar(self._matching(select(func.count()).select_from(AccountRow),
                                                      name_contains)) or 0)


class ApiKeyRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, account_id: int, prefix: str, secret_hash: str, created_at: datetime) -> None:
        self.session.add(ApiKeyRow(account_id=account_id, prefix=prefix, secret_hash=secret_hash,
                                   created_at=created_at))
        self.session.flush()

    def by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        return api_key_by_prefix(self.session.connection(), prefix)

    def of_account(self, account_id: int) -> list[ApiKeyRecord]:
        """The account's keys, newest first (hashes included; callers show prefixes only)."""
        rows = self.session.scalars(select(ApiKeyRow).where(ApiKeyRow.account_id == account_id)
                                    .order_by(ApiKeyRow.id.desc()))
        return [ApiKeyRecord(r.prefix, r.account_id, r.secret_hash, r.created_at, r.revoked_at) for r in rows]

    def active_counts(self, account_ids) -> dict[int, int]:
        """How many unrevoked keys each of ``account_ids`` holds (one query)."""
        ids = list(account_ids)
        if not ids:
            return {}
        rows = self.session.execute(select(ApiKeyRow.account_id, func.count()).where(
            ApiKeyRow.account_id.in_(ids), ApiKeyRow.revoked_at.is_(None)).group_by(ApiKeyRow.account_id))
        return {int(account_id): int(count) for account_id, count in rows.all()}

    def active_holders(self, holders: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Of these (prefix, account id) pairs, the ones naming an unrevoked key of that account."""
        if not holders:
            return set()
        rows = self.session.execute(select(ApiKeyRow.prefix, ApiKeyRow.account_id).where(
            ApiKeyRow.prefix.in_(sorted({prefix for prefix, _ in holders})), ApiKeyRow.revoked_at.is_(None)))
        return {(prefix, int(account_id)) for prefix, account_id in rows.all()} & holders

    def revoke(self, prefix: str, revoked_at: datetime) -> bool:
        result = self.session.execute(
            update(ApiKeyRow).where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=revoked_at)
        )
        return result.rowcount == 1


class LedgerRepository:
    def __init__(self, session: Session):
        self.session = session
        self.chain = JournalChainRepository(session)
        self._platform_deltas: dict[str, int] = {}  # platform account key -> sats, until complete()
        self._appended: list[tuple[int, str]] = []  # (entry id, content hash), until complete()

    # --- balances ------------------------------------------------------------------------

    def lock_balances(self, accounts) -> dict[LedgerAccount, int]:
        """Balances of ``accounts``, their rows locked until the transaction ends.

        Rows are locked in account-key order, so writers touching the same accounts queue up
        instead of deadlocking. PostgreSQL takes row locks (``FOR UPDATE``); SQLite holds the
        database write lock from ``BEGIN IMMEDIATE`` (see ``database.make_engine``) instead.
        Accounts without a balance row are left out.
        """
        return self.lock_balances_later(accounts)()

    def lock_balances_later(self, accounts) -> Callable[[], dict[LedgerAccount, int]]:
        """``lock_balances``, answered by the function returned: inside a write pipeline the locks
        are queued in their turn and read with the next answer wanted
        (``adapters.write_pipeline``), else taken at once."""
        keys = sorted({account.key for account in accounts})
        if not keys:
            return dict
        if (pipeline := pipeline_of(self.session)) is not None:
            rows = pipeline.later(_LOCK_BALANCES, {"keys": keys})
            return lambda: {LedgerAccount.parse(key): balance for key, balance in rows()}
        rows = self.session.execute(
            select(LedgerBalanceRow.account_key, LedgerBalanceRow.balance_sats)
            .where(LedgerBalanceRow.account_key.in_(keys))
            .order_by(LedgerBalanceRow.account_key)
            .with_for_update()
        ).all()
        locked = {LedgerAccount.parse(key): balance for key, balance in rows}
        return lambda: locked

    def lock_balance_rows(self, accounts) -> None:
        """``lock_balances`` for a caller that only needs the locks: on SQLite no statement at all,
        since the transaction already holds the database's write lock (``BEGIN IMMEDIATE``)."""
        if self.session.get_bind().dialect.name == "sqlite":
            return
        if pipeline_of(self.session) is not None:  # queued in their turn; their answer is not read
            self.lock_balances_later(accounts)
            return
        self.lock_balances(accounts)

    def balances(self, accounts=None) -> dict[LedgerAccount, int]:
        """Stored (derived) balances, of every ledger account or of ``accounts``; no locks.
        Platform increments this transaction has not applied yet are counted."""
        query = select(LedgerBalanceRow.account_key, LedgerBalanceRow.balance_sats)
        if accounts is not None:
            query = query.where(LedgerBalanceRow.account_key.in_([a.key for a in accounts]))
        return {LedgerAccount.parse(key): balance + self._platform_deltas.get(key, 0)
                for key, balance in self.session.execute(query).all()}

    def collateral_balances(self) -> dict[str, int]:
        """Every participant's collateral balance keyed by account id as text (the risk sweep)."""
        rows = self.session.execute(select(LedgerBalanceRow.owner_id, LedgerBalanceRow.balance_sats).where(
            LedgerBalanceRow.kind == AccountKind.COLLATERAL.value)).all()
        return {str(owner): balance for owner, balance in rows}

    def journal_balances(self) -> dict[LedgerAccount, int]:
        """Balances recomputed from every posting in the journal (reconciliation)."""
        rows = self.session.execute(
            select(JournalPostingRow.account_key, func.sum(JournalPostingRow.amount_sats))
            .group_by(JournalPostingRow.account_key)
        ).all()
        return {LedgerAccount.parse(key): int(total) for key, total in rows}

    def unbalanced_entries(self) -> dict[int, int]:
        """Entry id -> sum of its postings, for every entry that does not sum to zero."""
        rows = self.session.execute(
            select(JournalPostingRow.entry_id, func.sum(JournalPostingRow.amount_sats))
            .group_by(JournalPostingRow.entry_id)
            .having(func.sum(JournalPostingRow.amount_sats) != 0)
        ).all()
        return {entry_id: int(total) for entry_id, total in rows}

    # --- the journal ---------------------------------------------------------------------

    def _next_entry_id(self) -> int:
        if self.session.get_bind().dialect.name == "postgresql":
            return self.session.scalar(text("SELECT nextval('journal_entry_ids')"))
        # SQLite: writers are serialized (BEGIN IMMEDIATE), and append() writes the entry row
        # before anyone can ask again, so the next id is simply one past the largest.
        return (self.session.scalar(select(func.max(JournalEntryRow.id))) or 0) + 1

    def append(self, entry: JournalEntry, recorded_at: datetime) -> RecordedEntry:
        """Write ``entry``: postings, then the sealing entry row, then the participants' derived
        balances; the platform balances and the entry's link in the hash chain follow at
        ``complete`` (the unit of work's commit).

        Callers decide first (idempotency, denials) under ``lock_balances``; see
        ``services.ledger.post``. Runs in a savepoint so that a key taken meanwhile
        (``KeyAlreadyPosted``) leaves the caller's transaction intact.
        """
        platform_before = dict(self._platform_deltas)
        try:
            with self.session.begin_nested():
                entry_id = self._next_entry_id()
                self._write(entry_id, entry, recorded_at)
        except IntegrityError as exc:
            self._platform_deltas = platform_before  # the savepoint took the entry back
            if "idempotency_key" in str(exc.orig):
                raise KeyAlreadyPosted(entry.idempotency_key) from exc
            raise
        self._appended.append((entry_id, content_sha256(entry_id, entry, recorded_at)))
        return _as_recorded(entry_id, entry, recorded_at)  # what was just written, without reading it back

    def append_new(self, entries: list[JournalEntry], recorded_at: datetime) -> list[RecordedEntry]:
        """Write ``entries``, in order, whose idempotency keys are new by construction (the caller's
        locks make them so: see ``services.ledger.post_new``), their participants' rows locked by
        the caller: one INSERT of all postings, one of the entry rows, one UPDATE per participant
        balance; platform balances and hash-chain links at ``complete`` as for ``append``. No
        lookup, no savepoint: a key that exists anyway fails the transaction (unique index)."""
        if not entries:
            return []
        ids = self._next_entry_ids(len(entries))
        insert_rows(self.session, JournalPostingRow.__table__, [
            {"entry_id": entry_id, "account_key": p.account.key, "amount_sats": p.amount_sats}
            for entry_id, entry in zip(ids, entries) for p in entry.postings])
        insert_rows(self.session, JournalEntryRow.__table__, [{
            "id": entry_id, "kind": entry.kind.value, "idempotency_key": entry.idempotency_key,
            "memo": entry.memo, "occurred_at": entry.occurred_at, "recorded_at": recorded_at,
        } for entry_id, entry in zip(ids, entries)])
        participants: dict[str, int] = {}
        for entry in entries:
            for posting in entry.postings:
                key = posting.account.key
                if posting.account.kind is AccountKind.COLLATERAL:
                    participants[key] = participants.get(key, 0) + posting.amount_sats
                else:
                    self._platform_deltas[key] = self._platform_deltas.get(key, 0) + posting.amount_sats
        self._increment({key: delta for key, delta in sorted(participants.items()) if delta})
        self._appended.extend((entry_id, content_sha256(entry_id, entry, recorded_at))
                              for entry_id, entry in zip(ids, entries))
        return [_as_recorded(entry_id, entry, recorded_at) for entry_id, entry in zip(ids, entries)]

    def _next_entry_ids(self, count: int) -> list[int]:
        if self.session.get_bind().dialect.name == "postgresql":
            if (pipeline := pipeline_of(self.session)) is not None:
                # from the process's reserve, so the journal's writes wait for no answer
                # (adapters/entry_id_reserve.py); it draws a block in a round trip when short
                return reserve_of(pipeline.connection.engine).take(
                    count, lambda n: [value for (value,) in pipeline.rows(_NEXT_ENTRY_IDS, {"n": n})])
            return sorted(self.session.scalars(_NEXT_ENTRY_IDS, {"n": count}))
        first = (self.session.execute(_MAX_ENTRY_ID).scalar() or 0) + 1  # writers serialized
        return list(range(first, first + count))

    def _write(self, entry_id: int, entry: JournalEntry, recorded_at: datetime) -> None:
        self.session.execute(insert(JournalPostingRow), [
            {"entry_id": entry_id, "account_key": p.account.key, "amount_sats": p.amount_sats}
            for p in entry.postings
        ])
        self.session.execute(insert(JournalEntryRow), [{
            "id": entry_id, "kind": entry.kind.value, "idempotency_key": entry.idempotency_key,
            "memo": entry.memo, "occurred_at": entry.occurred_at, "recorded_at": recorded_at,
        }])
        # Participants' rows were locked by the caller before deciding: update them now. Platform
        # accounts are only ever incremented, and not now: their deltas wait for complete(), which
        # applies them once per account, in key order, at the end of the transaction.
        participants: dict[str, int] = {}
        for posting in entry.postings:
            key = posting.account.key
            if posting.account.kind is AccountKind.COLLATERAL:
                participants[key] = participants.get(key, 0) + posting.amount_sats
            else:
                self._platform_deltas[key] = self._platform_deltas.get(key, 0) + posting.amount_sats
        self._increment(dict(sorted(participants.items())))

    def _increment(self, deltas: dict[str, int]) -> None:
        """Add ``deltas`` (account key -> sats) to the stored balances, in the dict's order."""
        if not deltas:
            return
        if (pipeline := pipeline_of(self.session)) is not None:
            pipeline.write(_INCREMENT_BALANCES, {"keys": list(deltas), "deltas": list(deltas.values())})
            return
        if len(deltas) > 1 and self.session.get_bind().dialect.name == "postgresql":
            # One UPDATE ... FROM unnest instead of an execution per row (adapters.bulk_rows; one
            # source row per target row: deltas are per account). A settlement entry moves
            # thousands of balances, an exchange batch's fills a few dozen.
            self.session.execute(_INCREMENT_BALANCES, {"keys": list(deltas), "deltas": list(deltas.values())})
            return
        self.session.execute(
            update(_BALANCES)
            .where(_BALANCES.c.account_key == bindparam("key"))
            .values(balance_sats=_BALANCES.c.balance_sats + bindparam("delta")),
            [{"key": key, "delta": delta} for key, delta in deltas.items()],
        )

    def complete(self) -> None:
        """Finish what this transaction's appends left for the end; the unit of work calls it
        just before committing. Platform balances are incremented once per account, in key
        order (the last row locks the transaction takes), then the appended entries are linked
        into the hash chain (under the chain lock, the very last lock)."""
        deltas = {key: delta for key, delta in sorted(self._platform_deltas.items()) if delta}
        appended = self._appended
        self.discard()
        self._increment(deltas)
        self.chain.extend(appended)

    def discard(self) -> None:
        """Forget deferred work (the transaction rolled back)."""
        self._platform_deltas = {}
        self._appended = []

    def find(self, idempotency_key: str) -> RecordedEntry | None:
        entry_id = self.session.scalar(
            select(JournalEntryRow.id).where(JournalEntryRow.idempotency_key == idempotency_key)
        )
        return None if entry_id is None else self._recorded(entry_id)

    def entries(self) -> list[RecordedEntry]:
        """The whole journal in the order it was written (tests and audits; not a hot path)."""
        ids = self.session.scalars(select(JournalEntryRow.id).order_by(JournalEntryRow.id)).all()
        return [self._recorded(entry_id) for entry_id in ids]

    def _recorded(self, entry_id: int) -> RecordedEntry:
        row = self.session.execute(
            select(JournalEntryRow.kind, JournalEntryRow.idempotency_key, JournalEntryRow.memo,
                   JournalEntryRow.occurred_at, JournalEntryRow.recorded_at)
            .where(JournalEntryRow.id == entry_id)
        ).one()
        postings = self.session.execute(
            select(JournalPostingRow.account_key, JournalPostingRow.amount_sats)
            .where(JournalPostingRow.entry_id == entry_id)
            .order_by(JournalPostingRow.account_key)
        ).all()
        entry = JournalEntry(
            kind=row.kind, idempotency_key=row.idempotency_key, occurred_at=row.occurred_at,
            memo=row.memo, entry_id=str(entry_id),
            postings=tuple(Posting(LedgerAccount.parse(key), amount) for key, amount in postings),
        )
        return RecordedEntry(entry_id, entry, row.recorded_at)

    # --- statements ----------------------------------------------------------------------

    def _movements(self, account: LedgerAccount, start: datetime | None, end: datetime | None):
        query = (
            select(JournalEntryRow.id, JournalEntryRow.kind, JournalEntryRow.memo,
                   JournalEntryRow.occurred_at, JournalEntryRow.recorded_at, JournalPostingRow.amount_sats)
            .join(JournalPostingRow, JournalPostingRow.entry_id == JournalEntryRow.id)
            .where(JournalPostingRow.account_key == account.key)
        )
        if start is not None:
            query = query.where(JournalEntryRow.occurred_at >= start)
        if end is not None:
            query = query.where(JournalEntryRow.occurred_at <= end)
        return query

    def movements(self, account: LedgerAccount, *, start=None, end=None, limit: int, offset: int) -> list[Movement]:
        """The account's postings with occurred_at in [start, end], by (occurred_at, entry id)."""
        query = (self._movements(account, start, end)
                 .order_by(JournalEntryRow.occurred_at, JournalEntryRow.id).limit(limit).offset(offset))
        return [Movement(*row) for row in self.session.execute(query).all()]

    def totals_by_kind(self, account: LedgerAccount) -> dict[str, int]:
        """What each kind of entry added to the account, in all."""
        rows = self.session.execute(
            select(JournalEntryRow.kind, func.sum(JournalPostingRow.amount_sats))
            .join(JournalPostingRow, JournalPostingRow.entry_id == JournalEntryRow.id)
            .where(JournalPostingRow.account_key == account.key).group_by(JournalEntryRow.kind)).all()
        return {kind: int(total) for kind, total in rows}

    def count_movements(self, account: LedgerAccount, *, start=None, end=None) -> int:
        subquery = self._movements(account, start, end).subquery()
        return self.session.scalar(select(func.count()).select_from(subquery)) or 0

    def balance_before(self, account: LedgerAccount, occurred_at: datetime, entry_id: int) -> int:
        """The account's balance just before entry ``entry_id`` in (occurred_at, id) order."""
        return self._sum(account, or_(JournalEntryRow.occurred_at < occurred_at,
                                      and_(JournalEntryRow.occurred_at == occurred_at,
                                           JournalEntryRow.id < entry_id)))

    def balance_through(self, account: LedgerAccount, end: datetime | None) -> int:
        """The account's balance counting every entry that occurred at or before ``end``."""
        return self._sum(account, JournalEntryRow.occurred_at <= end if end is not None else true())

    def _sum(self, account: LedgerAccount, condition) -> int:
        total = self.session.scalar(
            select(func.sum(JournalPostingRow.amount_sats))
            .join(JournalEntryRow, JournalPostingRow.entry_id == JournalEntryRow.id)
            .where(JournalPostingRow.account_key == account.key, condition)
        )
        return int(total or 0)


def _as_recorded(entry_id: int, entry: JournalEntry, recorded_at: datetime) -> RecordedEntry:
    """The entry as ``_recorded`` would read it back: id set, postings in account order, UTC times."""
    stored = dataclasses.replace(entry, entry_id=str(entry_id), occurred_at=entry.occurred_at.astimezone(timezone.utc),
                                 postings=tuple(sorted(entry.postings, key=lambda p: p.account.key)))
    return RecordedEntry(entry_id, stored, recorded_at.astimezone(timezone.utc))

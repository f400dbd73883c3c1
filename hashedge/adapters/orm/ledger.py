"""SQLAlchemy 2 table mappings for participants, API keys and the double-entry journal.

The schema is owned by Alembic (``versions/0002_ledger_and_accounts.py``), which also installs
the database-level invariants these classes cannot express:

- a journal entry is written *after* its postings and seals them: inserting an entry whose
  postings are fewer than two or do not sum to zero is refused by a trigger, a posting for an
  entry that already exists is refused by a trigger, and a posting whose entry never arrives
  fails the commit (deferred foreign key);
- journal rows are never updated or deleted (triggers), like fixings; on SQLite, where
  ``INSERT OR REPLACE`` deletes without firing DELETE triggers, BEFORE INSERT triggers refuse a
  row whose key exists (``versions/0005_journal_chain.py``);
- every entry has a link in the hash chain (``journal_chain``, ``hashedge/domain/JOURNAL.md``),
  which ``hashedge ledger check`` verifies, so a rewrite is found even by someone who can drop
  the triggers.

``ledger_balances`` is derived: one row per ledger account, updated in the transaction that
writes the postings, and the row a writer locks before reading a balance it will act on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime

# BIGINT on PostgreSQL; INTEGER on SQLite so the column is the rowid alias.
EntryId = BigInteger().with_variant(Integer(), "sqlite")

ACCOUNT_NAME_LENGTH = 64
IDEMPOTENCY_KEY_LENGTH = 200
ACCOUNT_KEY_LENGTH = 80


class AccountRow(Base):
    """A participant (miner, trader, counterparty of the desk)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """An API key scoped to one account: looked up by its public prefix, verified by its hash.

    The secret itself is never stored; ``secret_hash`` is a self-describing salted hash
    (``hashedge.adapters.api_keys``).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LedgerBalanceRow(Base):
    """The derived balance of one ledger account (``collateral:<account id>`` or a platform
    account such as ``fees``); checked against the journal by ``services.ledger.check_balances``."""

    __tablename__ = "ledger_balances"

    account_key: Mapped[str] = mapped_column(String(ACCOUNT_KEY_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True, unique=True)
    balance_sats: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        CheckConstraint("(kind = 'collateral') = (owner_id IS NOT NULL)", name="owner_iff_collateral"),
    )


class JournalEntryRow(Base):
    """One business event. Written after its postings, never updated or deleted."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(EntryId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH), unique=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JournalPostingRow(Base):
    """``amount_sats`` added to ``account_key``'s balance by entry ``entry_id``."""

    __tablename__ = "journal_postings"

    entry_id: Mapped[int] = mapped_column(EntryId, primary_key=True, autoincrement=False)
    account_key: Mapped[str] = mapped_column(
        String(ACCOUNT_KEY_LENGTH), ForeignKey("ledger_balances.account_key"), primary_key=True
    )
    amount_sats: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        ForeignKeyConstraint(["entry_id"], ["journal_entries.id"], deferrable=True, initially="DEFERRED"),
        CheckConstraint("amount_sats <> 0", name="amount_non_zero"),
        Index("ix_journal_postings_account_key_entry_id", "account_key", "entry_id"),
    )


class JournalChainRow(Base):
    """Link ``seq`` of the journal's hash chain (``hashedge.domain.journal_chain``): one per entry,
    numbered in commit order, written in the transaction that appends the entry; immutable."""

    __tablename__ = "journal_chain"

    seq: Mapped[int] = mapped_column(EntryId, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(EntryId, ForeignKey("journal_entries.id"), unique=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    chain_sha256: Mapped[str] = mapped_column(String(64))

"""Hardening: the journal's hash chain, no more INSERT OR REPLACE on SQLite, job runs with owners.

- ``journal_chain``: one link per journal entry, numbered in commit order, holding the SHA-256
  of the entry's canonical content and the chain hash through it
  (``hashedge.domain.journal_chain``, ``hashedge/domain/JOURNAL.md``). Existing entries are
  linked here, in id order (the order they were written while nothing ran concurrently: the
  migration runs alone). Links are immutable like the journal (triggers).
- SQLite resolves ``INSERT OR REPLACE`` by deleting the old row *without* firing DELETE triggers,
  so fixings and journal entries could be rewritten. BEFORE INSERT triggers now refuse a row whose
  key already exists, on ``fixings``, ``journal_entries`` and ``journal_chain`` (a posting for an
  existing entry was already refused: ``journal_postings_unsealed``). PostgreSQL's ``ON CONFLICT
  DO UPDATE`` fires the UPDATE triggers, which refuse it already.
- ``job_runs.owner``: the scheduler process (lease holder) that claimed the run, so a run left
  ``running`` by a leader that died or lost its lease is recognised as stale and run again;
  ``job_runs.attempts``: how many times the slot was claimed (failed, abandoned and stale runs
  are claimed again).

Revision ID: 0005
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime
from hashedge.domain.journal_chain import StoredContent, extend

revision = "0005"
down_revision = "0008"
branch_labels = None
depends_on = None

ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_IMMUTABLE = "the journal is immutable: post a reversing entry instead"
_FIXING_EXISTS = "fixings are immutable: this fixing exists; publish a correction as a new version"
_ENTRY_ID_EXISTS = "the journal is immutable: an entry with this id exists"
_ENTRY_KEY_EXISTS = "the journal is immutable: this idempotency_key was already posted"
_LINK_EXISTS = "the journal is immutable: this hash-chain link exists"


def upgrade() -> None:
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "journal_chain",
        sa.Column("seq", ENTRY_ID, nullable=False, autoincrement=False),
        sa.Column("entry_id", ENTRY_ID, nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("chain_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_journal_chain"),
        sa.ForeignKeyConstraint(["entry_id"], ["journal_entries.id"], name="fk_journal_chain_entry_id_journal_entries"),
        sa.UniqueConstraint("entry_id", name="uq_journal_chain_entry_id"),
    )
    _link_existing_entries()
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER journal_chain_immutable BEFORE UPDATE OR DELETE ON journal_chain "
                   "FOR EACH ROW EXECUTE FUNCTION hashedge_journal_immutable()")
        op.execute("CREATE TRIGGER journal_chain_no_truncate BEFORE TRUNCATE ON journal_chain "
                   "FOR EACH STATEMENT EXECUTE FUNCTION hashedge_journal_immutable()")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER journal_chain_no_{event.lower()} BEFORE {event} ON journal_chain "
                   f"BEGIN SELECT RAISE(ABORT, '{_IMMUTABLE}'); END")
    _refuse_existing("fixings_no_replace", "fixings",
                     "id = NEW.id OR (index_name = NEW.index_name AND kind = NEW.kind AND as_of = NEW.as_of "
                     "AND version = NEW.version)", _FIXING_EXISTS)
    _refuse_existing("journal_entries_no_replace_id", "journal_entries", "id = NEW.id", _ENTRY_ID_EXISTS)
    _refuse_existing("journal_entries_no_replace_key", "journal_entries",
                     "idempotency_key = NEW.idempotency_key", _ENTRY_KEY_EXISTS)
    _refuse_existing("journal_chain_no_replace", "journal_chain", "seq = NEW.seq OR entry_id = NEW.entry_id",
                     _LINK_EXISTS)


def _refuse_existing(name: str, table: str, condition: str, message: str) -> None:
    op.execute(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
               f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {condition}) "
               f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def _link_existing_entries() -> None:
    connection = op.get_bind()
    entries = sa.table("journal_entries", sa.column("id", ENTRY_ID), sa.column("kind", sa.String),
                       sa.column("idempotency_key", sa.String), sa.column("memo", sa.Text),
                       sa.column("occurred_at", UTCDateTime), sa.column("recorded_at", UTCDateTime))
    postings = sa.table("journal_postings", sa.column("entry_id", ENTRY_ID), sa.column("account_key", sa.String),
                        sa.column("amount_sats", sa.BigInteger))
    by_entry: dict[int, list[tuple[str, int]]] = {}
    for entry_id, key, amount in connection.execute(
            sa.select(postings.c.entry_id, postings.c.account_key, postings.c.amount_sats)):
        by_entry.setdefault(entry_id, []).append((key, int(amount)))
    contents = [
        (row.id, StoredContent(row.id, row.kind, row.idempotency_key, row.memo, row.occurred_at, row.recorded_at,
                               tuple(by_entry.get(row.id, ()))).sha256())
        for row in connection.execute(sa.select(entries).order_by(entries.c.id))
    ]
    links = extend(None, contents)
    if links:
        chain = sa.table("journal_chain", sa.column("seq"), sa.column("entry_id"), sa.column("content_sha256"),
                         sa.column("chain_sha256"))
        op.bulk_insert(chain, [{"seq": link.seq, "entry_id": link.entry_id, "content_sha256": link.content_sha256,
                                "chain_sha256": link.chain_sha256} for link in links])


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_chain_no_truncate ON journal_chain")
        op.execute("DROP TRIGGER IF EXISTS journal_chain_immutable ON journal_chain")
    else:
        for name in ("fixings_no_replace", "journal_entries_no_replace_id", "journal_entries_no_replace_key",
                     "journal_chain_no_replace", "journal_chain_no_update", "journal_chain_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("journal_chain")
    with op.batch_alter_table("job_runs") as batch:
        batch.drop_column("attempts")
        batch.drop_column("owner")

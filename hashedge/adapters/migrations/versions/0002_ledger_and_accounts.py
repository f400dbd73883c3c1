"""Participants, API keys, the double-entry journal and derived balances.

Invariants held by the database itself, on SQLite and PostgreSQL alike:

- every posting is non-zero (check) and names a known ledger account (foreign key); an account
  appears at most once per entry (primary key);
- postings are written first and the entry row seals them: a trigger refuses an entry whose
  postings are fewer than two or do not sum to zero, another refuses a posting for an entry
  that already exists, and the deferred foreign key from postings to entries fails the commit
  of any posting whose entry never arrives. So a committed entry always balances;
- journal entries and postings are immutable (triggers refuse UPDATE and DELETE, and TRUNCATE
  on PostgreSQL); a correction is a reversing entry.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PLATFORM_ACCOUNTS = ("fees", "insurance_fund", "backstop_pool", "community_fund",
                     "settlement_clearing", "external_custody")

_IMMUTABLE = "the journal is immutable: post a reversing entry instead"
_UNBALANCED = "journal entry rejected: it needs at least two postings that sum to zero"
_SEALED = "journal entry already written: its postings cannot change"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("name", name="uq_accounts_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_api_keys_account_id_accounts"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_index("ix_api_keys_account_id", "api_keys", ["account_id"])
    op.create_table(
        "ledger_balances",
        sa.Column("account_key", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=True),
        sa.Column("balance_sats", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("account_key", name="pk_ledger_balances"),
        sa.ForeignKeyConstraint(["owner_id"], ["accounts.id"], name="fk_ledger_balances_owner_id_accounts"),
        sa.UniqueConstraint("owner_id", name="uq_ledger_balances_owner_id"),
        sa.CheckConstraint("(kind = 'collateral') = (owner_id IS NOT NULL)",
                           name="owner_iff_collateral"),
    )
    op.bulk_insert(
        sa.table("ledger_balances", sa.column("account_key"), sa.column("kind"), sa.column("owner_id"),
                 sa.column("balance_sats")),
        [{"account_key": key, "kind": key, "owner_id": None, "balance_sats": 0} for key in PLATFORM_ACCOUNTS],
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", ENTRY_ID, nullable=False, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("memo", sa.Text, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal_entries"),
        sa.UniqueConstraint("idempotency_key", name="uq_journal_entries_idempotency_key"),
    )
    op.create_index("ix_journal_entries_occurred_at", "journal_entries", ["occurred_at"])
    op.create_table(
        "journal_postings",
        sa.Column("entry_id", ENTRY_ID, nullable=False, autoincrement=False),
        sa.Column("account_key", sa.String(80), nullable=False),
        sa.Column("amount_sats", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "account_key", name="pk_journal_postings"),
        sa.ForeignKeyConstraint(["entry_id"], ["journal_entries.id"], deferrable=True, initially="DEFERRED",
                                name="fk_journal_postings_entry_id_journal_entries"),
        sa.ForeignKeyConstraint(["account_key"], ["ledger_balances.account_key"],
                                name="fk_journal_postings_account_key_ledger_balances"),
        sa.CheckConstraint("amount_sats <> 0", name="amount_non_zero"),
    )
    op.create_index("ix_journal_postings_account_key_entry_id", "journal_postings", ["account_key", "entry_id"])
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE journal_entry_ids OWNED BY journal_entries.id")
        _create_postgresql_triggers()
    else:
        _create_sqlite_triggers()


def _create_sqlite_triggers() -> None:
    op.execute(
        "CREATE TRIGGER journal_entries_balanced BEFORE INSERT ON journal_entries "
        "WHEN (SELECT COUNT(*) FROM journal_postings WHERE entry_id = NEW.id) < 2 "
        "OR (SELECT SUM(amount_sats) FROM journal_postings WHERE entry_id = NEW.id) <> 0 "
        f"BEGIN SELECT RAISE(ABORT, '{_UNBALANCED}'); END"
    )
    op.execute(
        "CREATE TRIGGER journal_postings_unsealed BEFORE INSERT ON journal_postings "
        "WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) "
        f"BEGIN SELECT RAISE(ABORT, '{_SEALED}'); END"
    )
    for table in ("journal_entries", "journal_postings"):
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{_IMMUTABLE}'); END"
            )


def _create_postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION hashedge_journal_entry_balanced() RETURNS trigger AS $$ "
        "DECLARE posting_count bigint; total numeric; BEGIN "
        "SELECT COUNT(*), COALESCE(SUM(amount_sats), 0) INTO posting_count, total "
        "FROM journal_postings WHERE entry_id = NEW.id; "
        "IF posting_count < 2 OR total <> 0 THEN "
        f"RAISE EXCEPTION '{_UNBALANCED} (entry %, % postings, sum %)', NEW.id, posting_count, total "
        "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER journal_entries_balanced BEFORE INSERT ON journal_entries "
        "FOR EACH ROW EXECUTE FUNCTION hashedge_journal_entry_balanced()"
    )
    op.execute(
        "CREATE FUNCTION hashedge_journal_posting_unsealed() RETURNS trigger AS $$ BEGIN "
        "IF EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id) THEN "
        f"RAISE EXCEPTION '{_SEALED} (entry %)', NEW.entry_id USING ERRCODE = 'check_violation'; "
        "END IF; RETURN NEW; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER journal_postings_unsealed BEFORE INSERT ON journal_postings "
        "FOR EACH ROW EXECUTE FUNCTION hashedge_journal_posting_unsealed()"
    )
    op.execute(
        "CREATE FUNCTION hashedge_journal_immutable() RETURNS trigger AS $$ BEGIN "
        f"RAISE EXCEPTION '{_IMMUTABLE}'; END; $$ LANGUAGE plpgsql"
    )
    for table in ("journal_entries", "journal_postings"):
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hashedge_journal_immutable()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION hashedge_journal_immutable()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in ("journal_entries", "journal_postings"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute("DROP TRIGGER IF EXISTS journal_postings_unsealed ON journal_postings")
        op.execute("DROP TRIGGER IF EXISTS journal_entries_balanced ON journal_entries")
        for function in ("hashedge_journal_immutable", "hashedge_journal_posting_unsealed",
                         "hashedge_journal_entry_balanced"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    for table in ("journal_postings", "journal_entries", "ledger_balances", "api_keys", "accounts"):
        op.drop_table(table)

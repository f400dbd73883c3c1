"""Index service: blocks, epoch history, immutable fixings, job runs, scheduler lease.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_IMMUTABLE_MESSAGE = "fixings are immutable: publish a correction as a new version"


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("bits", sa.BigInteger, nullable=False),
        sa.Column("subsidy_sats", sa.BigInteger, nullable=False),
        sa.Column("total_fees_sats", sa.BigInteger, nullable=False),
        sa.Column("tx_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("height", name="pk_blocks"),
        sa.UniqueConstraint("hash", name="uq_blocks_hash"),
        sa.CheckConstraint(
            "subsidy_sats >= 0 AND total_fees_sats >= 0",
            name="ck_blocks_amounts_non_negative",
        ),
    )
    op.create_table(
        "epoch_history",
        sa.Column("epoch", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("start_height", sa.BigInteger, nullable=False),
        sa.Column("end_height", sa.BigInteger, nullable=False),
        sa.Column("bits", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("epoch", name="pk_epoch_history"),
    )
    op.create_table(
        "fixings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("index_name", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("as_of", UTCDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("methodology_version", sa.String(16), nullable=False),
        sa.Column("start_height", sa.BigInteger, nullable=False),
        sa.Column("end_height", sa.BigInteger, nullable=False),
        sa.Column("confirmations", sa.Integer, nullable=False),
        sa.Column("input_digest", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fixings"),
        sa.UniqueConstraint("index_name", "kind", "as_of", "version", name="uq_fixings_identity"),
        sa.CheckConstraint("version >= 1", name="ck_fixings_version_positive"),
        sa.CheckConstraint("version = 1 OR reason IS NOT NULL", name="ck_fixings_correction_has_reason"),
    )
    op.create_index("ix_fixings_index_name", "fixings", ["index_name"])
    op.create_index("ix_fixings_as_of", "fixings", ["as_of"])
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("scheduled_for", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
        sa.UniqueConstraint("job", "scheduled_for", name="uq_job_runs_slot"),
    )
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scheduler_lease"),
    )
    # The epoch view over stored blocks (integer division truncates on both backends).
    op.execute(
        "CREATE VIEW block_epochs AS SELECT height / 2016 AS epoch, MIN(height) AS start_height,"
        " MAX(height) AS end_height, COUNT(*) AS block_count, MIN(bits) AS bits,"
        " MIN(time) AS first_time, MAX(time) AS last_time FROM blocks GROUP BY height / 2016"
    )
    _create_immutability_triggers()


def _create_immutability_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER fixings_no_{event.lower()} BEFORE {event} ON fixings "
                f"BEGIN SELECT RAISE(ABORT, '{_IMMUTABLE_MESSAGE}'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION hashedge_fixings_immutable() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{_IMMUTABLE_MESSAGE}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER fixings_immutable BEFORE UPDATE OR DELETE ON fixings "
            "FOR EACH ROW EXECUTE FUNCTION hashedge_fixings_immutable()"
        )
        op.execute(
            "CREATE TRIGGER fixings_no_truncate BEFORE TRUNCATE ON fixings "
            "FOR EACH STATEMENT EXECUTE FUNCTION hashedge_fixings_immutable()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS fixings_no_truncate ON fixings")
        op.execute("DROP TRIGGER IF EXISTS fixings_immutable ON fixings")
        op.execute("DROP FUNCTION IF EXISTS hashedge_fixings_immutable()")
    op.execute("DROP VIEW block_epochs")
    for table in ("scheduler_lease", "job_runs", "fixings", "epoch_history", "blocks"):
        op.drop_table(table)

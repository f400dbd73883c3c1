"""The OTC desk: desk users, login attempts, the append-only audit log, four-eyes requests, and
block trade reversals.

``desk_audit`` rows are never updated or deleted (triggers, as for fixings and the journal): the
log of who did what is evidence, not state.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None

_IMMUTABLE_MESSAGE = "the desk audit log is append-only"


def upgrade() -> None:
    op.create_table(
        "desk_users",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("password_changed_at", UTCDateTime, nullable=False),
        sa.Column("last_login_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_desk_users"),
        sa.UniqueConstraint("username", name="uq_desk_users_username"),
        sa.CheckConstraint("role IN ('viewer', 'trader', 'risk', 'admin')", name="ck_desk_users_role"),
    )
    op.create_table(
        "desk_login_attempts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("remote_addr", sa.String(64), nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
        sa.Column("attempted_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_desk_login_attempts"),
    )
    op.create_index("ix_desk_login_attempts_username", "desk_login_attempts", ["username", "attempted_at"])
    op.create_index("ix_desk_login_attempts_remote_addr", "desk_login_attempts", ["remote_addr", "attempted_at"])
    op.create_table(
        "desk_audit",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("details", sa.Text, nullable=False),  # JSON: the request as given
        sa.Column("before", sa.Text, nullable=True),  # JSON
        sa.Column("after", sa.Text, nullable=True),  # JSON
        sa.PrimaryKeyConstraint("id", name="pk_desk_audit"),
    )
    op.create_index("ix_desk_audit_occurred_at", "desk_audit", ["occurred_at"])
    op.create_table(
        "desk_requests",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # JSON: what will run on approval
        sa.Column("summary", sa.String(255), nullable=False),
        sa.Column("amount_sats", sa.BigInteger, nullable=False),  # withdrawal amount or trade notional
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("result", sa.Text, nullable=True),  # JSON: what the action returned
        sa.PrimaryKeyConstraint("id", name="pk_desk_requests"),
        sa.CheckConstraint("status IN ('pending', 'executed', 'rejected', 'expired', 'failed')",
                           name="ck_desk_requests_status"),
    )
    op.create_index("ix_desk_requests_status", "desk_requests", ["status", "requested_at"])
    op.create_table(
        "block_trade_reversals",
        sa.Column("original_trade_id", sa.String(64), nullable=False),
        sa.Column("reversal_trade_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("original_trade_id", name="pk_block_trade_reversals"),
        sa.UniqueConstraint("reversal_trade_id", name="uq_block_trade_reversals_reversal_trade_id"),
        sa.ForeignKeyConstraint(["original_trade_id"], ["trades.id"],
                                name="fk_block_trade_reversals_original_trade_id_trades"),
        sa.ForeignKeyConstraint(["reversal_trade_id"], ["trades.id"],
                                name="fk_block_trade_reversals_reversal_trade_id_trades"),
    )
    _create_audit_triggers()


def _create_audit_triggers() -> None:
    if op.get_context().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER desk_audit_no_{event.lower()} BEFORE {event} ON desk_audit "
                       f"BEGIN SELECT RAISE(ABORT, '{_IMMUTABLE_MESSAGE}'); END")
        return
    op.execute("CREATE FUNCTION hashedge_desk_audit_immutable() RETURNS trigger AS $$ BEGIN "
               f"RAISE EXCEPTION '{_IMMUTABLE_MESSAGE}'; END; $$ LANGUAGE plpgsql")
    op.execute("CREATE TRIGGER desk_audit_immutable BEFORE UPDATE OR DELETE ON desk_audit "
               "FOR EACH ROW EXECUTE FUNCTION hashedge_desk_audit_immutable()")
    op.execute("CREATE TRIGGER desk_audit_no_truncate BEFORE TRUNCATE ON desk_audit "
               "FOR EACH STATEMENT EXECUTE FUNCTION hashedge_desk_audit_immutable()")


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS desk_audit_no_truncate ON desk_audit")
        op.execute("DROP TRIGGER IF EXISTS desk_audit_immutable ON desk_audit")
        op.execute("DROP FUNCTION IF EXISTS hashedge_desk_audit_immutable()")
    for table in ("block_trade_reversals", "desk_requests", "desk_audit", "desk_login_attempts", "desk_users"):
        op.drop_table(table)

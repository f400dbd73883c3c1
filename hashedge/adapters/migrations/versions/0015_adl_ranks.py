"""ADL ranks as of the last liquidation sweep: ``adl_ranks``, one row per open position in a
deleveraged instrument (``services.adl_ranks``), keyed by (instrument, account). ``GET
/api/v1/positions`` reads an account's rows instead of running a risk sweep per request.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adl_ranks",
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(5), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("queue_length", sa.Integer(), nullable=False),
        sa.Column("quintile", sa.Integer(), nullable=False),
        sa.Column("ranked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instrument", "account_id", name="pk_adl_ranks"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.symbol"], name="fk_adl_ranks_instrument_instruments"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_adl_ranks_account_id_accounts"),
        sa.CheckConstraint("side IN ('long', 'short')", name="ck_adl_ranks_side"),
        sa.CheckConstraint("quintile BETWEEN 1 AND 5", name="ck_adl_ranks_quintile"),
    )
    op.create_index("ix_adl_ranks_account_id", "adl_ranks", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_adl_ranks_account_id", table_name="adl_ranks")
    op.drop_table("adl_ranks")

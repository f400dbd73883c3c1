"""Liquidation: account events and last seen margin status.

- ``account_events``: margin calls and their end, liquidations and auto-deleveraging, each with
  the account's equity and requirements at that moment (``domain.account_events``);
- ``account_risk_status``: the status the risk sweep last saw per account (healthy accounts have
  no row), so an event is written on a change, never on every sweep.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_risk_status",
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_account_risk_status"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_account_risk_status_account_id_accounts"),
        sa.CheckConstraint("status IN ('margin_call', 'liquidatable')", name="ck_account_risk_status_status"),
    )
    op.create_table(
        "account_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("equity_sats", sa.BigInteger, nullable=False),
        sa.Column("initial_margin_sats", sa.BigInteger, nullable=False),
        sa.Column("maintenance_margin_sats", sa.BigInteger, nullable=False),
        sa.Column("liquidation_id", sa.String(40), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_events"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_account_events_account_id_accounts"),
    )
    op.create_index("ix_account_events_account_id_id", "account_events", ["account_id", "id"])


def downgrade() -> None:
    op.drop_table("account_events")
    op.drop_table("account_risk_status")

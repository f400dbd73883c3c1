"""Liquidation: account events, last seen margin status, liquidation records, the penalty escrow.

- ``account_events``: margin calls and their end, liquidations and auto-deleveraging, each with
  the account's equity and requirements at that moment (``domain.account_events``);
- ``account_risk_status``: the status the risk sweep last saw per account (healthy accounts have
  no row), so an event is written on a change, never on every sweep;
- ``liquidations``: one record per liquidation, its inputs and outcome as canonical JSON (replayed
  by ``hashedge liquidations replay``), unique per (account, n-th liquidation);
- the ``penalty_escrow`` platform account's balance row (like those of migration 0002);
- ``trades.kind`` also takes ``liquidation`` (a liquidation order's fill against the book) and
  ``adl`` (an auto-deleveraging close), so the column widens to 16 characters.

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

TRADE_KINDS = "kind IN ({})"


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
    op.create_table(
        "liquidations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("notional_closed_sats", sa.BigInteger, nullable=False),
        sa.Column("penalty_sats", sa.BigInteger, nullable=False),
        sa.Column("shortfall_sats", sa.BigInteger, nullable=False),
        sa.Column("insurance_fund_sats", sa.BigInteger, nullable=False),
        sa.Column("adl_contracts", sa.BigInteger, nullable=False),
        sa.Column("uncovered_sats", sa.BigInteger, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_liquidations"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_liquidations_account_id_accounts"),
        sa.UniqueConstraint("account_id", "sequence", name="uq_liquidations_account_id"),
    )
    op.create_index("ix_liquidations_business_date", "liquidations", ["business_date"])
    op.bulk_insert(
        sa.table("ledger_balances", sa.column("account_key"), sa.column("kind"), sa.column("owner_id"),
                 sa.column("balance_sats")),
        [{"account_key": "penalty_escrow", "kind": "penalty_escrow", "owner_id": None, "balance_sats": 0}],
    )
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("kind", type_=sa.String(16), existing_type=sa.String(8), existing_nullable=False)
        batch.drop_constraint("ck_trades_kind", type_="check")
        batch.create_check_constraint("ck_trades_kind", TRADE_KINDS.format("'book', 'block', 'liquidation', 'adl'"))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_constraint("ck_trades_kind", type_="check")
        batch.create_check_constraint("ck_trades_kind", TRADE_KINDS.format("'book', 'block'"))
        batch.alter_column("kind", type_=sa.String(8), existing_type=sa.String(16), existing_nullable=False)
    op.execute("DELETE FROM ledger_balances WHERE account_key = 'penalty_escrow'")
    op.drop_table("liquidations")
    op.drop_table("account_events")
    op.drop_table("account_risk_status")

"""Default protection: contracts, their history, requests for quote, and the escrow account.

- ``protection_contracts``: one row per contract, with its posted collateral, premium paid, last
  mark and credit event (``adapters/orm/protection.py``);
- ``protection_events``: each contract's history, unique per (contract, kind, business date), so
  the nightly run is idempotent by date;
- ``protection_rfqs`` / ``protection_rfq_answers``: requests for quote and the sellers' answers;
- the ``protection_escrow`` platform account's balance row (sellers' posted collateral);
- ``trades.kind`` also takes ``novation``: a protection seller stepping into a defaulted side.

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None

TRADE_KINDS = "kind IN ({})"


def _account(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["accounts.id"], name=f"fk_{table}_{column}_accounts")


def upgrade() -> None:
    op.create_table(
        "protection_contracts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("buyer_account_id", sa.Integer, nullable=False),
        sa.Column("seller_account_id", sa.Integer, nullable=True),
        sa.Column("reference_account_id", sa.Integer, nullable=False),
        sa.Column("reference_instrument_id", sa.String(32), nullable=True),
        sa.Column("notional_sats", sa.BigInteger, nullable=False),
        sa.Column("premium_bps", sa.String(64), nullable=False),
        sa.Column("upfront_sats", sa.BigInteger, nullable=False),
        sa.Column("trade_date", sa.Date, nullable=False),
        sa.Column("maturity_date", sa.Date, nullable=False),
        sa.Column("settlement", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("collateral_sats", sa.BigInteger, nullable=False),
        sa.Column("premium_paid_sats", sa.BigInteger, nullable=False),
        sa.Column("premium_paid_through", sa.Date, nullable=True),
        sa.Column("mark_sats", sa.BigInteger, nullable=False),
        sa.Column("marked_on", sa.Date, nullable=True),
        sa.Column("credit_event_liquidation_id", sa.String(40), nullable=True),
        sa.Column("booked_via", sa.String(8), nullable=False),
        sa.Column("booked_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_protection_contracts"),
        _account("buyer_account_id", "protection_contracts"),
        _account("seller_account_id", "protection_contracts"),
        _account("reference_account_id", "protection_contracts"),
        sa.CheckConstraint("settlement IN ('novation', 'cash')", name="ck_protection_contracts_settlement"),
        sa.CheckConstraint("status IN ('active', 'triggered', 'matured')", name="ck_protection_contracts_status"),
        sa.CheckConstraint("notional_sats > 0 AND collateral_sats >= 0", name="ck_protection_contracts_amounts"),
    )
    for column in ("buyer_account_id", "seller_account_id", "reference_account_id"):
        op.create_index(f"ix_protection_contracts_{column}", "protection_contracts", [column])
    op.create_table(
        "protection_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("contract_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.Column("amount_sats", sa.BigInteger, nullable=False),
        sa.Column("entry_key", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_protection_events"),
        sa.ForeignKeyConstraint(["contract_id"], ["protection_contracts.id"],
                                name="fk_protection_events_contract_id_protection_contracts"),
        sa.UniqueConstraint("contract_id", "kind", "business_date", name="uq_protection_events_contract_id"),
    )
    op.create_index("ix_protection_events_business_date", "protection_events", ["business_date"])
    op.create_table(
        "protection_rfqs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("buyer_account_id", sa.Integer, nullable=False),
        sa.Column("reference_account_id", sa.Integer, nullable=False),
        sa.Column("reference_instrument_id", sa.String(32), nullable=True),
        sa.Column("notional_sats", sa.BigInteger, nullable=False),
        sa.Column("tenor", sa.String(4), nullable=False),
        sa.Column("settlement", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("contract_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_protection_rfqs"),
        _account("buyer_account_id", "protection_rfqs"),
        _account("reference_account_id", "protection_rfqs"),
        sa.CheckConstraint("status IN ('open', 'accepted', 'cancelled')", name="ck_protection_rfqs_status"),
    )
    op.create_index("ix_protection_rfqs_buyer_account_id", "protection_rfqs", ["buyer_account_id"])
    op.create_table(
        "protection_rfq_answers",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("rfq_id", sa.String(40), nullable=False),
        sa.Column("seller_account_id", sa.Integer, nullable=False),
        sa.Column("premium_bps", sa.String(64), nullable=False),
        sa.Column("upfront_sats", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_protection_rfq_answers"),
        sa.ForeignKeyConstraint(["rfq_id"], ["protection_rfqs.id"],
                                name="fk_protection_rfq_answers_rfq_id_protection_rfqs"),
        _account("seller_account_id", "protection_rfq_answers"),
    )
    op.create_index("ix_protection_rfq_answers_rfq_id", "protection_rfq_answers", ["rfq_id"])
    op.bulk_insert(
        sa.table("ledger_balances", sa.column("account_key"), sa.column("kind"), sa.column("owner_id"),
                 sa.column("balance_sats")),
        [{"account_key": "protection_escrow", "kind": "protection_escrow", "owner_id": None, "balance_sats": 0}],
    )


    with op.batch_alter_table("trades") as batch:
        batch.drop_constraint("ck_trades_kind", type_="check")
        batch.create_check_constraint("ck_trades_kind", TRADE_KINDS.format(
            "'book', 'block', 'liquidation', 'adl', 'backstop', 'pool', 'novation'"))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_constraint("ck_trades_kind", type_="check")
        batch.create_check_constraint("ck_trades_kind", TRADE_KINDS.format(
            "'book', 'block', 'liquidation', 'adl', 'backstop', 'pool'"))
    op.execute("DELETE FROM ledger_balances WHERE account_key = 'protection_escrow'")
    op.drop_table("protection_rfq_answers")
    op.drop_table("protection_rfqs")
    op.drop_table("protection_events")
    op.drop_table("protection_contracts")

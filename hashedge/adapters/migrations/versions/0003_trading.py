"""Trading: listed instruments, orders, trades, positions, marks, settlement runs.

Prices and other exact decimals are stored as fixed-point text (like fixing values); money is
``BIGINT`` sats. ``instrument_sequences`` holds one row per instrument: matching locks it
(``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serializes every writer) so orders on
one instrument are matched one after the other whatever the number of web workers.
``orders.price_ticks`` is the limit price in whole ticks, so matching loads only the resting orders
an incoming order crosses (an indexed integer range, where text prices would not compare).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PRICE = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("product", sa.String(32), nullable=False),
        sa.Column("underlying", sa.String(32), nullable=False),
        sa.Column("multiplier", PRICE, nullable=False),
        sa.Column("multiplier_unit", sa.String(32), nullable=False),
        sa.Column("quote_unit", sa.String(32), nullable=False),
        sa.Column("tick_size", PRICE, nullable=False),
        sa.Column("lot_size", sa.Integer, nullable=False),
        sa.Column("last_trading_time", UTCDateTime, nullable=False),
        sa.Column("settlement_rule", sa.String(32), nullable=False),
        sa.Column("floor", PRICE, nullable=True),
        sa.Column("cap", PRICE, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("listed_at", UTCDateTime, nullable=False),
        sa.Column("final_price", PRICE, nullable=True),
        sa.Column("settled_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("symbol", name="pk_instruments"),
        sa.CheckConstraint("status IN ('listed', 'expired', 'settled')", name="ck_instruments_status"),
    )
    op.create_table(
        "instrument_sequences",
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("instrument", name="pk_instrument_sequences"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.symbol"],
                                name="fk_instrument_sequences_instrument_instruments"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("style", sa.String(16), nullable=False),
        sa.Column("order_type", sa.String(8), nullable=False),
        sa.Column("time_in_force", sa.String(4), nullable=False),
        sa.Column("post_only", sa.Boolean, nullable=False),
        sa.Column("price", PRICE, nullable=True),
        sa.Column("price_ticks", sa.BigInteger, nullable=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("filled_quantity", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cancel_reason", sa.String(20), nullable=True),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_orders_account_id_accounts"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.symbol"], name="fk_orders_instrument_instruments"),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_orders_account_id"),
        sa.UniqueConstraint("instrument", "sequence", name="uq_orders_instrument"),
        sa.CheckConstraint("quantity > 0 AND filled_quantity >= 0 AND filled_quantity <= quantity",
                           name="ck_orders_quantities"),
    )
    op.create_index("ix_orders_instrument_status", "orders", ["instrument", "status", "side", "price_ticks"])
    op.create_index("ix_orders_account_id_status", "orders", ["account_id", "status"])
    op.create_table(
        "trades",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("price", PRICE, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("buyer_account_id", sa.Integer, nullable=False),
        sa.Column("seller_account_id", sa.Integer, nullable=False),
        sa.Column("buy_order_id", sa.String(32), nullable=True),
        sa.Column("sell_order_id", sa.String(32), nullable=True),
        sa.Column("aggressor", sa.String(4), nullable=True),
        sa.Column("buyer_fee_sats", sa.BigInteger, nullable=False),
        sa.Column("seller_fee_sats", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trades"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.symbol"], name="fk_trades_instrument_instruments"),
        sa.ForeignKeyConstraint(["buyer_account_id"], ["accounts.id"], name="fk_trades_buyer_account_id_accounts"),
        sa.ForeignKeyConstraint(["seller_account_id"], ["accounts.id"],
                                name="fk_trades_seller_account_id_accounts"),
        sa.CheckConstraint("kind IN ('book', 'block')", name="ck_trades_kind"),
        sa.CheckConstraint("quantity > 0 AND buyer_account_id <> seller_account_id", name="ck_trades_parties"),
    )
    op.create_index("ix_trades_instrument_occurred_at", "trades", ["instrument", "occurred_at"])
    op.create_index("ix_trades_buyer_account_id", "trades", ["buyer_account_id"])
    op.create_index("ix_trades_seller_account_id", "trades", ["seller_account_id"])
    op.create_table(
        "positions",
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("open_value", PRICE, nullable=False),
        sa.Column("realized_pnl_sats", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "instrument", name="pk_positions"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_positions_account_id_accounts"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.symbol"], name="fk_positions_instrument_instruments"),
    )
    op.create_index("ix_positions_instrument", "positions", ["instrument"])
    op.create_table(
        "marks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("as_of", UTCDateTime, nullable=False),
        sa.Column("price", PRICE, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("model_price", PRICE, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_marks"),
        sa.ForeignKeyConstraint(["instrument"], ["instruments.symbol"], name="fk_marks_instrument_instruments"),
    )
    op.create_index("ix_marks_instrument_as_of", "marks", ["instrument", "as_of"])
    op.create_table(
        "settlement_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_runs"),
        sa.UniqueConstraint("business_date", "kind", name="uq_settlement_runs_business_date"),
    )


def downgrade() -> None:
    for table in ("settlement_runs", "marks", "positions", "trades", "orders", "instrument_sequences",
                  "instruments"):
        op.drop_table(table)

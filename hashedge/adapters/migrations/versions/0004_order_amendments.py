"""Order amendments: one row per cancel/replace of a resting order.

The order row keeps the order's current terms (quantity, price, sequence); each amendment records
what it changed and the instrument sequence it took, so an order's history can be replayed from
the records, and holds the client's ``Idempotency-Key`` (unique per account, like orders') so a
retried amendment gets the original answer instead of amending twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PRICE = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "order_amendments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("previous_quantity", sa.BigInteger, nullable=False),
        sa.Column("previous_price", PRICE, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("price", PRICE, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_amendments"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_amendments_order_id_orders"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_order_amendments_account_id_accounts"),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_order_amendments_account_id"),
    )
    op.create_index("ix_order_amendments_order_id", "order_amendments", ["order_id"])


def downgrade() -> None:
    op.drop_table("order_amendments")

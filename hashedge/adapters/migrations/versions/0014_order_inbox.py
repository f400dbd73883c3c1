"""The order inbox: ``order_requests``, the durable queue between the API and the matching engine.

One row per order request, in arrival order (the autoincrement id is the processing order): the
account (no foreign key: the engine refuses an unknown account as ``place_order`` does), the
instrument (so an engine can take only its group's), the request as JSON, its status (``pending``,
``done``, ``abandoned``), the outcome as JSON once executed, and when it was received and done.
``ix_order_requests_status`` (status, id) serves the engine's read of the pending requests in
order.

Revision ID: 0014
Revises: 0015
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("instrument", sa.String(64), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_order_requests"),
        sa.CheckConstraint("status IN ('pending', 'done', 'abandoned')", name="ck_order_requests_status"),
    )
    op.create_index("ix_order_requests_status", "order_requests", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_order_requests_status", table_name="order_requests")
    op.drop_table("order_requests")

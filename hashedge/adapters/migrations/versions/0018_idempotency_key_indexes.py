"""Indexes on ``orders.idempotency_key`` and ``order_amendments.idempotency_key``.

The engine's batch looks up every key its requests carry in both tables
(``OrderRepository.used_idempotency_keys``, then ``by_idempotency_keys``), by key alone: a stored
key names its account (``services.ledger.request_key``). The unique indexes on (account_id,
idempotency_key) cannot serve a lookup by key alone, so these lookups scanned their whole
tables, a cost that grew with every order ever placed (1.2-1.6 ms a batch after a 20-second load
test, BENCHMARKS.md part I). With these they are index searches, whatever the table's size.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_orders_idempotency_key", "orders", ["idempotency_key"])
    op.create_index("ix_order_amendments_idempotency_key", "order_amendments", ["idempotency_key"])


def downgrade() -> None:
    op.drop_index("ix_order_amendments_idempotency_key", table_name="order_amendments")
    op.drop_index("ix_orders_idempotency_key", table_name="orders")

"""Indexes for the order path: an order's cost follows what it fills, not the queue or the account.

- ``ix_orders_book`` becomes (instrument, side, price_ticks, sequence) over resting orders: the
  orders an incoming order meets are read in price-time priority straight from the index and the
  read stops after the first batch (``OrderRepository.crossing``); before, a queue of 10,000 at
  one price was sorted by sequence on every order. Book depth reads its prefix as before.
- ``ix_orders_account_resting`` (account_id, instrument, side, price_ticks, quantity,
  filled_quantity) over resting orders: the pre-trade check's sums per instrument and side
  (``OrderRepository.resting_totals_of``) are read from the index alone, and never by scanning a
  whole instrument's book.

Both conditions are spelled exactly as the queries spell them (SQLite matches them literally).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

RESTING = "status IN ('open', 'partially_filled')"


def upgrade() -> None:
    op.drop_index("ix_orders_book", table_name="orders")
    op.create_index("ix_orders_book", "orders", ["instrument", "side", "price_ticks", "sequence"],
                    sqlite_where=sa.text(RESTING), postgresql_where=sa.text(RESTING))
    op.create_index("ix_orders_account_resting", "orders",
                    ["account_id", "instrument", "side", "price_ticks", "quantity", "filled_quantity"],
                    sqlite_where=sa.text(RESTING), postgresql_where=sa.text(RESTING))


def downgrade() -> None:
    op.drop_index("ix_orders_account_resting", table_name="orders")
    op.drop_index("ix_orders_book", table_name="orders")
    op.create_index("ix_orders_book", "orders", ["instrument", "side", "price_ticks"],
                    sqlite_where=sa.text(RESTING), postgresql_where=sa.text(RESTING))

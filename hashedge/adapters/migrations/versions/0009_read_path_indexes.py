"""Indexes for the read paths: market data costs what it returns, not what is stored.

- ``ix_fixings_latest`` (index_name, as_of DESC, kind, version DESC): an index's latest fixing is
  the first entry of its range, so ``GET /api/v1/indices`` reads one entry per index however many
  fixings accumulate; "is there a newer version" is one probe of the same index.
- ``ix_marks_instrument_id`` (instrument, id): an instrument's latest mark is the last entry of
  its range (marks grow by one per instrument every marking run).
- ``ix_orders_book`` (instrument, side, price_ticks) over resting orders only (a partial index):
  book depth reads the best levels in price order and stops after the levels it returns. The
  condition is spelled exactly as the depth query spells it (SQLite matches it literally).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

RESTING = "status IN ('open', 'partially_filled')"


def upgrade() -> None:
    op.create_index("ix_fixings_latest", "fixings",
                    ["index_name", sa.text("as_of DESC"), "kind", sa.text("version DESC")])
    op.create_index("ix_marks_instrument_id", "marks", ["instrument", "id"])
    op.create_index("ix_orders_book", "orders", ["instrument", "side", "price_ticks"],
                    sqlite_where=sa.text(RESTING), postgresql_where=sa.text(RESTING))


def downgrade() -> None:
    op.drop_index("ix_orders_book", table_name="orders")
    op.drop_index("ix_marks_instrument_id", table_name="marks")
    op.drop_index("ix_fixings_latest", table_name="fixings")

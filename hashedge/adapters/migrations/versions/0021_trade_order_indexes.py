"""Indexes on ``trades.buy_order_id`` and ``trades.sell_order_id``.

A page of an account's orders is shown with each order's fills (``TradeRepository.of_orders``,
``GET /api/v1/orders``), found by the orders' ids on either side of a trade. No index served that
lookup, so every page read the whole trades table: a cost that grew with every trade the venue
ever made (the test that the account's reads never scan a growing table found it). With these,
each order's fills are an index search. The engine pays two more index entries a trade.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trades_buy_order_id", "trades", ["buy_order_id"])
    op.create_index("ix_trades_sell_order_id", "trades", ["sell_order_id"])


def downgrade() -> None:
    op.drop_index("ix_trades_sell_order_id", table_name="trades")
    op.drop_index("ix_trades_buy_order_id", table_name="trades")

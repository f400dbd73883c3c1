"""Backstop liquidity (hashedge/domain/BACKSTOP.md): the pool's system account, its append-only
share movements, queued withdrawals and nightly NAV, and standing backstop offers.

- ``backstop_pool``: one row naming the system account whose collateral is the pool's capital and
  whose positions are the pool's book (created with the pool's first deposit);
- ``pool_share_events``: mint, burn and withdrawal requests, never updated (governance sums them
  as of a past instant);
- ``pool_withdrawals``: requests, unique per (account, idempotency key), executed after the delay;
- ``pool_nav``: the NAV and share supply of each business date;
- ``backstop_offers``: offers to take over a liquidated position, filled in time priority;
- ``trades.kind`` also takes ``backstop`` (an offer's takeover) and ``pool`` (the pool's).

Revision ID: 0010
Revises: 0011
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0010"
down_revision = "0011"
branch_labels = None
depends_on = None

TRADE_KINDS = "kind IN ({})"


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "backstop_pool",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_backstop_pool"),
        _fk("backstop_pool", "account_id", "accounts"),
        sa.UniqueConstraint("account_id", name="uq_backstop_pool_account_id"),
    )
    op.create_table(
        "pool_withdrawals",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("shares", sa.BigInteger, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("executes_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("executed_at", UTCDateTime, nullable=True),
        sa.Column("amount_sats", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pool_withdrawals"),
        _fk("pool_withdrawals", "account_id", "accounts"),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_pool_withdrawals_account_id"),
    )
    op.create_index("ix_pool_withdrawals_status_executes_at", "pool_withdrawals", ["status", "executes_at"])
    op.create_table(
        "pool_share_events",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("shares", sa.BigInteger, nullable=False),
        sa.Column("amount_sats", sa.BigInteger, nullable=False),
        sa.Column("nav_sats", sa.BigInteger, nullable=False),
        sa.Column("shares_outstanding", sa.BigInteger, nullable=False),
        sa.Column("withdrawal_id", sa.Integer, nullable=True),
        sa.Column("request_key", sa.String(200), nullable=False),
        sa.Column("occurred_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pool_share_events"),
        _fk("pool_share_events", "account_id", "accounts"),
        _fk("pool_share_events", "withdrawal_id", "pool_withdrawals"),
        sa.UniqueConstraint("request_key", name="uq_pool_share_events_request_key"),
    )
    op.create_index("ix_pool_share_events_account_id_id", "pool_share_events", ["account_id", "id"])
    op.create_table(
        "pool_nav",
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("nav_sats", sa.BigInteger, nullable=False),
        sa.Column("shares_outstanding", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("business_date", name="pk_pool_nav"),
    )
    op.create_table(
        "backstop_offers",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("instrument", sa.String(32), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("max_quantity", sa.BigInteger, nullable=False),
        sa.Column("filled_quantity", sa.BigInteger, nullable=False),
        sa.Column("max_discount_bps", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("cancelled_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backstop_offers"),
        _fk("backstop_offers", "account_id", "accounts"),
    )
    op.create_index("ix_backstop_offers_instrument_status", "backstop_offers", ["instrument", "status"])
    with op.batch_alter_table("trades") as batch:
        batch.drop_constraint("ck_trades_kind", type_="check")
        batch.create_check_constraint(
            "ck_trades_kind", TRADE_KINDS.format("'book', 'block', 'liquidation', 'adl', 'backstop', 'pool'"))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_constraint("ck_trades_kind", type_="check")
        batch.create_check_constraint("ck_trades_kind", TRADE_KINDS.format("'book', 'block', 'liquidation', 'adl'"))
    op.drop_table("backstop_offers")
    op.drop_table("pool_nav")
    op.drop_table("pool_share_events")
    op.drop_table("pool_withdrawals")
    op.drop_table("backstop_pool")

"""Order request tokens: ``order_requests.token``, unique, for requests handed to the engine over
its local socket (ORDER_PATH.md, "The engine's socket").

The submitter draws the token; the engine writes the request's row with it when it claims the
request, and a submitter that lost its answer writes an ``abandoned`` row with it. Whichever
insert comes first wins (the unique index decides, waiting for the other's transaction), so a
request is executed only if the engine's claim came first, and is never executed once its
submitter gave it up. Rows appended to the inbox directly have no token.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_requests", sa.Column("token", sa.String(32), nullable=True))
    op.create_index("ux_order_requests_token", "order_requests", ["token"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_order_requests_token", table_name="order_requests")
    with op.batch_alter_table("order_requests") as batch:
        batch.drop_column("token")

"""Answers to requests for quote expire, and their sellers may withdraw them:
``protection_rfq_answers.valid_until`` and ``withdrawn_at``.

A seller's answer is firm until ``valid_until`` (or until its seller withdraws it) and cannot be
accepted after (``domain.protection.rfq``, PROTECTION.md "Requests for quote"). Answers given
before this revision were firm without limit; they get the default validity from when they were
given, so an old answer no longer binds its seller (the buyer asks again).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

BACKFILLED_VALIDITY = timedelta(seconds=300)  # domain.protection.rfq's default when this was written

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("protection_rfq_answers", sa.Column("valid_until", UTCDateTime, nullable=True))
    op.add_column("protection_rfq_answers", sa.Column("withdrawn_at", UTCDateTime, nullable=True))
    answers = sa.table("protection_rfq_answers", sa.column("id", sa.String(40)),
                       sa.column("created_at", UTCDateTime), sa.column("valid_until", UTCDateTime))
    connection = op.get_bind()
    for answer_id, created_at in connection.execute(sa.select(answers.c.id, answers.c.created_at)).all():
        connection.execute(answers.update().where(answers.c.id == answer_id).values(
            valid_until=created_at + BACKFILLED_VALIDITY))
    with op.batch_alter_table("protection_rfq_answers") as batch:
        batch.alter_column("valid_until", existing_type=UTCDateTime, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("protection_rfq_answers") as batch:
        batch.drop_column("withdrawn_at")
        batch.drop_column("valid_until")

"""Governance: parameter versions, proposals with their snapshot weights, votes and ragequits.

- ``parameter_versions``: every set of governed parameters ever in force, from ``effective_at`` on
  (append-only); version 1 is the documented defaults, in force since 1970; a proposal executes at
  most once (``proposal_id`` unique);
- ``governance_proposals``, ``governance_weights`` (the pool shares of each member at the
  proposal's creation), ``governance_votes`` (one per member and proposal), ``governance_ragequits``;
- ``liquidations.parameters_version_id``: the version each liquidation used (null before 0013).

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-01
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from hashedge.adapters.orm import UTCDateTime

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _account(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=f"fk_{table}_account_id_accounts")


def _proposal(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["proposal_id"], ["governance_proposals.id"],
                                   name=f"fk_{table}_proposal_id_governance_proposals")


def upgrade() -> None:
    versions = op.create_table(
        "parameter_versions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("effective_at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("proposal_id", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("overrides", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_parameter_versions"),
        sa.UniqueConstraint("proposal_id", name="uq_parameter_versions_proposal_id"),
        sa.CheckConstraint("source IN ('defaults', 'proposal', 'emergency')", name="ck_parameter_versions_source"),
    )
    op.create_index("ix_parameter_versions_effective_at", "parameter_versions", ["effective_at", "id"])
    op.bulk_insert(versions, [{"effective_at": EPOCH, "recorded_at": EPOCH, "source": "defaults",
                               "actor": "defaults", "proposal_id": None,
                               "reason": "the documented defaults (hashedge/domain/parameters.py)",
                               "changes": "{}", "overrides": "{}"}])
    op.create_table(
        "governance_proposals",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("proposer_account_id", sa.Integer, nullable=False),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("base_version_id", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("voting_ends_at", UTCDateTime, nullable=False),
        sa.Column("executes_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("snapshot_shares", sa.BigInteger, nullable=False),
        sa.Column("support_ratio", sa.String(24), nullable=False),
        sa.Column("quorum_ratio", sa.String(24), nullable=False),
        sa.Column("executed_version_id", sa.Integer, nullable=True),
        sa.Column("refused_reason", sa.Text, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_governance_proposals"),
        sa.ForeignKeyConstraint(["proposer_account_id"], ["accounts.id"],
                                name="fk_governance_proposals_proposer_account_id_accounts"),
        sa.ForeignKeyConstraint(["base_version_id"], ["parameter_versions.id"],
                                name="fk_governance_proposals_base_version_id_parameter_versions"),
        sa.ForeignKeyConstraint(["executed_version_id"], ["parameter_versions.id"],
                                name="fk_governance_proposals_executed_version_id_parameter_versions"),
    )
    op.create_table(
        "governance_weights",
        sa.Column("proposal_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("shares", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("proposal_id", "account_id", name="pk_governance_weights"),
        _proposal("governance_weights"), _account("governance_weights"),
    )
    op.create_table(
        "governance_votes",
        sa.Column("proposal_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("choice", sa.String(3), nullable=False),
        sa.Column("weight", sa.BigInteger, nullable=False),
        sa.Column("cast_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("proposal_id", "account_id", name="pk_governance_votes"),
        sa.CheckConstraint("choice IN ('yes', 'no')", name="ck_governance_votes_choice"),
        _proposal("governance_votes"), _account("governance_votes"),
    )
    op.create_table(
        "governance_ragequits",
        sa.Column("proposal_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("shares", sa.BigInteger, nullable=True),
        sa.Column("amount_sats", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("proposal_id", "account_id", name="pk_governance_ragequits"),
        _proposal("governance_ragequits"), _account("governance_ragequits"),
    )
    with op.batch_alter_table("liquidations") as batch:
        batch.add_column(sa.Column("parameters_version_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_liquidations_parameters_version_id_parameter_versions", "parameter_versions",
                                 ["parameters_version_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("liquidations") as batch:
        batch.drop_constraint("fk_liquidations_parameters_version_id_parameter_versions", type_="foreignkey")
        batch.drop_column("parameters_version_id")
    for table in ("governance_ragequits", "governance_votes", "governance_weights", "governance_proposals"):
        op.drop_table(table)
    op.drop_index("ix_parameter_versions_effective_at", table_name="parameter_versions")
    op.drop_table("parameter_versions")

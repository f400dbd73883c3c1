"""SQLAlchemy 2 table mappings for governance: parameter versions, proposals, their snapshot
weights, votes and ragequits. The schema is owned by Alembic (``versions/0013_governance.py``).

Every table is append-only but ``governance_proposals`` (its ``executed_version_id``,
``refused_reason`` and ``closed_at`` are set once, by the governance job).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime


class ParameterVersionRow(Base):
    __tablename__ = "parameter_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)  # executes once
    reason: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)  # JSON: name -> [old, new]
    overrides: Mapped[str] = mapped_column(Text)  # JSON: name -> value, every value governance has set

    __table_args__ = (
        CheckConstraint("source IN ('defaults', 'proposal', 'emergency')", name="source"),
        Index("ix_parameter_versions_effective_at", "effective_at", "id"),
    )


class ProposalRow(Base):
    __tablename__ = "governance_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposer_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    rationale: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)  # JSON: name -> new value
    base_version_id: Mapped[int] = mapped_column(ForeignKey("parameter_versions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    voting_ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    executes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot_shares: Mapped[int] = mapped_column(BigInteger)
    support_ratio: Mapped[str] = mapped_column(String(24))
    quorum_ratio: Mapped[str] = mapped_column(String(24))
    executed_version_id: Mapped[int | None] = mapped_column(ForeignKey("parameter_versions.id"), nullable=True)
    refused_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ProposalWeightRow(Base):
    """The snapshot: each member's pool shares when the proposal was created."""

    __tablename__ = "governance_weights"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("governance_proposals.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    shares: Mapped[int] = mapped_column(BigInteger)


class VoteRow(Base):
    __tablename__ = "governance_votes"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("governance_proposals.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)  # one final vote
    choice: Mapped[str] = mapped_column(String(3))
    weight: Mapped[int] = mapped_column(BigInteger)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("choice IN ('yes', 'no')", name="choice"),)


class RagequitRow(Base):
    __tablename__ = "governance_ragequits"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("governance_proposals.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    shares: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # null until the pool has paid
    amount_sats: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

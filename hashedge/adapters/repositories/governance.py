"""Repositories for governance: parameter versions (with a cache of built parameters by version
id: versions never change) and proposals with their snapshot, votes and ragequits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from hashedge.adapters.orm.governance import (
    ParameterVersionRow,
    ProposalRow,
    ProposalWeightRow,
    RagequitRow,
    VoteRow,
)
from hashedge.domain.governance.registry import ParameterVersion
from hashedge.domain.parameters import RiskParameters

# A version's parameters depend on its overrides alone: built once per set of overrides (the key is
# the content, not the id, so several databases in one process never share a wrong entry).
_BUILT: dict[tuple, RiskParameters] = {}


_VERSION_COLUMNS = (ParameterVersionRow.id, ParameterVersionRow.effective_at, ParameterVersionRow.source,
                    ParameterVersionRow.actor, ParameterVersionRow.proposal_id, ParameterVersionRow.reason,
                    ParameterVersionRow.changes, ParameterVersionRow.overrides)


def _version(row) -> ParameterVersion:
    changes = {name: (old, new) for name, (old, new) in json.loads(row.changes).items()}
    return ParameterVersion(row.id, row.effective_at, row.source, row.actor, row.proposal_id, row.reason, changes,
                            json.loads(row.overrides))


class ParameterRepository:
    def __init__(self, session: Session):
        self.session = session
        self._latest: ParameterVersion | None = None

    def in_force(self, at: datetime | None = None) -> ParameterVersion:
        """The version in force at ``at`` (the latest written when None: a version is written when
        it takes effect). The latest is read once per unit of work."""
        if at is None and self._latest is not None:
            return self._latest
        query = select(*_VERSION_COLUMNS)  # columns, not entities: this read is on every write path
        if at is not None:
            query = query.where(ParameterVersionRow.effective_at <= at)
        row = self.session.execute(query.order_by(ParameterVersionRow.effective_at.desc(),
                                                  ParameterVersionRow.id.desc()).limit(1)).first()
        if row is None:
            raise LookupError("no parameter version in force: is the database migrated (0013)?")
        version = _version(row)
        if at is None:
            self._latest = version
        return version

    def in_force_until(self, at: datetime) -> tuple[ParameterVersion, datetime | None]:
        """``in_force(at)`` and when the next version written takes effect (None: none after
        ``at``), in one statement: the version stays in force from its own ``effective_at`` until
        then, as long as no version is written."""
        later = select(func.min(ParameterVersionRow.effective_at)).where(
            ParameterVersionRow.effective_at > at).scalar_subquery()
        row = self.session.execute(
            select(*_VERSION_COLUMNS, later.label("next_effective_at")).where(ParameterVersionRow.effective_at <= at)
            .order_by(ParameterVersionRow.effective_at.desc(), ParameterVersionRow.id.desc()).limit(1)).first()
        if row is None:
            raise LookupError("no parameter version in force: is the database migrated (0013)?")
        return _version(row), row.next_effective_at

    @staticmethod
    def parameters_of(version: ParameterVersion) -> RiskParameters:
        key = tuple(sorted(version.overrides.items()))
        if key not in _BUILT:
            if len(_BUILT) > 1000:
                _BUILT.clear()
            _BUILT[key] = version.parameters()
        return _BUILT[key]

    def get(self, version_id: int) -> ParameterVersion | None:
        row = self.session.get(ParameterVersionRow, version_id)
        return _version(row) if row else None

    def history(self, *, limit: int = 100) -> list[ParameterVersion]:
        """Newest first."""
        query = select(ParameterVersionRow).order_by(ParameterVersionRow.effective_at.desc(),
                                                     ParameterVersionRow.id.desc()).limit(limit)
        return [_version(row) for row in self.session.scalars(query).all()]

    def add(self, *, effective_at: datetime, recorded_at: datetime, source: str, actor: str, proposal_id: int | None,
            reason: str, changes: dict, overrides: dict) -> ParameterVersion:
        row = ParameterVersionRow(effective_at=effective_at, recorded_at=recorded_at, source=source, actor=actor,
                                  proposal_id=proposal_id, reason=reason,
                                  changes=json.dumps({k: list(v) for k, v in sorted(changes.items())}),
                                  overrides=json.dumps(dict(sorted(overrides.items()))))
        self.session.add(row)
        self.session.flush()
        self._latest = None
        return _version(row)


@dataclass(frozen=True)
class StoredProposal:
    id: int
    proposer_account_id: int
    rationale: str
    changes: dict[str, str]
    base_version_id: int
    created_at: datetime
    voting_ends_at: datetime
    executes_at: datetime
    expires_at: datetime
    snapshot_shares: int
    support_ratio: str
    quorum_ratio: str
    executed_version_id: int | None
    refused_reason: str | None
    closed_at: datetime | None


def _proposal(row: ProposalRow) -> StoredProposal:
    return StoredProposal(row.id, row.proposer_account_id, row.rationale, json.loads(row.changes),
                          row.base_version_id, row.created_at, row.voting_ends_at, row.executes_at, row.expires_at,
                          row.snapshot_shares, row.support_ratio, row.quorum_ratio, row.executed_version_id,
                          row.refused_reason, row.closed_at)


@dataclass(frozen=True)
class StoredVote:
    account_id: int
    choice: str
    weight: int
    cast_at: datetime


@dataclass(frozen=True)
class StoredRagequit:
    account_id: int
    shares: int | None  # None until the pool has paid
    amount_sats: int | None
    at: datetime


class ProposalRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, *, proposer_account_id: int, rationale: str, changes: dict[str, str], base_version_id: int,
            created_at: datetime, voting_ends_at: datetime, executes_at: datetime, expires_at: datetime,
            weights: dict[int, int], support_ratio: str, quorum_ratio: str) -> int:
        row = ProposalRow(proposer_account_id=proposer_account_id, rationale=rationale,
                          changes=json.dumps(dict(sorted(changes.items()))), base_version_id=base_version_id,
                          created_at=created_at, voting_ends_at=voting_ends_at, executes_at=executes_at,
                          expires_at=expires_at, snapshot_shares=sum(weights.values()), support_ratio=support_ratio,
                          quorum_ratio=quorum_ratio)
        self.session.add(row)
        self.session.flush()
        if weights:
            self.session.execute(insert(ProposalWeightRow), [
                {"proposal_id": row.id, "account_id": account, "shares": shares}
                for account, shares in sorted(weights.items()) if shares > 0])
        return row.id

    def get(self, proposal_id: int, *, lock: bool = False) -> StoredProposal | None:
        query = select(ProposalRow).where(ProposalRow.id == proposal_id)
        if lock:
            query = query.with_for_update()
        row = self.session.scalars(query).first()
        return _proposal(row) if row else None

    def listing(self, *, limit: int = 100, offset: int = 0) -> list[StoredProposal]:
        """Newest first."""
        query = select(ProposalRow).order_by(ProposalRow.id.desc()).limit(limit).offset(offset)
        return [_proposal(row) for row in self.session.scalars(query).all()]

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(ProposalRow)) or 0

    def open_after_voting(self, now: datetime) -> list[StoredProposal]:
        """Proposals whose voting has ended and that are not closed yet (oldest first)."""
        query = (select(ProposalRow).where(ProposalRow.closed_at.is_(None), ProposalRow.voting_ends_at <= now)
                 .order_by(ProposalRow.executes_at, ProposalRow.id))
        return [_proposal(row) for row in self.session.scalars(query).all()]

    def close(self, proposal_id: int, at: datetime, *, executed_version_id: int | None = None,
              refused_reason: str | None = None) -> None:
        self.session.execute(update(ProposalRow).where(ProposalRow.id == proposal_id, ProposalRow.closed_at.is_(None))
                             .values(closed_at=at, executed_version_id=executed_version_id,
                                     refused_reason=refused_reason))

    def weights(self, proposal_id: int) -> dict[int, int]:
        query = select(ProposalWeightRow.account_id, ProposalWeightRow.shares).where(
            ProposalWeightRow.proposal_id == proposal_id)
        return {account: shares for account, shares in self.session.execute(query).all()}

    def votes(self, proposal_id: int) -> list[StoredVote]:
        query = (select(VoteRow).where(VoteRow.proposal_id == proposal_id)
                 .order_by(VoteRow.cast_at, VoteRow.account_id))
        return [StoredVote(r.account_id, r.choice, r.weight, r.cast_at) for r in self.session.scalars(query).all()]

    def tallies(self, proposal_ids: list[int]) -> dict[int, tuple[int, int]]:
        """(yes weight, no weight) of each proposal, in one query."""
        if not proposal_ids:
            return {}
        query = (select(VoteRow.proposal_id, VoteRow.choice, func.sum(VoteRow.weight))
                 .where(VoteRow.proposal_id.in_(proposal_ids)).group_by(VoteRow.proposal_id, VoteRow.choice))
        found = {pid: [0, 0] for pid in proposal_ids}
        for pid, choice, weight in self.session.execute(query).all():
            found[pid][0 if choice == "yes" else 1] = int(weight)
        return {pid: (yes, no) for pid, (yes, no) in found.items()}

    def add_vote(self, proposal_id: int, account_id: int, choice: str, weight: int, at: datetime) -> None:
        self.session.execute(insert(VoteRow), [{"proposal_id": proposal_id, "account_id": account_id,
                                                "choice": choice, "weight": weight, "cast_at": at}])

    def ragequits(self, proposal_id: int) -> list[StoredRagequit]:
        query = select(RagequitRow).where(RagequitRow.proposal_id == proposal_id).order_by(RagequitRow.at)
        return [StoredRagequit(r.account_id, r.shares, r.amount_sats, r.at) for r in self.session.scalars(query).all()]

    def add_ragequit(self, proposal_id: int, account_id: int, at: datetime) -> None:
        """The member's exit, recorded before the pool pays it (``paid_ragequit`` completes it)."""
        self.session.execute(insert(RagequitRow), [{"proposal_id": proposal_id, "account_id": account_id, "at": at}])

    def paid_ragequit(self, proposal_id: int, account_id: int, shares: int, amount_sats: int) -> None:
        self.session.execute(update(RagequitRow).where(RagequitRow.proposal_id == proposal_id,
                                                       RagequitRow.account_id == account_id,
                                                       RagequitRow.amount_sats.is_(None))
                             .values(shares=shares, amount_sats=amount_sats))

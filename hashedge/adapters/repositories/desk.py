"""Repositories for the OTC desk: users, login attempts, the audit log, four-eyes requests and
block trade reversals. Plain records out, never ORM rows; JSON columns come back as dicts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hashedge.adapters.orm.desk import (
    BlockTradeReversalRow,
    DeskAuditRow,
    DeskLoginAttemptRow,
    DeskRequestRow,
    DeskUserRow,
)


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def _load(text: str | None):
    return None if text is None else json.loads(text)


@dataclass(frozen=True)
class DeskUserRecord:
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None
    password_hash: str = ""

    def __repr__(self) -> str:  # never the hash in a log line
        return f"DeskUserRecord(id={self.id}, username={self.username!r}, role={self.role!r}, disabled={self.disabled})"


@dataclass(frozen=True)
class AuditRecord:
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target: str
    details: dict
    before: dict | None
    after: dict | None


@dataclass(frozen=True)
class DeskRequestRecord:
    id: int
    kind: str
    status: str
    payload: dict
    summary: str
    amount_sats: int
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    result: dict | None


@dataclass(frozen=True)
class ReversalRecord:
    original_trade_id: str
    reversal_trade_id: str
    reason: str
    occurred_at: datetime


def _user(row: DeskUserRow) -> DeskUserRecord:
    return DeskUserRecord(row.id, row.username, row.role, row.disabled, row.created_at, row.password_changed_at,
                          row.last_login_at, row.password_hash)


def _audit(row: DeskAuditRow) -> AuditRecord:
    return AuditRecord(row.id, row.occurred_at, row.actor, row.action, row.target, _load(row.details),
                       _load(row.before), _load(row.after))


def _request(row: DeskRequestRow) -> DeskRequestRecord:
    return DeskRequestRecord(row.id, row.kind, row.status, _load(row.payload), row.summary, row.amount_sats,
                             row.requested_by, row.requested_at, row.expires_at, row.decided_by, row.decided_at,
                             row.reason, _load(row.result))


class DeskUserRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, username: str, password_hash: str, role: str, now: datetime) -> DeskUserRecord:
        row = DeskUserRow(username=username, password_hash=password_hash, role=role, disabled=False,
                          created_at=now, password_changed_at=now)
        self.session.add(row)
        self.session.flush()
        return _user(row)

    def get(self, user_id: int) -> DeskUserRecord | None:
        row = self.session.get(DeskUserRow, user_id)
        return _user(row) if row else None

    def by_username(self, username: str, *, lock: bool = False) -> DeskUserRecord | None:
        query = select(DeskUserRow).where(DeskUserRow.username == username)
        row = self.session.scalar(query.with_for_update() if lock else query)
        return _user(row) if row else None

    def all(self) -> list[DeskUserRecord]:
        return [_user(row) for row in self.session.scalars(select(DeskUserRow).order_by(DeskUserRow.username))]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(DeskUserRow)) or 0)

    def update(self, user_id: int, **values) -> None:
        self.session.execute(update(DeskUserRow).where(DeskUserRow.id == user_id).values(**values))


class LoginAttemptRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, username: str, remote_addr: str, succeeded: bool, at: datetime) -> None:
        self.session.add(DeskLoginAttemptRow(username=username[:64], remote_addr=remote_addr[:64],
                                             succeeded=succeeded, attempted_at=at))
        self.session.flush()

    def failures_since(self, since: datetime, *, username: str | None = None,
                       remote_addr: str | None = None) -> list[datetime]:
        query = select(DeskLoginAttemptRow.attempted_at).where(
            DeskLoginAttemptRow.succeeded.is_(False), DeskLoginAttemptRow.attempted_at > since)
        if username is not None:
            query = query.where(DeskLoginAttemptRow.username == username[:64])
        if remote_addr is not None:
            query = query.where(DeskLoginAttemptRow.remote_addr == remote_addr[:64])
        return list(self.session.scalars(query))


class AuditRepository:
    """Append and read; the database refuses anything else."""

    def __init__(self, session: Session):
        self.session = session

    def add(self, *, occurred_at: datetime, actor: str, action: str, target: str, details: dict,
            before: dict | None, after: dict | None) -> None:
        self.session.add(DeskAuditRow(occurred_at=occurred_at, actor=actor, action=action, target=target[:128],
                                      details=_json(details), before=_json(before), after=_json(after)))
        self.session.flush()

    def _filtered(self, query, actor: str | None, action: str | None, target: str | None):
        if actor:
            query = query.where(DeskAuditRow.actor == actor)
        if action:
            query = query.where(DeskAuditRow.action.like(f"{action}%"))
        if target:
            query = query.where(DeskAuditRow.target == target)
        return query

    def page(self, *, actor=None, action=None, target=None, limit: int, offset: int) -> list[AuditRecord]:
        query = self._filtered(select(DeskAuditRow), actor, action, target)
        query = query.order_by(DeskAuditRow.id.desc()).limit(limit).offset(offset)
        return [_audit(row) for row in self.session.scalars(query)]

    def count(self, *, actor=None, action=None, target=None) -> int:
        query = self._filtered(select(func.count()).select_from(DeskAuditRow), actor, action, target)
        return int(self.session.scalar(query) or 0)


class DeskRequestRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, *, kind: str, payload: dict, summary: str, amount_sats: int, requested_by: str,
            requested_at: datetime, expires_at: datetime) -> DeskRequestRecord:
        row = DeskRequestRow(kind=kind, status="pending", payload=_json(payload), summary=summary[:255],
                             amount_sats=amount_sats, requested_by=requested_by, requested_at=requested_at,
                             expires_at=expires_at)
        self.session.add(row)
        self.session.flush()
        return _request(row)

    def get(self, request_id: int, *, lock: bool = False) -> DeskRequestRecord | None:
        query = select(DeskRequestRow).where(DeskRequestRow.id == request_id)
        row = self.session.scalar(query.with_for_update() if lock else query)
        return _request(row) if row else None

    def decide(self, request_id: int, *, status: str, decided_by: str | None, decided_at: datetime,
               reason: str | None = None, result: dict | None = None) -> None:
        self.session.execute(update(DeskRequestRow).where(DeskRequestRow.id == request_id).values(
            status=status, decided_by=decided_by, decided_at=decided_at, reason=reason, result=_json(result)))

    def expired_pending(self, now: datetime) -> list[DeskRequestRecord]:
        query = select(DeskRequestRow).where(DeskRequestRow.status == "pending", DeskRequestRow.expires_at <= now)
        return [_request(row) for row in self.session.scalars(query.with_for_update())]

    def page(self, *, status: str | None = None, limit: int, offset: int) -> list[DeskRequestRecord]:
        query = select(DeskRequestRow)
        if status:
            query = query.where(DeskRequestRow.status == status)
        query = query.order_by(DeskRequestRow.id.desc()).limit(limit).offset(offset)
        return [_request(row) for row in self.session.scalars(query)]

    def count(self, *, status: str | None = None) -> int:
        query = select(func.count()).select_from(DeskRequestRow)
        if status:
            query = query.where(DeskRequestRow.status == status)
        return int(self.session.scalar(query) or 0)


class ReversalRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, original_trade_id: str, reversal_trade_id: str, reason: str, at: datetime) -> None:
        self.session.add(BlockTradeReversalRow(original_trade_id=original_trade_id,
                                               reversal_trade_id=reversal_trade_id, reason=reason, occurred_at=at))
        self.session.flush()

    def of_trades(self, trade_ids) -> dict[str, ReversalRecord]:
        """Reversal records touching ``trade_ids`` (as original or as reversal), by trade id."""
        ids = list(trade_ids)
        if not ids:
            return {}
        rows = self.session.scalars(select(BlockTradeReversalRow).where(
            BlockTradeReversalRow.original_trade_id.in_(ids) | BlockTradeReversalRow.reversal_trade_id.in_(ids)))
        found = {}
        for row in rows:
            record = ReversalRecord(row.original_trade_id, row.reversal_trade_id, row.reason, row.occurred_at)
            found[row.original_trade_id] = found[row.reversal_trade_id] = record
        return found

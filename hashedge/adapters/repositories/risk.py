"""Repositories for margin standing: account events and the last seen status per account.
Domain values in and out (``AccountEvent``, ``MarginStatus``), never ORM rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from hashedge.adapters.orm.risk import AccountEventRow, AccountStatusRow
from hashedge.domain.account_events import AccountEvent, Standing
from hashedge.domain.margin import MarginStatus


@dataclass(frozen=True)
class StoredEvent:
    id: int
    event: AccountEvent


def _stored(row: AccountEventRow) -> StoredEvent:
    standing = Standing(equity_sats=row.equity_sats, initial_margin_sats=row.initial_margin_sats,
                        maintenance_margin_sats=row.maintenance_margin_sats)
    return StoredEvent(row.id, AccountEvent(account_id=str(row.account_id), kind=row.kind,
                                            occurred_at=row.occurred_at, standing=standing,
                                            liquidation_id=row.liquidation_id, detail=json.loads(row.detail)))


class AccountEventRepository:
    def __init__(self, session: Session):
        self.session = session

    def add_many(self, events: list[AccountEvent]) -> None:
        if not events:
            return
        self.session.execute(insert(AccountEventRow), [{
            "account_id": int(e.account_id), "kind": e.kind.value, "occurred_at": e.occurred_at,
            "equity_sats": e.standing.equity_sats, "initial_margin_sats": e.standing.initial_margin_sats,
            "maintenance_margin_sats": e.standing.maintenance_margin_sats, "liquidation_id": e.liquidation_id,
            "detail": json.dumps(dict(e.detail), sort_keys=True, default=str),
        } for e in events])

    @staticmethod
    def _of_account(account_id: int, start: datetime | None, end: datetime | None) -> list:
        conditions = [AccountEventRow.account_id == account_id]
        if start is not None:
            conditions.append(AccountEventRow.occurred_at >= start)
        if end is not None:
            conditions.append(AccountEventRow.occurred_at <= end)
        return conditions

    def of_account(self, account_id: int, *, start: datetime | None = None, end: datetime | None = None,
                   limit: int = 100, offset: int = 0) -> list[StoredEvent]:
        """The account's events, newest first."""
        query = (select(AccountEventRow).where(*self._of_account(account_id, start, end))
                 .order_by(AccountEventRow.id.desc()).limit(limit).offset(offset))
        return [_stored(row) for row in self.session.scalars(query).all()]

    def count_of_account(self, account_id: int, *, start: datetime | None = None,
                         end: datetime | None = None) -> int:
        return self.session.scalar(select(func.count()).select_from(AccountEventRow)
                                   .where(*self._of_account(account_id, start, end))) or 0

    def count(self, account_id: int | None = None, kind: str | None = None) -> int:
        query = select(func.count()).select_from(AccountEventRow)
        if account_id is not None:
            query = query.where(AccountEventRow.account_id == account_id)
        if kind is not None:
            query = query.where(AccountEventRow.kind == kind)
        return self.session.scalar(query) or 0


class AccountStatusRepository:
    """The status the sweep last recorded; an account without a row is healthy."""

    def __init__(self, session: Session):
        self.session = session

    def not_healthy(self) -> dict[str, MarginStatus]:
        rows = self.session.execute(select(AccountStatusRow.account_id, AccountStatusRow.status)).all()
        return {str(account_id): MarginStatus(status) for account_id, status in rows}

    def of(self, account_ids) -> dict[str, MarginStatus]:
        ids = [int(a) for a in account_ids]
        if not ids:
            return {}
        rows = self.session.execute(select(AccountStatusRow.account_id, AccountStatusRow.status)
                                    .where(AccountStatusRow.account_id.in_(ids))).all()
        return {str(account_id): MarginStatus(status) for account_id, status in rows}

    def set(self, account_id: str, status: MarginStatus, since: datetime) -> None:
        key = int(account_id)
        if status is MarginStatus.HEALTHY:
            self.session.execute(delete(AccountStatusRow).where(AccountStatusRow.account_id == key))
            return
        changed = self.session.execute(update(AccountStatusRow).where(AccountStatusRow.account_id == key)
                                       .values(status=status.value, since=since))
        if changed.rowcount == 0:
            self.session.execute(insert(AccountStatusRow), [{"account_id": key, "status": status.value,
                                                             "since": since}])

"""Repositories of backstop liquidity: the pool (system account, share movements, withdrawals,
NAV history) and standing backstop offers. Share movements are only ever inserted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from hashedge.adapters.orm.backstop import (
    BackstopOfferRow,
    BackstopPoolRow,
    PoolNavRow,
    PoolShareEventRow,
    PoolWithdrawalRow,
)


@dataclass(frozen=True)
class ShareEvent:
    id: int
    account_id: int
    kind: str
    shares: int
    amount_sats: int
    nav_sats: int
    shares_outstanding: int
    withdrawal_id: int | None
    request_key: str
    occurred_at: datetime


@dataclass(frozen=True)
class PoolWithdrawal:
    id: int
    account_id: int
    shares: int
    idempotency_key: str
    requested_at: datetime
    executes_at: datetime
    status: str
    executed_at: datetime | None
    amount_sats: int | None


@dataclass(frozen=True)
class NavPoint:
    business_date: date
    nav_sats: int
    shares_outstanding: int


@dataclass(frozen=True)
class StoredOffer:
    id: int
    account_id: int
    instrument: str
    side: str
    max_quantity: int
    filled_quantity: int
    max_discount_bps: int
    status: str
    created_at: datetime
    cancelled_at: datetime | None

    @property
    def remaining(self) -> int:
        return self.max_quantity - self.filled_quantity


def _event(row: PoolShareEventRow) -> ShareEvent:
    return ShareEvent(row.id, row.account_id, row.kind, row.shares, row.amount_sats, row.nav_sats,
                      row.shares_outstanding, row.withdrawal_id, row.request_key, row.occurred_at)


def _withdrawal(row: PoolWithdrawalRow) -> PoolWithdrawal:
    return PoolWithdrawal(row.id, row.account_id, row.shares, row.idempotency_key, row.requested_at, row.executes_at,
                          row.status, row.executed_at, row.amount_sats)


def _offer(row: BackstopOfferRow) -> StoredOffer:
    return StoredOffer(row.id, row.account_id, row.instrument, row.side, row.max_quantity, row.filled_quantity,
                       row.max_discount_bps, row.status, row.created_at, row.cancelled_at)


_SHARES = (PoolShareEventRow.kind.in_(("mint", "burn")))


class PoolRepository:
    def __init__(self, session: Session):
        self.session = session

    # --- the pool's account ---------------------------------------------------------------

    def account_id(self) -> int | None:
        return self.session.scalar(select(BackstopPoolRow.account_id).where(BackstopPoolRow.id == 1))

    def set_account(self, account_id: int, created_at: datetime) -> None:
        self.session.execute(insert(BackstopPoolRow), [{"id": 1, "account_id": account_id, "created_at": created_at}])

    # --- shares ----------------------------------------------------------------------------

    def add_event(self, *, account_id: int, kind: str, shares: int, amount_sats: int, nav_sats: int,
                  shares_outstanding: int, request_key: str, occurred_at: datetime,
                  withdrawal_id: int | None = None) -> ShareEvent:
        row = PoolShareEventRow(account_id=account_id, kind=kind, shares=shares, amount_sats=amount_sats,
                                nav_sats=nav_sats, shares_outstanding=shares_outstanding, request_key=request_key,
                                occurred_at=occurred_at, withdrawal_id=withdrawal_id)
        self.session.add(row)
        self.session.flush()
        return _event(row)

    def event_by_key(self, request_key: str) -> ShareEvent | None:
        row = self.session.scalar(select(PoolShareEventRow).where(PoolShareEventRow.request_key == request_key))
        return _event(row) if row else None

    def shares_of(self, account_id: int, as_of: datetime | None = None) -> int:
        query = select(func.coalesce(func.sum(PoolShareEventRow.shares), 0)).where(
            _SHARES, PoolShareEventRow.account_id == account_id)
        if as_of is not None:
            query = query.where(PoolShareEventRow.occurred_at <= as_of)
        return int(self.session.scalar(query))

    def shares_by_account(self, as_of: datetime | None = None) -> dict[int, int]:
        """Every LP's shares (those with none left out), as of an instant (inclusive) or now."""
        query = select(PoolShareEventRow.account_id, func.sum(PoolShareEventRow.shares)).where(_SHARES)
        if as_of is not None:
            query = query.where(PoolShareEventRow.occurred_at <= as_of)
        rows = self.session.execute(query.group_by(PoolShareEventRow.account_id)).all()
        return {int(a): int(s) for a, s in sorted(rows) if s}

    def total_shares(self, as_of: datetime | None = None) -> int:
        query = select(func.coalesce(func.sum(PoolShareEventRow.shares), 0)).where(_SHARES)
        if as_of is not None:
            query = query.where(PoolShareEventRow.occurred_at <= as_of)
        return int(self.session.scalar(query))

    def events(self, account_id: int | None = None, *, limit: int = 100) -> list[ShareEvent]:
        query = select(PoolShareEventRow).order_by(PoolShareEventRow.id.desc()).limit(limit)
        if account_id is not None:
            query = query.where(PoolShareEventRow.account_id == account_id)
        return [_event(r) for r in self.session.scalars(query)]

    def totals_by_kind(self) -> dict[str, int]:
        rows = self.session.execute(select(PoolShareEventRow.kind, func.sum(PoolShareEventRow.amount_sats))
                                    .group_by(PoolShareEventRow.kind)).all()
        return {k: int(v or 0) for k, v in rows}

    # --- withdrawals -----------------------------------------------------------------------

    def add_withdrawal(self, *, account_id: int, shares: int, idempotency_key: str, requested_at: datetime,
                       executes_at: datetime) -> PoolWithdrawal:
        row = PoolWithdrawalRow(account_id=account_id, shares=shares, idempotency_key=idempotency_key,
                                requested_at=requested_at, executes_at=executes_at, status="queued")
        self.session.add(row)
        self.session.flush()
        return _withdrawal(row)

    def withdrawal_by_key(self, account_id: int, idempotency_key: str) -> PoolWithdrawal | None:
        row = self.session.scalar(select(PoolWithdrawalRow).where(PoolWithdrawalRow.account_id == account_id,
                                                                  PoolWithdrawalRow.idempotency_key == idempotency_key))
        return _withdrawal(row) if row else None

    def withdrawal(self, withdrawal_id: int) -> PoolWithdrawal | None:
        row = self.session.get(PoolWithdrawalRow, withdrawal_id)
        return _withdrawal(row) if row else None

    def queued(self, account_id: int | None = None) -> list[PoolWithdrawal]:
        query = select(PoolWithdrawalRow).where(PoolWithdrawalRow.status == "queued").order_by(PoolWithdrawalRow.id)
        if account_id is not None:
            query = query.where(PoolWithdrawalRow.account_id == account_id)
        return [_withdrawal(r) for r in self.session.scalars(query)]

    def due(self, now: datetime) -> list[PoolWithdrawal]:
        query = (select(PoolWithdrawalRow).where(PoolWithdrawalRow.status == "queued",
                                                 PoolWithdrawalRow.executes_at <= now)
                 .order_by(PoolWithdrawalRow.executes_at, PoolWithdrawalRow.id))
        return [_withdrawal(r) for r in self.session.scalars(query)]

    def queued_shares(self, account_id: int) -> int:
        return int(self.session.scalar(select(func.coalesce(func.sum(PoolWithdrawalRow.shares), 0)).where(
            PoolWithdrawalRow.account_id == account_id, PoolWithdrawalRow.status == "queued")))

    def mark_executed(self, withdrawal_id: int, executed_at: datetime, amount_sats: int) -> bool:
        """Queued -> executed; False if it was not queued (executed by someone else meanwhile)."""
        done = self.session.execute(update(PoolWithdrawalRow).where(
            PoolWithdrawalRow.id == withdrawal_id, PoolWithdrawalRow.status == "queued").values(
            status="executed", executed_at=executed_at, amount_sats=amount_sats))
        return done.rowcount == 1

    # --- NAV history -----------------------------------------------------------------------

    def record_nav(self, business_date: date, nav_sats: int, shares_outstanding: int, recorded_at: datetime) -> bool:
        if self.session.get(PoolNavRow, business_date) is not None:
            return False
        self.session.execute(insert(PoolNavRow), [{"business_date": business_date, "nav_sats": nav_sats,
                                                   "shares_outstanding": shares_outstanding,
                                                   "recorded_at": recorded_at}])
        return True

    def nav_history(self, *, limit: int = 366) -> list[NavPoint]:
        rows = self.session.scalars(select(PoolNavRow).order_by(PoolNavRow.business_date.desc()).limit(limit))
        return sorted((NavPoint(r.business_date, r.nav_sats, r.shares_outstanding) for r in rows),
                      key=lambda p: p.business_date)


class BackstopOfferRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, *, account_id: int, instrument: str, side: str, max_quantity: int, max_discount_bps: int,
            created_at: datetime) -> StoredOffer:
        row = BackstopOfferRow(account_id=account_id, instrument=instrument, side=side, max_quantity=max_quantity,
                               filled_quantity=0, max_discount_bps=max_discount_bps, status="active",
                               created_at=created_at)
        self.session.add(row)
        self.session.flush()
        return _offer(row)

    def get(self, offer_id: int) -> StoredOffer | None:
        row = self.session.get(BackstopOfferRow, offer_id)
        return _offer(row) if row else None

    def of_account(self, account_id: int, *, active_only: bool = False) -> list[StoredOffer]:
        query = select(BackstopOfferRow).where(BackstopOfferRow.account_id == account_id).order_by(BackstopOfferRow.id)
        if active_only:
            query = query.where(BackstopOfferRow.status == "active")
        return [_offer(r) for r in self.session.scalars(query)]

    def active(self, instrument: str, side: str) -> list[StoredOffer]:
        """Active offers on ``instrument`` taking ``side``, in time priority."""
        query = (select(BackstopOfferRow).where(BackstopOfferRow.instrument == instrument,
                                                BackstopOfferRow.side == side, BackstopOfferRow.status == "active")
                 .order_by(BackstopOfferRow.id))
        return [_offer(r) for r in self.session.scalars(query)]

    def all_active(self) -> list[StoredOffer]:
        query = select(BackstopOfferRow).where(BackstopOfferRow.status == "active").order_by(BackstopOfferRow.id)
        return [_offer(r) for r in self.session.scalars(query)]

    def cancel(self, offer_id: int, at: datetime) -> bool:
        done = self.session.execute(update(BackstopOfferRow).where(
            BackstopOfferRow.id == offer_id, BackstopOfferRow.status == "active").values(
            status="cancelled", cancelled_at=at))
        return done.rowcount == 1

    def add_fill(self, offer_id: int, quantity: int) -> None:
        row = self.session.get(BackstopOfferRow, offer_id, with_for_update=True)
        row.filled_quantity += quantity
        if row.filled_quantity >= row.max_quantity:
            row.status = "filled"
        self.session.flush()

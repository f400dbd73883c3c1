"""Repository for protection contracts, their history and requests for quote."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from hashedge.adapters.orm.protection import (
    ProtectionContractRow,
    ProtectionEventRow,
    ProtectionRfqAnswerRow,
    ProtectionRfqRow,
)
from hashedge.domain.protection import ContractStatus, ProtectionContract

FUND_SELLER = "insurance_fund"
_STATE = ("status", "collateral_sats", "premium_paid_sats", "premium_paid_through", "mark_sats", "marked_on",
          "credit_event_liquidation_id", "closed_at")  # the seller id of protection the insurance fund sold


@dataclass(frozen=True)
class StoredContract:
    contract: ProtectionContract
    collateral_sats: int
    premium_paid_sats: int
    premium_paid_through: date | None
    mark_sats: int
    marked_on: date | None
    credit_event_liquidation_id: str | None
    booked_via: str
    booked_at: datetime
    closed_at: datetime | None

    @property
    def id(self) -> str:
        return self.contract.contract_id


@dataclass(frozen=True)
class ProtectionEvent:
    contract_id: str
    kind: str  # booked | premium | collateral | credit_event | matured
    business_date: date
    occurred_at: datetime
    amount_sats: int
    entry_key: str | None
    detail: dict


@dataclass(frozen=True)
class Rfq:
    id: str
    buyer_account_id: int
    reference_account_id: int
    reference_instrument_id: str | None
    notional_sats: int
    tenor: str
    settlement: str
    status: str
    created_at: datetime
    contract_id: str | None


@dataclass(frozen=True)
class RfqAnswer:
    id: str
    rfq_id: str
    seller_account_id: int
    premium_bps: Decimal
    upfront_sats: int
    created_at: datetime
    valid_until: datetime  # it cannot be accepted from then on (domain.protection.rfq)
    withdrawn_at: datetime | None = None  # by its seller, before it expired


def _answer(r: ProtectionRfqAnswerRow) -> RfqAnswer:
    return RfqAnswer(r.id, r.rfq_id, r.seller_account_id, Decimal(r.premium_bps), r.upfront_sats, r.created_at,
                     r.valid_until, r.withdrawn_at)


def _contract(row: ProtectionContractRow) -> StoredContract:
    contract = ProtectionContract(
        contract_id=row.id, buyer_account_id=str(row.buyer_account_id),
        seller_account_id=FUND_SELLER if row.seller_account_id is None else str(row.seller_account_id),
        reference_account_id=str(row.reference_account_id), reference_instrument_id=row.reference_instrument_id,
        notional_sats=row.notional_sats, premium_bps=Decimal(row.premium_bps), upfront_sats=row.upfront_sats,
        trade_date=row.trade_date, maturity_date=row.maturity_date, settlement=row.settlement, status=row.status)
    return StoredContract(contract, row.collateral_sats, row.premium_paid_sats, row.premium_paid_through,
                          row.mark_sats, row.marked_on, row.credit_event_liquidation_id, row.booked_via,
                          row.booked_at, row.closed_at)


def _seller_column(seller_account_id: str) -> int | None:
    return None if seller_account_id == FUND_SELLER else int(seller_account_id)


class ProtectionRepository:
    def __init__(self, session: Session):
        self.session = session

    # --- contracts ------------------------------------------------------------------------

    def add(self, stored: StoredContract) -> None:
        c = stored.contract
        self.session.execute(insert(ProtectionContractRow), [{
            "id": c.contract_id, "buyer_account_id": int(c.buyer_account_id),
            "seller_account_id": _seller_column(c.seller_account_id),
            "reference_account_id": int(c.reference_account_id), "reference_instrument_id": c.reference_instrument_id,
            "notional_sats": c.notional_sats, "premium_bps": format(c.premium_bps, "f"),
            "upfront_sats": c.upfront_sats, "trade_date": c.trade_date, "maturity_date": c.maturity_date,
            "settlement": c.settlement.value, "status": c.status.value, "collateral_sats": stored.collateral_sats,
            "premium_paid_sats": stored.premium_paid_sats, "premium_paid_through": stored.premium_paid_through,
            "mark_sats": stored.mark_sats, "marked_on": stored.marked_on,
            "credit_event_liquidation_id": stored.credit_event_liquidation_id, "booked_via": stored.booked_via,
            "booked_at": stored.booked_at, "closed_at": stored.closed_at}])

    def get(self, contract_id: str) -> StoredContract | None:
        row = self.session.get(ProtectionContractRow, contract_id)
        return None if row is None else _contract(row)

    def of_account(self, account_id: int, *, status: str | None = None) -> list[StoredContract]:
        """Contracts the account bought or sold, newest first."""
        query = select(ProtectionContractRow).where(or_(ProtectionContractRow.buyer_account_id == account_id,
                                                        ProtectionContractRow.seller_account_id == account_id))
        if status:
            query = query.where(ProtectionContractRow.status == status)
        rows = self.session.scalars(query.order_by(ProtectionContractRow.booked_at.desc(),
                                                   ProtectionContractRow.id.desc()))
        return [_contract(r) for r in rows]

    def all(self, *, status: str | None = None) -> list[StoredContract]:
        query = select(ProtectionContractRow)
        if status:
            query = query.where(ProtectionContractRow.status == status)
        return [_contract(r) for r in self.session.scalars(query.order_by(ProtectionContractRow.booked_at,
                                                                           ProtectionContractRow.id))]

    def active_on(self, account_ids) -> list[StoredContract]:
        """Active contracts referencing, bought by or sold by any of ``account_ids``, in id order."""
        ids = [int(a) for a in account_ids]
        if not ids:
            return []
        row = ProtectionContractRow
        query = select(row).where(row.status == ContractStatus.ACTIVE.value, or_(
            row.reference_account_id.in_(ids), row.buyer_account_id.in_(ids), row.seller_account_id.in_(ids)))
        return [_contract(r) for r in self.session.scalars(query.order_by(row.id))]

    def protected_positions(self, day: date) -> dict[str, set[str]]:
        """Per instrument, the accounts whose position protection in force covers on ``day``
        (protection of the position itself: protection bought on an account applies only while that
        account is liquidated)."""
        row = ProtectionContractRow
        rows = self.session.execute(select(row.reference_instrument_id, row.buyer_account_id, row.trade_date,
                                           row.maturity_date).where(row.status == ContractStatus.ACTIVE.value,
                                                                    row.reference_instrument_id.is_not(None)))
        found: dict[str, set[str]] = {}
        for symbol, buyer, traded, maturity in rows:
            if traded < day <= maturity:
                found.setdefault(symbol, set()).add(str(buyer))
        return found

    def fund_notional_sats(self) -> int:
        row = ProtectionContractRow
        return self.session.scalar(select(func.coalesce(func.sum(row.notional_sats), 0)).where(
            row.seller_account_id.is_(None), row.status == ContractStatus.ACTIVE.value)) or 0

    def update(self, stored: StoredContract) -> None:
        self.update_many([stored])

    def update_many(self, contracts: list[StoredContract]) -> None:
        """The state columns of many contracts, in one statement executed for each (by id)."""
        if not contracts:
            return
        table = ProtectionContractRow.__table__
        statement = update(table).where(table.c.id == bindparam("b_id")).values(
            {name: bindparam(f"b_{name}") for name in _STATE})
        self.session.execute(statement, [{"b_id": s.id, "b_status": s.contract.status.value,
                                          **{f"b_{name}": getattr(s, name) for name in _STATE if name != "status"}}
                                         for s in contracts])

    # --- history --------------------------------------------------------------------------

    def add_events(self, events: list[ProtectionEvent]) -> None:
        if events:
            self.session.execute(insert(ProtectionEventRow), [{
                "contract_id": e.contract_id, "kind": e.kind, "business_date": e.business_date,
                "occurred_at": e.occurred_at, "amount_sats": e.amount_sats, "entry_key": e.entry_key,
                "detail": json.dumps(e.detail, sort_keys=True)} for e in events])

    def events_of(self, contract_id: str) -> list[ProtectionEvent]:
        rows = self.session.scalars(select(ProtectionEventRow).where(ProtectionEventRow.contract_id == contract_id)
                                    .order_by(ProtectionEventRow.id))
        return [ProtectionEvent(r.contract_id, r.kind, r.business_date, r.occurred_at, r.amount_sats, r.entry_key,
                                json.loads(r.detail)) for r in rows]

    def dates_done(self, kind: str, business_date: date) -> set[str]:
        """Contracts that already have a ``kind`` event on ``business_date``."""
        return set(self.session.scalars(select(ProtectionEventRow.contract_id).where(
            ProtectionEventRow.kind == kind, ProtectionEventRow.business_date == business_date)))

    # --- requests for quote ------------------------------------------------------------------

    def add_rfq(self, rfq: Rfq) -> None:
        self.session.add(ProtectionRfqRow(**rfq.__dict__))

    def get_rfq(self, rfq_id: str, *, lock: bool = False) -> Rfq | None:
        query = select(ProtectionRfqRow).where(ProtectionRfqRow.id == rfq_id)
        row = self.session.scalar(query.with_for_update() if lock else query)
        return None if row is None else Rfq(**{k: getattr(row, k) for k in Rfq.__dataclass_fields__})

    def rfqs(self, *, status: str | None = None, buyer_account_id: int | None = None) -> list[Rfq]:
        query = select(ProtectionRfqRow)
        if status:
            query = query.where(ProtectionRfqRow.status == status)
        if buyer_account_id is not None:
            query = query.where(ProtectionRfqRow.buyer_account_id == buyer_account_id)
        rows = self.session.scalars(query.order_by(ProtectionRfqRow.created_at.desc(), ProtectionRfqRow.id))
        return [Rfq(**{k: getattr(r, k) for k in Rfq.__dataclass_fields__}) for r in rows]

    def set_rfq(self, rfq: Rfq, *, status: str, contract_id: str | None = None) -> Rfq:
        self.session.execute(update(ProtectionRfqRow).where(ProtectionRfqRow.id == rfq.id)
                             .values(status=status, contract_id=contract_id))
        return replace(rfq, status=status, contract_id=contract_id)

    def add_answer(self, answer: RfqAnswer) -> None:
        self.session.add(ProtectionRfqAnswerRow(id=answer.id, rfq_id=answer.rfq_id,
                                                seller_account_id=answer.seller_account_id,
                                                premium_bps=format(answer.premium_bps, "f"),
                                                upfront_sats=answer.upfront_sats, created_at=answer.created_at,
                                                valid_until=answer.valid_until))

    def withdraw_answer(self, answer: RfqAnswer, at: datetime) -> RfqAnswer:
        self.session.execute(update(ProtectionRfqAnswerRow).where(ProtectionRfqAnswerRow.id == answer.id)
                             .values(withdrawn_at=at))
        return replace(answer, withdrawn_at=at)

    def answers_of(self, rfq_id: str) -> list[RfqAnswer]:
        rows = self.session.scalars(select(ProtectionRfqAnswerRow).where(ProtectionRfqAnswerRow.rfq_id == rfq_id)
                                    .order_by(ProtectionRfqAnswerRow.created_at, ProtectionRfqAnswerRow.id))
        return [_answer(r) for r in rows]

    def get_answer(self, answer_id: str) -> RfqAnswer | None:
        r = self.session.scalar(select(ProtectionRfqAnswerRow).where(ProtectionRfqAnswerRow.id == answer_id)
                                .execution_options(populate_existing=True))  # as committed now, not as first read
        return None if r is None else _answer(r)

"""Four eyes (``domain.four_eyes``): withdrawals, block trades, insurance fund contributions and
protection bookings above the governed sizes wait as requests until a second user with the right
role approves them.

``submit_withdrawal`` / ``submit_block_trade`` / ``submit_insurance_contribution`` /
``submit_protection_booking`` run the action at once when it is small enough;
otherwise they run the action's checks now (so a request that could not succeed is refused at
once, with field errors) and store a pending request. ``decide`` approves or rejects: approval
runs the action through ``services.desk_actions`` in ONE transaction that also locks the request
row, checks it is still pending, not expired and not the approver's own, marks it executed and
writes the audit records. An approved action that is refused when it runs (margin moved since)
marks the request ``failed`` with the reason. Expired requests are recorded as such
(``expire_due``); nothing is ever deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from hashedge.adapters.repositories.desk import DeskRequestRecord
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.protection import StoredContract
from hashedge.adapters.repositories.trading import TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger as ledger_rules
from hashedge.domain.four_eyes import (
    DeskParameters,
    RequestKind,
    RequestStatus,
    approval_refusal,
    block_trade_needs_approval,
    insurance_contribution_needs_approval,
    protection_booking_needs_approval,
    withdrawal_needs_approval,
)
from hashedge.errors import Conflict, Forbidden, HashEdgeError, InsufficientCollateral, InvalidInput, NotFound
from hashedge.services import audit, block_trades, desk_actions, protection
from hashedge.services.accounts import require_account
from hashedge.services.audit import Actor, AuditedUnitOfWork
from hashedge.services.desk_actions import SessionFactory
from hashedge.services.ledger import CollateralMovement, PostedEntry, margin_engine_requirement, require_amount
from hashedge.services.trading import InsufficientMargin, OrderRejected

MAX_REASON_LENGTH = 500
MAX_PAGE_SIZE = 200


def desk_parameters() -> DeskParameters:
    """The desk parameters in force: the one place governance will take them over from (until
    then the documented defaults of ``domain.four_eyes.DeskParameters``)."""
    return DeskParameters()


class RequestClosed(Conflict):
    """The request is no longer pending (decided, expired or failed)."""

    code = "request_closed"


@dataclass(frozen=True)
class Submission:
    """What a submit did: ran the action (``movement`` or ``trade``) or stored ``request``."""

    request: DeskRequestRecord | None = None
    movement: CollateralMovement | None = None
    trade: TradeRecord | None = None
    entry: PostedEntry | None = None  # an insurance fund contribution
    contract: StoredContract | None = None  # a protection booking

    @property
    def pending(self) -> bool:
        return self.request is not None


@dataclass(frozen=True)
class RequestsPage:
    items: list[DeskRequestRecord]
    total: int
    page: int
    page_size: int


def _store(session_factory: SessionFactory, clock: Clock, actor: Actor, kind: RequestKind, payload: dict,
           summary: str, amount_sats: int, check) -> DeskRequestRecord:
    now, params = clock.now(), desk_parameters()
    with UnitOfWork(session_factory) as uow:
        check(uow)
        request = uow.desk_requests.add(kind=kind.value, payload=payload, summary=summary, amount_sats=amount_sats,
                                        requested_by=actor.username, requested_at=now,
                                        expires_at=now + params.request_expiry)
        audit.record(uow, clock, actor, "request.create", f"request:{request.id}", {"kind": kind.value, **payload},
                     after={"status": request.status, "summary": summary})
        uow.commit()
    return request


def submit_withdrawal(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int,
                      amount_sats: int, *, idempotency_key: str, memo: str = "") -> Submission:
    amount = require_amount(amount_sats)
    if not withdrawal_needs_approval(amount, desk_parameters()):
        return Submission(movement=desk_actions.withdraw(session_factory, clock, actor, account_id, amount,
                                                         idempotency_key, memo))

    def would_pass_now(uow: UnitOfWork) -> None:
        require_account(uow, account_id)
        balance = uow.ledger.balances([collateral_of(account_id)]).get(collateral_of(account_id), 0)
        required = margin_engine_requirement(account_id, uow)
        denial = ledger_rules.withdrawal_denial(amount, balance - required)
        if denial is not None:
            raise InsufficientCollateral(denial.message, amount_sats=amount, balance_sats=balance,
                                         initial_margin_sats=required,
                                         free_collateral_sats=max(balance - required, 0),
                                         shortfall_sats=denial.shortfall_sats)

    with UnitOfWork(session_factory) as uow:
        name = require_account(uow, account_id).name
    payload = {"account_id": account_id, "amount_sats": amount, "memo": memo}
    return Submission(request=_store(session_factory, clock, actor, RequestKind.WITHDRAWAL, payload,
                                     f"withdraw {amount:,} sats from {name} (account {account_id})", amount,
                                     would_pass_now))


def submit_block_trade(session_factory: SessionFactory, clock: Clock, actor: Actor, *, buyer_id: int,
                       seller_id: int, instrument: str, quantity: int, price) -> Submission:
    notional = block_trades.block_notional_sats(UnitOfWork(session_factory), instrument=instrument,
                                                quantity=quantity, price=price)
    if not block_trade_needs_approval(notional, desk_parameters()):
        return Submission(trade=desk_actions.book_block_trade(
            session_factory, clock, actor, buyer_id=buyer_id, seller_id=seller_id, instrument=instrument,
            quantity=quantity, price=price))
    preview = block_trades.preview_block_trade(UnitOfWork(session_factory), clock, buyer_id=buyer_id,
                                               seller_id=seller_id, instrument=instrument, quantity=quantity,
                                               price=price)
    if preview.price_refusal:
        raise InvalidInput(preview.price_refusal, fields={"price": [preview.price_refusal]})
    for side in (preview.buyer, preview.seller):
        if side.refusal:
            raise InvalidInput(side.refusal, fields={side.side + "er": [side.refusal]})
    payload = {"buyer_id": buyer_id, "seller_id": seller_id, "instrument": preview.instrument,
               "quantity": preview.quantity, "price": format(preview.price, "f")}
    summary = (f"block {preview.quantity} {preview.instrument} @ {format(preview.price, 'f')}: "
               f"{preview.buyer.name} buys from {preview.seller.name}")
    return Submission(request=_store(session_factory, clock, actor, RequestKind.BLOCK_TRADE, payload, summary,
                                     notional, lambda uow: None))


def submit_insurance_contribution(session_factory: SessionFactory, clock: Clock, actor: Actor, amount_sats: int,
                                  *, idempotency_key: str, memo: str = "") -> Submission:
    """A contribution to the insurance fund: at once up to the governed size, a request above it."""
    amount = require_amount(amount_sats)
    if not insurance_contribution_needs_approval(amount, desk_parameters()):
        return Submission(entry=desk_actions.contribute_to_insurance_fund(session_factory, clock, actor, amount,
                                                                          idempotency_key, memo))
    payload = {"amount_sats": amount, "memo": memo}
    return Submission(request=_store(session_factory, clock, actor, RequestKind.INSURANCE_CONTRIBUTION, payload,
                                     f"contribute {amount:,} sats to the insurance fund", amount, lambda uow: None))


def submit_protection_booking(session_factory: SessionFactory, clock: Clock, actor: Actor, *, buyer_id: int,
                              seller_id: int | None, reference_id: int, notional_sats: object, premium_bps: object,
                              maturity: date | None, settlement: str, upfront_sats: object = 0,
                              reference_instrument: str | None = None) -> Submission:
    """A protection contract booked on the desk (``seller_id`` None: the insurance fund): at once up
    to the governed notional, a request above it. The request is refused at once if its terms or
    parties are invalid; the band and the seller's collateral are checked when it is approved (the
    booking's own checks, on the state of that moment: refused then, the request fails)."""
    notional, premium, _ = protection.check_terms(notional_sats, premium_bps, maturity, None, settlement,
                                                  upfront_sats)
    terms = dict(buyer_id=buyer_id, seller_id=seller_id, reference_id=reference_id, notional_sats=notional,
                 premium_bps=premium, maturity=maturity, settlement=settlement, upfront_sats=upfront_sats,
                 reference_instrument=reference_instrument)
    if not protection_booking_needs_approval(notional, desk_parameters()):
        return Submission(contract=desk_actions.book_protection(session_factory, clock, actor, **terms))
    with UnitOfWork(session_factory).read_only() as uow:
        names = {a: require_account(uow, a).name for a in {buyer_id, reference_id} | (
            set() if seller_id is None else {seller_id})}
    seller = "the insurance fund" if seller_id is None else names[seller_id]
    payload = dict(terms, premium_bps=format(premium, "f"), maturity=None if maturity is None else maturity.isoformat())
    summary = (f"protection of {notional:,} sats on {names[reference_id]} (account {reference_id})"
               f"{f' {reference_instrument}' if reference_instrument else ''}: {names[buyer_id]} buys from {seller} "
               f"at {format(premium, 'f')} bps, {settlement}")
    return Submission(request=_store(session_factory, clock, actor, RequestKind.PROTECTION_BOOKING, payload, summary,
                                     notional, lambda uow: None))


def _closable(actor: Actor, request_id: int, now: datetime):
    """``on_enter``: lock the request and refuse unless ``actor`` may decide it now."""

    def check(uow: UnitOfWork) -> None:
        current = uow.desk_requests.get(request_id, lock=True)
        if current is None:
            raise NotFound(f"no request {request_id}", fields={"request": ["unknown request"]})
        refusal = approval_refusal(requested_by=current.requested_by, approver=actor.username,
                                   approver_role=actor.role, status=RequestStatus(current.status),
                                   expires_at=current.expires_at, now=now)
        if refusal is None:
            return
        if current.status != RequestStatus.PENDING.value or now >= current.expires_at:
            raise RequestClosed(f"request {request_id}: {refusal}", fields={"request": [refusal]})
        raise Forbidden(f"request {request_id}: {refusal}", fields={"request": [refusal]})

    return check


def decide(session_factory: SessionFactory, clock: Clock, actor: Actor, request_id: int, *, approve: bool,
           reason: str = "") -> DeskRequestRecord:
    """Approve (run) or reject a pending request; returns it as it stands afterwards."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) > MAX_REASON_LENGTH or (not approve and not reason):
        raise InvalidInput("a rejection needs a reason (at most 500 characters)",
                           fields={"reason": [f"required to reject; at most {MAX_REASON_LENGTH} characters"]})
    now = clock.now()
    expire_due(session_factory, clock)
    check = _closable(actor, request_id, now)
    with UnitOfWork(session_factory) as uow:
        check(uow)  # fail fast; checked again under the lock in the deciding transaction
        request = uow.desk_requests.get(request_id)
    if not approve:
        with UnitOfWork(session_factory) as uow:
            check(uow)
            uow.desk_requests.decide(request_id, status=RequestStatus.REJECTED.value, decided_by=actor.username,
                                     decided_at=now, reason=reason)
            audit.record(uow, clock, actor, "request.reject", f"request:{request_id}", {"reason": reason},
                         before={"status": "pending"}, after={"status": "rejected"})
            uow.commit()
        return _get(session_factory, request_id)
    try:
        _execute(session_factory, clock, actor, request, check, reason, now)
    except (RequestClosed, Forbidden, NotFound):
        raise
    except (InsufficientCollateral, OrderRejected, InsufficientMargin, HashEdgeError) as exc:
        _fail(session_factory, clock, actor, request_id, exc.message, now)
    return _get(session_factory, request_id)


def _execute(session_factory: SessionFactory, clock: Clock, actor: Actor, request: DeskRequestRecord, check,
             reason: str, now: datetime) -> None:
    payload = request.payload
    approval = {"request_id": request.id, "requested_by": request.requested_by, "approved_by": actor.username}

    def close(result: dict):
        def on_commit(uow: AuditedUnitOfWork, _after: dict | None) -> None:
            uow.desk_requests.decide(request.id, status=RequestStatus.EXECUTED.value, decided_by=actor.username,
                                     decided_at=now, reason=reason or None, result=result)
            audit.record(uow, clock, actor, "request.approve", f"request:{request.id}", {"reason": reason},
                         before={"status": "pending"}, after={"status": "executed", **result})

        return on_commit

    if request.kind == RequestKind.WITHDRAWAL.value:
        key = f"desk-request-{request.id}"
        desk_actions.withdraw(session_factory, clock, actor, payload["account_id"], payload["amount_sats"], key,
                              payload.get("memo", ""), details=approval, on_enter=check,
                              on_commit=close({"idempotency_key": key}))
        return
    if request.kind == RequestKind.INSURANCE_CONTRIBUTION.value:
        key = f"desk-request-{request.id}"
        desk_actions.contribute_to_insurance_fund(session_factory, clock, actor, payload["amount_sats"], key,
                                                  payload.get("memo", ""), details=approval, on_enter=check,
                                                  on_commit=close({"idempotency_key": key}))
        return
    if request.kind == RequestKind.PROTECTION_BOOKING.value:
        contract_id = f"P-{uuid.uuid4().hex[:12]}"
        maturity = None if payload["maturity"] is None else date.fromisoformat(payload["maturity"])
        desk_actions.book_protection(session_factory, clock, actor, **dict(payload, maturity=maturity),
                                     contract_id=contract_id, details=approval, on_enter=check,
                                     on_commit=close({"contract_id": contract_id}))
        return
    trade_id = f"BLOCK-{uuid.uuid4().hex[:16]}"
    desk_actions.book_block_trade(session_factory, clock, actor, buyer_id=payload["buyer_id"],
                                  seller_id=payload["seller_id"], instrument=payload["instrument"],
                                  quantity=payload["quantity"], price=payload["price"], trade_id=trade_id,
                                  details=approval, on_enter=check, on_commit=close({"trade_id": trade_id}))


def _fail(session_factory: SessionFactory, clock: Clock, actor: Actor, request_id: int, message: str,
          now: datetime) -> None:
    with UnitOfWork(session_factory) as uow:
        current = uow.desk_requests.get(request_id, lock=True)
        if current is None or current.status != RequestStatus.PENDING.value:
            return
        uow.desk_requests.decide(request_id, status=RequestStatus.FAILED.value, decided_by=actor.username,
                                 decided_at=now, reason=message)
        audit.record(uow, clock, actor, "request.failed", f"request:{request_id}", {"error": message},
                     before={"status": "pending"}, after={"status": "failed"})
        uow.commit()


def _get(session_factory: SessionFactory, request_id: int) -> DeskRequestRecord:
    with UnitOfWork(session_factory).read_only() as uow:
        return uow.desk_requests.get(request_id)


def expire_due(session_factory: SessionFactory, clock: Clock) -> int:
    """Record every pending request past its expiry as expired (idempotent); how many were."""
    now = clock.now()
    with UnitOfWork(session_factory) as uow:
        due = uow.desk_requests.expired_pending(now)
        for request in due:
            uow.desk_requests.decide(request.id, status=RequestStatus.EXPIRED.value, decided_by=None,
                                     decided_at=now, reason="not decided before it expired")
            audit.record(uow, clock, audit.SYSTEM, "request.expire", f"request:{request.id}", {},
                         before={"status": "pending"}, after={"status": "expired"})
        if due:
            uow.commit()
    return len(due)


def list_requests(uow: UnitOfWork, *, status: str | None = None, page: int = 1,
                  page_size: int = 25) -> RequestsPage:
    if status and status not in {s.value for s in RequestStatus}:
        raise InvalidInput(f"unknown status {status!r}", fields={"status": ["unknown status"]})
    if not 1 <= page <= 100_000 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page out of range", fields={"page": [f"page 1 to 100000, size 1 to {MAX_PAGE_SIZE}"]})
    with uow.read_only():
        items = uow.desk_requests.page(status=status or None, limit=page_size, offset=(page - 1) * page_size)
        total = uow.desk_requests.count(status=status or None)
    return RequestsPage(items, total, page, page_size)


def get_request(uow: UnitOfWork, request_id: int) -> DeskRequestRecord:
    with uow.read_only():
        request = uow.desk_requests.get(request_id)
    if request is None:
        raise NotFound(f"no request {request_id}", fields={"request": ["unknown request"]})
    return request

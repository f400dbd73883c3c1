"""Requests for quote: a buyer asks for protection, sellers answer with a premium, the buyer accepts
one answer and the contract is booked in the same transaction (``protection.book_in``: the band
around the fair premium and the seller's collateral are checked then, on the state of that moment).

Answers are sealed: the buyer sees every answer to its request, a seller only its own. An answer
is firm for the seconds its seller gives and cannot be accepted after (``domain.protection.rfq``);
its seller may withdraw it before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from hashedge.adapters.repositories.protection import Rfq, RfqAnswer, StoredContract
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.protection.rfq import (
    DEFAULT_ANSWER_VALID_SECONDS,
    answer_is_live,
    answer_valid_until,
    answer_validity_problem,
)
from hashedge.errors import Conflict, InvalidInput, NotFound
from hashedge.services.accounts import require_account
from hashedge.services.margin import risk_parameters
from hashedge.services.protection import book_in, check_terms, load_reference_risk, parse_premium


@dataclass(frozen=True)
class RfqView:
    rfq: Rfq
    answers: list[RfqAnswer]


def request_protection(uow: UnitOfWork, clock: Clock, *, buyer_id: int, reference_id: int, notional_sats: int,
                       tenor: str = "3M", settlement: str = "cash", reference_instrument: str | None = None) -> RfqView:
    notional, _, tenor = check_terms(notional_sats, 0, None, tenor, settlement, 0)
    if reference_instrument is None and reference_id == buyer_id:
        raise InvalidInput("protection on an account is bought on another account",
                           fields={"reference_account_id": ["is the buyer (name an instrument to protect a position)"]})
    now = clock.now()
    with uow:
        require_account(uow, reference_id)
        if load_reference_risk(uow, reference_id, risk_parameters()).equity_sats <= 0:
            raise InvalidInput(f"account {reference_id} has no equity left: it cannot be protected",
                               fields={"reference_account_id": ["has no equity (it is insolvent)"]})
        rfq = Rfq(f"Q-{uuid.uuid4().hex[:12]}", buyer_id, reference_id, reference_instrument, notional, tenor,
                  settlement, "open", now, None)
        uow.protection.add_rfq(rfq)
        uow.commit()
    return RfqView(rfq, [])


def _open_rfq(uow: UnitOfWork, rfq_id: str, *, lock: bool = False) -> Rfq:
    rfq = uow.protection.get_rfq(rfq_id, lock=lock)
    if rfq is None:
        raise NotFound(f"no request for quote {rfq_id}", fields={"rfq": ["unknown request"]})
    if rfq.status != "open":
        raise Conflict(f"request {rfq_id} is {rfq.status}", fields={"rfq": [f"is {rfq.status}"]})
    return rfq


def answer_rfq(uow: UnitOfWork, clock: Clock, rfq_id: str, *, seller_id: int, premium_bps: object,
               upfront_sats: int = 0, valid_seconds: object = DEFAULT_ANSWER_VALID_SECONDS) -> RfqAnswer:
    """The seller's answer, firm for ``valid_seconds`` from now."""
    premium = parse_premium(premium_bps)
    if (problem := answer_validity_problem(valid_seconds)) is not None:
        raise InvalidInput(f"valid_seconds {problem}", fields={"valid_seconds": [problem]})
    with uow:
        rfq = _open_rfq(uow, rfq_id)
        check_terms(rfq.notional_sats, premium, None, rfq.tenor, rfq.settlement, upfront_sats)
        if seller_id in (rfq.buyer_account_id, rfq.reference_account_id):
            raise InvalidInput("the buyer or the reference cannot sell this protection",
                               fields={"seller": ["is the buyer or the reference"]})
        now = clock.now()
        answer = RfqAnswer(f"{rfq.id}-A{uuid.uuid4().hex[:6]}", rfq.id, seller_id, premium, upfront_sats, now,
                           answer_valid_until(now, valid_seconds))
        uow.protection.add_answer(answer)
        uow.commit()
    return answer


def accept_answer(uow: UnitOfWork, clock: Clock, answer_id: str, *, buyer_id: int) -> StoredContract:
    """The buyer accepts an answer while it is firm: the contract is booked and the request closed,
    together."""
    now = clock.now()
    with uow:
        answer = uow.protection.get_answer(answer_id)
        rfq = None if answer is None else uow.protection.get_rfq(answer.rfq_id)
        if answer is None or rfq is None or rfq.buyer_account_id != buyer_id:
            raise NotFound(f"no answer {answer_id} to a request of yours", fields={"answer_id": ["unknown answer"]})
        rfq = _open_rfq(uow, rfq.id, lock=True)
        _require_live(uow.protection.get_answer(answer_id), now)  # read again under the request's lock
        stored = book_in(uow, now, buyer_id=buyer_id, seller_id=answer.seller_account_id,
                         reference_id=rfq.reference_account_id, notional_sats=rfq.notional_sats,
                         premium_bps=answer.premium_bps, maturity=None, tenor=rfq.tenor, settlement=rfq.settlement,
                         upfront_sats=answer.upfront_sats, reference_instrument=rfq.reference_instrument_id,
                         via="rfq", contract_id=f"P-{uuid.uuid4().hex[:12]}")
        uow.protection.set_rfq(rfq, status="accepted", contract_id=stored.id)
        uow.commit()
    return stored


def list_rfqs(uow: UnitOfWork, *, account_id: int) -> list[RfqView]:
    """Open requests anyone may answer, and the account's own (answers sealed: module docstring)."""
    with uow.read_only():
        found = {r.id: r for r in uow.protection.rfqs(status="open")}
        found |= {r.id: r for r in uow.protection.rfqs(buyer_account_id=account_id)}
        views = []
        for rfq in sorted(found.values(), key=lambda r: (r.created_at, r.id), reverse=True):
            answers = uow.protection.answers_of(rfq.id)
            if rfq.buyer_account_id != account_id:
                answers = [a for a in answers if a.seller_account_id == account_id]
            views.append(RfqView(rfq, answers))
    return views


def _require_live(answer: RfqAnswer, now: datetime) -> None:
    """Refuse an answer that can no longer be accepted: withdrawn by its seller, or expired."""
    if answer.withdrawn_at is not None:
        when = answer.withdrawn_at.isoformat()
        raise Conflict(f"answer {answer.id} was withdrawn at {when}", fields={"answer_id": [f"withdrawn at {when}"]})
    if not answer_is_live(answer.valid_until, now):
        when = answer.valid_until.isoformat()
        raise Conflict(f"answer {answer.id} expired at {when}", fields={"answer_id": [f"expired at {when}"]})


def withdraw_answer(uow: UnitOfWork, clock: Clock, rfq_id: str, answer_id: str, *, seller_id: int) -> RfqAnswer:
    """The seller takes back its answer while it still binds it: the buyer can no longer accept it.
    Serialized with acceptance by the request's lock, so the answer is either booked or withdrawn."""
    now = clock.now()
    with uow:
        answer = uow.protection.get_answer(answer_id)
        if answer is None or answer.rfq_id != rfq_id or answer.seller_account_id != seller_id:
            raise NotFound(f"no answer {answer_id} of yours to request {rfq_id}",
                           fields={"answer_id": ["unknown answer"]})
        _open_rfq(uow, rfq_id, lock=True)
        answer = uow.protection.get_answer(answer_id)
        _require_live(answer, now)
        answer = uow.protection.withdraw_answer(answer, now)
        uow.commit()
    return answer


def cancel_rfq(uow: UnitOfWork, rfq_id: str, *, buyer_id: int) -> RfqView:
    """The buyer withdraws its open request; answers to it can no longer be accepted."""
    with uow:
        rfq = uow.protection.get_rfq(rfq_id)
        if rfq is None or rfq.buyer_account_id != buyer_id:
            raise NotFound(f"no request for quote {rfq_id} of yours", fields={"rfq": ["unknown request"]})
        rfq = uow.protection.set_rfq(_open_rfq(uow, rfq_id, lock=True), status="cancelled")
        answers = uow.protection.answers_of(rfq_id)
        uow.commit()
    return RfqView(rfq, answers)

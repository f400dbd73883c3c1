"""REST endpoints of default protection: quotes, contracts bought and sold, requests for quote.
Authenticated by API key; the buyer (or the answering seller) is always the key's account."""

from __future__ import annotations

from flask import current_app, g
from marshmallow import RAISE

from hashedge.services import accounts, protection, protection_rfq
from hashedge.web.api import examples as ex
from hashedge.web.api.accounts import BEARER_SCHEME, _bearer_token
from hashedge.web.api.parsing import Blueprint
from hashedge.web.api.protection_schemas import (
    BuyRequestSchema,
    ContractDetailSchema,
    ContractListSchema,
    ContractSchema,
    QuoteQuerySchema,
    QuoteSchema,
    RfqAnswerRequestSchema,
    RfqAnswerSchema,
    RfqListSchema,
    RfqRequestSchema,
    RfqSchema,
    contract_view,
    quote_view,
    rfq_view,
)
from hashedge.web.api.schemas import ErrorSchema

blp = Blueprint("protection", __name__, description="Default protection (CDS-like): quotes, contracts, RFQs")


def _runtime():
    return current_app.extensions["hashedge"]


@blp.before_request
def _authenticate() -> None:
    g.account_id = accounts.authenticate_api_key(_runtime().uow(), _bearer_token())


def _secured(view):
    view = blp.doc(security=[{BEARER_SCHEME: []}])(view)
    return blp.alt_response(401, schema=ErrorSchema, description="Missing, invalid or revoked API key")(view)


@blp.route("/protection/quote", methods=["GET"])
@blp.arguments(QuoteQuerySchema, location="query", unknown=RAISE)
@blp.response(200, QuoteSchema, example=ex.PROTECTION_QUOTE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, or a reference without equity")
@blp.alt_response(404, schema=ErrorSchema, description="No such reference account")
@_secured
def get_quote(query: dict):
    """The fair premium for protection on an account, with the inputs that produced it.

    The reference's default probability is the first passage of its positions' loss through its
    equity within a margin day and a liquidation (its exposure at the marks, the daily volatility
    its governed margin implies), turned into a hazard rate and a recovery and priced to the
    tenor's standard CDS maturity by QuantLib's ISDA engine: ``premium_bps`` is the fair running
    premium without upfront, ``upfront_sats`` the upfront at the standard 100 bps coupon."""
    return quote_view(protection.quote_protection(_runtime().uow(), _runtime().clock,
                                                  reference_account_id=query["reference"],
                                                  notional_sats=query["notional_sats"], tenor=query["tenor"]))


@blp.route("/protection", methods=["GET"])
@blp.response(200, ContractListSchema, example=ex.PROTECTION_LIST)
@_secured
def list_contracts():
    """Protection contracts the key's account bought or sold, newest first.

    Each with its terms (reference, notional, premium, maturity, settlement), the seller's
    collateral in escrow, the premium paid so far and the last mark-to-market."""
    found = protection.list_protection(_runtime().uow(), account_id=g.account_id)
    return {"items": [contract_view(s) for s in found], "total": len(found)}


@blp.route("/protection/<string:contract_id>", methods=["GET"])
@blp.response(200, ContractDetailSchema, example=ex.PROTECTION_CONTRACT)
@blp.alt_response(404, schema=ErrorSchema, description="No such contract of this account")
@_secured
def get_contract(contract_id: str):
    """One contract bought or sold by the key's account, with its history.

    Premium accrued through today and what is unpaid (paid each night), the seller's collateral,
    the mark, and every event with its journal entry: booking, nightly premiums and collateral
    moves, a credit event citing its liquidation record, expiry. Another account's contract is a 404."""
    view = protection.show_protection(_runtime().uow(), _runtime().clock, contract_id, account_id=g.account_id)
    return contract_view(view.stored, view)


@blp.route("/protection", methods=["POST"])
@blp.arguments(BuyRequestSchema, unknown=RAISE, example=ex.PROTECTION_BUY)
@blp.response(201, ContractSchema, example=ex.PROTECTION_CONTRACT_BOOKED)
@blp.alt_response(404, schema=ErrorSchema, description="No such answer to a request of yours")
@blp.alt_response(409, schema=ErrorSchema,
                  description="The request is no longer open, or the answer expired or was withdrawn")
@blp.alt_response(422, schema=ErrorSchema, description="Premium outside the band, seller or buyer short of margin")
@_secured
def buy(body: dict):
    """Buy protection by accepting an answer to your request for quote, before its ``valid_until``.

    The contract is booked at the answer's premium and upfront if the premium is within the
    governed band around the fair premium at that moment and the seller can post its collateral;
    the request closes in the same transaction."""
    return contract_view(protection_rfq.accept_answer(_runtime().uow(), _runtime().clock, body["answer_id"],
                                                      buyer_id=g.account_id)), 201


@blp.route("/protection/rfqs", methods=["POST"])
@blp.arguments(RfqRequestSchema, unknown=RAISE, example=ex.PROTECTION_RFQ_REQUEST)
@blp.response(201, RfqSchema, example=ex.PROTECTION_RFQ)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid request, or a reference without equity")
@blp.alt_response(404, schema=ErrorSchema, description="No such reference account")
@_secured
def request_quote(body: dict):
    """Ask sellers for protection: reference, notional, tenor and settlement.

    Any account may answer an open request with a premium (``POST /protection/rfqs/ID/answers``);
    you accept one with ``POST /protection``."""
    return rfq_view(protection_rfq.request_protection(
        _runtime().uow(), _runtime().clock, buyer_id=g.account_id, reference_id=body["reference_account_id"],
        notional_sats=body["notional_sats"], tenor=body["tenor"], settlement=body["settlement"],
        reference_instrument=body["reference_instrument_id"])), 201


@blp.route("/protection/rfqs", methods=["GET"])
@blp.response(200, RfqListSchema, example=ex.PROTECTION_RFQ_LIST)
@_secured
def list_requests():
    """Open requests for quote anyone may answer, and your own.

    Answers are sealed: the buyer sees every answer to its request, a seller only its own."""
    return {"items": [rfq_view(v) for v in protection_rfq.list_rfqs(_runtime().uow(), account_id=g.account_id)]}


@blp.route("/protection/rfqs/<string:rfq_id>/answers", methods=["POST"])
@blp.arguments(RfqAnswerRequestSchema, unknown=RAISE, example=ex.PROTECTION_ANSWER_REQUEST)
@blp.response(201, RfqAnswerSchema, example=ex.PROTECTION_ANSWER)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid answer, or the buyer or reference answering")
@blp.alt_response(404, schema=ErrorSchema, description="No such request")
@blp.alt_response(409, schema=ErrorSchema, description="The request is no longer open")
@_secured
def answer_request(body: dict, rfq_id: str):
    """Answer an open request for quote as seller: a running premium and an optional upfront.

    Nothing is committed until the buyer accepts; the band and your collateral are checked then.
    The answer is firm for ``valid_seconds`` (default 300, at most a day): the buyer cannot
    accept it after ``valid_until``."""
    return protection_rfq.answer_rfq(_runtime().uow(), _runtime().clock, rfq_id, seller_id=g.account_id,
                                     premium_bps=body["premium_bps"], upfront_sats=body["upfront_sats"],
                                     valid_seconds=body["valid_seconds"]).__dict__, 201


@blp.route("/protection/rfqs/<string:rfq_id>/answers/<string:answer_id>", methods=["DELETE"])
@blp.response(200, RfqAnswerSchema, example=ex.PROTECTION_ANSWER_WITHDRAWN)
@blp.alt_response(404, schema=ErrorSchema, description="No such answer of yours to that request")
@blp.alt_response(409, schema=ErrorSchema, description="The request is no longer open, or the answer already "
                                                       "expired or was withdrawn")
@_secured
def withdraw_answer(rfq_id: str, answer_id: str):
    """Withdraw your answer to an open request while it is firm.

    The buyer can no longer accept it (409, "withdrawn at ..."). An answer that expired, was
    already withdrawn, or whose request was accepted or cancelled cannot be withdrawn (409);
    withdrawal and acceptance wait for each other, so an answer is either booked or withdrawn."""
    return protection_rfq.withdraw_answer(_runtime().uow(), _runtime().clock, rfq_id, answer_id,
                                          seller_id=g.account_id).__dict__


@blp.route("/protection/rfqs/<string:rfq_id>", methods=["DELETE"])
@blp.response(200, RfqSchema, example=ex.PROTECTION_RFQ_CANCELLED)
@blp.alt_response(404, schema=ErrorSchema, description="No such request of yours")
@blp.alt_response(409, schema=ErrorSchema, description="The request is no longer open")
@_secured
def cancel_request(rfq_id: str):
    """Withdraw your open request for quote.

    Its answers can no longer be accepted; a request already accepted or cancelled is a 409."""
    return rfq_view(protection_rfq.cancel_rfq(_runtime().uow(), rfq_id, buyer_id=g.account_id))

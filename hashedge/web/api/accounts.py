"""REST endpoints of one account, authenticated by its API key: each parses, calls one service,
and renders. A key only ever reaches its own account: the account id comes from the key."""

from __future__ import annotations

from flask import current_app, g, request
from hashedge.web.api.parsing import Blueprint
from marshmallow import RAISE

from hashedge.services import accounts, ledger, margin_calls
from hashedge.web.api import examples as ex
from hashedge.web.api.account_schemas import (
    AccountEventPageSchema,
    AccountSchema,
    CollateralMovementSchema,
    EventsQuerySchema,
    IdempotencyHeaderSchema,
    StatementPageSchema,
    StatementQuerySchema,
    WithdrawalRequestSchema,
    event_view,
)
from hashedge.web.api.schemas import ErrorSchema

BEARER_SCHEME = "bearerAuth"
BEARER_SCHEME_SPEC = {"type": "http", "scheme": "bearer",
                      "description": "an API key from `hashedge account create`"}
REPLAYED_HEADER = "Idempotent-Replayed"

blp = Blueprint("account", __name__, description="Your account: balances, margin, statements, withdrawals")


def _runtime():
    return current_app.extensions["hashedge"]


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


@blp.before_request
def _authenticate() -> None:
    g.account_id = accounts.authenticate_api_key(_runtime().uow(), _bearer_token())


def _secured(view):
    view = blp.doc(security=[{BEARER_SCHEME: []}])(view)
    return blp.alt_response(401, schema=ErrorSchema, description="Missing, invalid or revoked API key")(view)


@blp.route("/account", methods=["GET"])
@blp.response(200, AccountSchema, example=ex.ACCOUNT)
@_secured
def get_account():
    """Balances, equity, margin and status of the key's account.

    Equity is collateral plus unrealized PnL at the latest marks; free collateral is equity less
    initial margin (what may be withdrawn); status is healthy, margin_call or liquidatable."""
    return accounts.account_summary(_runtime().uow(), g.account_id)


@blp.route("/account/events", methods=["GET"])
@blp.arguments(EventsQuerySchema, location="query", unknown=RAISE)
@blp.response(200, AccountEventPageSchema, example=ex.ACCOUNT_EVENT_PAGE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
@_secured
def list_events(query: dict):
    """Margin calls, liquidations and auto-deleveraging of the key's account, newest first.

    An event is written when the account's margin status changes (``margin_call`` below initial
    margin, ``liquidatable`` below maintenance, ``healthy`` when the call is met), when it is
    liquidated (``liquidation``, naming the record) and when one of its positions is closed by
    auto-deleveraging in another account's liquidation (``adl``). Each keeps the equity and
    requirements of that moment. A page of the list convention, filtered by time with
    ``start``/``end``."""
    found = margin_calls.account_event_page(_runtime().uow(), g.account_id, **query)
    return {"items": [event_view(s) for s in found.items], "total": found.total, "page": found.page,
            "page_size": found.page_size}


@blp.route("/statements", methods=["GET"])
@blp.arguments(StatementQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, StatementPageSchema, example=ex.STATEMENT_PAGE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
@_secured
def list_statements(**query):
    """Journal entries of the account in [start, end], oldest first, with running balances.

    A page of the list convention with the balance before its first line and after its last, so
    consecutive pages chain; every amount a signed integer of satoshis."""
    return ledger.statement(_runtime().uow(), g.account_id, **query)


@blp.route("/withdrawals", methods=["POST"])
@blp.arguments(WithdrawalRequestSchema, unknown=RAISE, example=ex.WITHDRAWAL_REQUEST)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.response(201, CollateralMovementSchema, example=ex.WITHDRAWAL, headers={
    REPLAYED_HEADER: {"description": "true when this is the stored answer to an earlier request",
                      "schema": {"type": "string"}}})
@blp.alt_response(400, schema=ErrorSchema, description="Invalid amount or missing Idempotency-Key")
@blp.alt_response(409, schema=ErrorSchema, description="Idempotency-Key already used for another request")
@blp.alt_response(422, schema=ErrorSchema, description="Not enough free collateral above initial margin")
@_secured
def create_withdrawal(body: dict, headers: dict):
    """Pay collateral out; refused when it would leave less than initial margin.

    Requires an ``Idempotency-Key``: a retry with the same key and amount is answered with the
    first withdrawal (``Idempotent-Replayed: true``) and pays nothing more; the same key with
    another amount is a 409. Refusals (422) give the shortfall in satoshis."""
    runtime = _runtime()
    movement = ledger.withdraw(runtime.uow(), runtime.clock, g.account_id, body["amount_sats"],
                               headers["idempotency_key"])
    return movement, 201, ({REPLAYED_HEADER: "true"} if movement.replayed else {})

"""REST endpoints of backstop liquidity: the pool (public), and an LP's shares, deposits and
withdrawals (authenticated by the account's key). Each parses, calls one service and renders."""

from __future__ import annotations

from flask import current_app, g
from marshmallow import RAISE

from hashedge.services import accounts, backstop_offers, pool
from hashedge.web.api import examples as ex
from hashedge.web.api.account_schemas import IdempotencyHeaderSchema
from hashedge.web.api.accounts import REPLAYED_HEADER, _bearer_token, _secured
from hashedge.web.api.backstop_schemas import (
    LpSharesSchema,
    OfferListSchema,
    OfferRequestSchema,
    OfferSchema,
    PoolDepositRequestSchema,
    PoolMovementSchema,
    PoolSchema,
    PoolWithdrawalRequestSchema,
    PoolWithdrawalSchema,
    pool_view,
)
from hashedge.web.api.parsing import Blueprint
from hashedge.web.api.schemas import ErrorSchema

pool_blp = Blueprint("backstop_pool", __name__, description="The backstop pool: NAV, positions, history (public)")
offers_blp = Blueprint("backstop_offers", __name__,
                       description="Your backstop offers: take over liquidated positions, earn the penalty")
lp_blp = Blueprint("pool_shares", __name__, description="Your pool shares: deposits and delayed withdrawals")

REPLAYED = {REPLAYED_HEADER: {"description": "true when this is the stored answer to an earlier request",
                              "schema": {"type": "string"}}}


def _runtime():
    return current_app.extensions["hashedge"]


@lp_blp.before_request
@offers_blp.before_request
def _authenticate() -> None:
    g.account_id = accounts.authenticate_api_key(_runtime().uow(), _bearer_token())


@offers_blp.route("/backstop/offers", methods=["POST"])
@offers_blp.arguments(OfferRequestSchema, unknown=RAISE, example=ex.OFFER_REQUEST)
@offers_blp.response(201, OfferSchema, example=ex.OFFER)
@offers_blp.alt_response(400, schema=ErrorSchema, description="Invalid fields, with field messages")
@offers_blp.alt_response(404, schema=ErrorSchema, description="No such listed instrument")
@_secured
def create_offer(body: dict):
    """Post a standing offer to take over liquidated positions.

    In a liquidation, what the book does not take goes to the offers: best price for the
    liquidated account first, then time priority, each filled at its own price (the mark less
    ``max_discount_bps`` for a buy, plus for a sell) and never beyond ``max_quantity`` in all. The
    offer is not reserved: when it fills, your account must stay above initial margin, or the offer
    is skipped (and the liquidation record says so). You are the taker of the fill: no fee, and the
    takers' share of that night's penalties, pro rata to the notional you took."""
    runtime = _runtime()
    return backstop_offers.post_offer(runtime.uow(), runtime.clock, g.account_id, **body), 201


@offers_blp.route("/backstop/offers", methods=["GET"])
@offers_blp.response(200, OfferListSchema, example=ex.OFFER_LIST)
@_secured
def list_offers():
    """The key's account's backstop offers, oldest first, with what each has taken.

    Active offers are those still able to fill; ``filled`` ones took their whole quantity,
    ``cancelled`` ones were withdrawn (what they took before stays taken)."""
    return {"items": backstop_offers.list_offers(_runtime().uow(), g.account_id)}


@offers_blp.route("/backstop/offers/<int:offer_id>", methods=["DELETE"])
@offers_blp.response(200, OfferSchema, example=ex.OFFER_CANCELLED)
@offers_blp.alt_response(404, schema=ErrorSchema, description="No such offer of this account")
@_secured
def cancel_offer(offer_id: int):
    """Cancel one of the key's account's backstop offers.

    Cancelling a filled or already cancelled offer changes nothing and answers it as it is; another
    account's offer is a 404, never a hint that it exists."""
    runtime = _runtime()
    return backstop_offers.cancel_offer(runtime.uow(), runtime.clock, offer_id, account_id=g.account_id)


@pool_blp.route("/pool", methods=["GET"])
@pool_blp.response(200, PoolSchema, example=ex.POOL)
def get_pool():
    """The backstop pool's NAV, share supply, positions and history (public).

    NAV is the pool's equity at the marks (its collateral plus the unrealized PnL of the positions
    it took over); NAV per share is NAV / shares outstanding, exact, shown to 12 places rounded
    down. The history has one point per settled business date; PnL by day is the change in NAV per
    share times the shares of the day before, so LPs coming and going do not count."""
    return pool_view(pool.overview(_runtime().uow()))


@lp_blp.route("/pool/shares", methods=["GET"])
@lp_blp.response(200, LpSharesSchema, example=ex.POOL_SHARES)
@_secured
def get_shares():
    """The key's account's pool shares and its queued withdrawals.

    Queued shares are still owned and at risk until their withdrawal executes; ``value_sats`` is
    all the shares at the NAV now, rounded down (what a withdrawal would pay now)."""
    return pool.lp_shares(_runtime().uow(), g.account_id)


@lp_blp.route("/pool/deposits", methods=["POST"])
@lp_blp.arguments(PoolDepositRequestSchema, unknown=RAISE, example=ex.POOL_DEPOSIT_REQUEST)
@lp_blp.arguments(IdempotencyHeaderSchema, location="headers")
@lp_blp.response(201, PoolMovementSchema, example=ex.POOL_DEPOSIT, headers=REPLAYED)
@lp_blp.alt_response(400, schema=ErrorSchema, description="Invalid amount or missing Idempotency-Key")
@lp_blp.alt_response(409, schema=ErrorSchema, description="Idempotency-Key already used for another request")
@lp_blp.alt_response(422, schema=ErrorSchema, description="Not enough free collateral above initial margin")
@_secured
def create_deposit(body: dict, headers: dict):
    """Move collateral into the backstop pool for shares at the NAV.

    Shares minted = amount x shares outstanding / NAV, rounded down (against the depositor; one
    share per satoshi for the first deposit). The amount must be free collateral. Requires an
    ``Idempotency-Key``: a retry is answered with the first deposit and moves nothing more."""
    runtime = _runtime()
    movement = pool.deposit(runtime.uow(), runtime.clock, g.account_id, body["amount_sats"],
                            headers["idempotency_key"])
    return movement, 201, ({REPLAYED_HEADER: "true"} if movement.replayed else {})


@lp_blp.route("/pool/withdrawals", methods=["POST"])
@lp_blp.arguments(PoolWithdrawalRequestSchema, unknown=RAISE, example=ex.POOL_WITHDRAWAL_REQUEST)
@lp_blp.arguments(IdempotencyHeaderSchema, location="headers")
@lp_blp.response(201, PoolWithdrawalSchema, example=ex.POOL_WITHDRAWAL, headers=REPLAYED)
@lp_blp.alt_response(400, schema=ErrorSchema, description="Invalid shares, more than are free, or missing key")
@lp_blp.alt_response(409, schema=ErrorSchema, description="Idempotency-Key already used for another request")
@_secured
def create_withdrawal(body: dict, headers: dict):
    """Queue shares for withdrawal; they pay at the NAV of when they execute.

    The withdrawal executes at ``executes_at`` (now + ``pool.withdrawal_delay_days``) in the
    nightly settlement, paying shares x NAV / shares outstanding rounded down (against the
    withdrawer); until then the shares stay yours and at risk, so a loss cannot be front-run."""
    runtime = _runtime()
    withdrawal, replayed = pool.request_withdrawal(runtime.uow(), runtime.clock, g.account_id, body["shares"],
                                                   headers["idempotency_key"])
    return withdrawal, 201, ({REPLAYED_HEADER: "true"} if replayed else {})

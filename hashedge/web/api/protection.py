"""REST endpoints of default protection: quotes, contracts bought and sold, requests for quote.
Authenticated by API key; the buyer (or the answering seller) is always the key's account."""

from __future__ import annotations

from flask import current_app, g
from marshmallow import RAISE

from hashedge.services import accounts, protection
from hashedge.web.api import examples as ex
from hashedge.web.api.accounts import BEARER_SCHEME, _bearer_token
from hashedge.web.api.parsing import Blueprint
from hashedge.web.api.protection_schemas import QuoteQuerySchema, QuoteSchema, quote_view
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

"""REST endpoints: the key's account's liquidations, and the public insurance fund."""

from __future__ import annotations

from flask import current_app, g
from marshmallow import RAISE

from hashedge.services import accounts, insurance, liquidation_records
from hashedge.web.api import examples as ex
from hashedge.web.api.accounts import _bearer_token, _secured
from hashedge.web.api.liquidation_schemas import (
    InsuranceFundQuerySchema,
    InsuranceFundSchema,
    LiquidationPageSchema,
    LiquidationSchema,
    LiquidationsQuerySchema,
    liquidation_view,
)
from hashedge.web.api.parsing import Blueprint
from hashedge.web.api.schemas import ErrorSchema

blp = Blueprint("liquidations", __name__, description="Your liquidations: every step, price and amount")
fund_blp = Blueprint("insurance_fund", __name__, description="The insurance fund: balance and history (public)")


def _runtime():
    return current_app.extensions["hashedge"]


@blp.before_request
def _authenticate() -> None:
    g.account_id = accounts.authenticate_api_key(_runtime().uow(), _bearer_token())


@blp.route("/liquidations", methods=["GET"])
@blp.arguments(LiquidationsQuerySchema, location="query", unknown=RAISE)
@blp.response(200, LiquidationPageSchema, example=ex.LIQUIDATION_PAGE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
@_secured
def list_liquidations(query: dict):
    """The account's liquidations, newest first.

    Each record holds the trigger (equity against maintenance margin), every step and fill of the
    published procedure (stage, price, quantity, counterparty, fees), the penalty, the shortfall and
    which stage covered it, and the standing afterwards. A page of the list convention, filtered by
    the time of the liquidation with ``start``/``end``."""
    found = liquidation_records.liquidation_page(_runtime().uow(), account_id=g.account_id, **query)
    return {"items": [liquidation_view(r) for r in found.items], "total": found.total, "page": found.page,
            "page_size": found.page_size}


@blp.route("/liquidations/<string:liquidation_id>", methods=["GET"])
@blp.response(200, LiquidationSchema, example=ex.LIQUIDATION)
@blp.alt_response(404, schema=ErrorSchema, description="No such liquidation of this account")
@_secured
def get_liquidation(liquidation_id: str):
    """One of the account's liquidations.

    The same record as in the list (``L<account id>-<n>``); another account's liquidation is a 404,
    never a hint that it exists. ``hashedge liquidations replay ID`` recomputes it from its inputs."""
    return liquidation_view(liquidation_records.get_liquidation(_runtime().uow(), liquidation_id,
                                                                account_id=g.account_id))


@fund_blp.route("/insurance-fund", methods=["GET"])
@fund_blp.arguments(InsuranceFundQuerySchema, location="query", unknown=RAISE)
@fund_blp.response(200, InsuranceFundSchema, example=ex.INSURANCE_FUND)
@fund_blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
def insurance_fund(query: dict):
    """The insurance fund's balance, totals and history (public).

    It grows by its share of each night's penalty split and by the platform's contributions, and
    pays only liquidated accounts' losses below zero. History oldest first, each entry with the
    balance after it, as a page of the list convention."""
    return insurance.insurance_fund(_runtime().uow(), page=query["page"], page_size=query["page_size"])

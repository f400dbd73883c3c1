"""Marshmallow schemas for liquidation records and the insurance fund (amounts in ``*_sats``)."""

from __future__ import annotations

from marshmallow import Schema, fields

from hashedge.web.api.account_schemas import StatementLineSchema
from hashedge.web.api.schemas import PageQuerySchema


class StandingSchema(Schema):
    equity_sats = fields.Integer(required=True)
    initial_margin_sats = fields.Integer(required=True)
    maintenance_margin_sats = fields.Integer(required=True)
    status = fields.String(required=True)


class CoverSchema(Schema):
    stage = fields.String(required=True, metadata={"description": "protection, insurance_fund, backstop_pool, adl"})
    amount_sats = fields.Integer(required=True)


class LiquidationSchema(Schema):
    id = fields.String(required=True, metadata={"description": "L<account id>-<n>"})
    occurred_at = fields.DateTime(required=True, format="iso")
    business_date = fields.Date(required=True)
    notional_closed_sats = fields.Integer(required=True)
    penalty_sats = fields.Integer(required=True)
    shortfall_sats = fields.Integer(required=True, metadata={"description": "the loss below zero, covered or not"})
    insurance_fund_sats = fields.Integer(required=True)
    adl_contracts = fields.Integer(required=True)
    uncovered_sats = fields.Integer(required=True)
    parameters_version = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the version of the governed parameters it used (GET /governance/parameters); "
                       "null for liquidations recorded before the registry"})
    trigger = fields.Nested(StandingSchema, required=True)
    after = fields.Nested(StandingSchema, required=True)
    covers = fields.List(fields.Nested(CoverSchema), required=True)
    steps = fields.List(fields.Dict(), required=True, metadata={
        "description": "each step: instrument, side, quantity, closed, equity, maintenance margin, target"})
    fills = fields.List(fields.Dict(), required=True, metadata={
        "description": "each fill: stage, step, price, quantity, counterparty, fees"})
    skipped_offers = fields.List(fields.Dict(), metadata={
        "description": "backstop offers passed over: offer_id, step, reason (initial_margin: its owner would have "
                       "breached initial margin; price: beyond what this account's step allowed)"})


class LiquidationsQuerySchema(PageQuerySchema):
    start = fields.AwareDateTime(default_timezone=None, metadata={"description": "at or after, ISO 8601 with offset"})
    end = fields.AwareDateTime(default_timezone=None, metadata={"description": "at or before, ISO 8601 with offset"})


class InsuranceFundQuerySchema(PageQuerySchema):
    pass


LiquidationPageSchema = Schema.from_dict({
    "items": fields.List(fields.Nested(LiquidationSchema), required=True),
    "total": fields.Integer(required=True, metadata={"description": "liquidations matching the filters, all pages"}),
    "page": fields.Integer(required=True),
    "page_size": fields.Integer(required=True),
}, name="LiquidationPage")


class InsuranceFundSchema(Schema):
    balance_sats = fields.Integer(required=True)
    contributions_sats = fields.Integer(required=True, metadata={"description": "the platform's own money, in all"})
    penalty_shares_sats = fields.Integer(required=True, metadata={"description": "from the nightly penalty split"})
    shortfalls_covered_sats = fields.Integer(required=True, metadata={"description": "paid out for liquidations"})
    items = fields.List(fields.Nested(StatementLineSchema), required=True, attribute="lines")
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


def liquidation_view(record) -> dict:
    outcome = record.outcome
    return {"id": record.id, "occurred_at": record.occurred_at, "business_date": record.business_date,
            "notional_closed_sats": record.notional_closed_sats, "penalty_sats": record.penalty_sats,
            "shortfall_sats": record.shortfall_sats, "insurance_fund_sats": record.insurance_fund_sats,
            "adl_contracts": record.adl_contracts, "uncovered_sats": record.uncovered_sats,
            "parameters_version": record.parameters_version_id,
            "trigger": outcome["trigger"], "after": outcome["after"], "covers": outcome["covers"],
            "steps": outcome["steps"],
            "fills": [{k: f[k] for k in ("stage", "step", "price", "quantity", "counterparty", "fees_sats", "fill_id")}
                      for f in outcome["fills"]],
            "skipped_offers": outcome.get("skipped_offers", [])}

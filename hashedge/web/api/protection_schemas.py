"""Marshmallow schemas for default protection: quotes, contracts, requests for quote."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hashedge.domain.protection import effective_date
from hashedge.domain.protection.rfq import DEFAULT_ANSWER_VALID_SECONDS, MAX_ANSWER_VALID_SECONDS
from hashedge.services.protection import MAX_NOTIONAL_SATS, TENORS
from hashedge.web.api.schemas import DecimalInput, PlainDecimal, decimal_input_doc


class QuoteQuerySchema(Schema):
    reference = fields.Integer(required=True, validate=validate.Range(min=1),
                               metadata={"description": "the account protected against (its id)"})
    notional_sats = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_NOTIONAL_SATS),
                                   metadata={"description": "protected notional in satoshis"})
    tenor = fields.String(load_default="3M", validate=validate.OneOf(TENORS),
                          metadata={"description": "rolled to the standard CDS maturity (ISDA CDS2015)"})


class QuoteInputsSchema(Schema):
    equity_sats = fields.Integer(required=True, metadata={"description": "the reference's equity at the marks"})
    maintenance_margin_sats = fields.Integer(required=True)
    exposure_sats = fields.Integer(required=True, metadata={
        "description": "gross notional of its margined positions at the marks"})
    leverage = fields.Float(required=True, allow_none=True, metadata={"description": "exposure / equity"})
    daily_vol = fields.Float(required=True, metadata={
        "description": "daily volatility of its indices, as the governed margin implies (notional-weighted)"})
    window_days = fields.Integer(required=True, metadata={"description": "margin day plus liquidation days"})
    default_probability = fields.Float(required=True, metadata={"description": "first passage, per window"})
    hazard_rate_per_year = fields.Float(required=True)
    recovery = fields.Float(required=True, metadata={"description": "1 - expected shortfall / notional"})


class QuoteSchema(Schema):
    reference_account_id = fields.Integer(required=True)
    tenor = fields.String(required=True)
    trade_date = fields.Date(required=True)
    effective_date = fields.Date(required=True, metadata={"description": "protection starts the day after"})
    maturity = fields.Date(required=True, metadata={"description": "standard CDS date"})
    notional_sats = fields.Integer(required=True)
    premium_bps = PlainDecimal(required=True, metadata={"description": "fair running premium a year, no upfront"})
    standard_coupon_bps = fields.Integer(required=True)
    upfront_sats = fields.Integer(required=True, metadata={
        "description": "upfront that makes the standard coupon fair; paid by the buyer when positive"})
    protection_leg_sats = fields.Float(required=True, metadata={"description": "expected value of the payout"})
    risky_pv01_sats = fields.Float(required=True, metadata={
        "description": "value of 1 bp a year of premium: premium_bps x risky_pv01_sats = protection_leg_sats"})
    inputs = fields.Nested(QuoteInputsSchema, required=True)


def quote_view(quote) -> dict:
    risk, fair = quote.reference, quote.fair
    return {
        "reference_account_id": quote.reference_account_id, "tenor": quote.tenor, "trade_date": fair.trade_date,
        "effective_date": effective_date(fair.trade_date), "maturity": fair.maturity,
        "notional_sats": fair.notional_sats, "premium_bps": fair.premium_bps,
        "standard_coupon_bps": fair.standard_coupon_bps, "upfront_sats": fair.upfront_sats,
        "protection_leg_sats": fair.protection_leg_sats, "risky_pv01_sats": fair.risky_pv01_sats,
        "inputs": {"equity_sats": risk.equity_sats, "maintenance_margin_sats": risk.maintenance_margin_sats,
                   "exposure_sats": risk.exposure_sats,
                   "leverage": None if risk.equity_sats <= 0 else risk.exposure_sats / risk.equity_sats,
                   "daily_vol": risk.daily_vol, "window_days": fair.window_days,
                   "default_probability": fair.default_probability,
                   "hazard_rate_per_year": fair.hazard_rate_per_year, "recovery": fair.recovery},
    }


class ContractSchema(Schema):
    id = fields.String(required=True)
    buyer_account_id = fields.String(required=True)
    seller_account_id = fields.String(required=True, metadata={"description": "an account id, or insurance_fund"})
    reference_account_id = fields.String(required=True)
    reference_instrument_id = fields.String(allow_none=True, metadata={
        "description": "set: the buyer's position in this instrument is the reference"})
    notional_sats = fields.Integer(required=True)
    premium_bps = PlainDecimal(required=True)
    upfront_sats = fields.Integer(required=True)
    trade_date = fields.Date(required=True)
    effective_date = fields.Date(required=True)
    maturity_date = fields.Date(required=True)
    settlement = fields.String(required=True, metadata={"description": "novation or cash"})
    status = fields.String(required=True, metadata={"description": "active, triggered or matured"})
    collateral_sats = fields.Integer(required=True, metadata={"description": "the seller's, in escrow"})
    premium_paid_sats = fields.Integer(required=True)
    premium_paid_through = fields.Date(allow_none=True)
    mark_sats = fields.Integer(required=True, metadata={"description": "worth to the buyer at the last marking"})
    marked_on = fields.Date(allow_none=True)
    credit_event_liquidation_id = fields.String(allow_none=True, metadata={
        "description": "the liquidation record that determined the credit event"})
    booked_via = fields.String(required=True, metadata={"description": "desk or rfq"})
    booked_at = fields.DateTime(required=True, format="iso")


class ContractEventSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "booked, premium, collateral, credit_event, matured"})
    business_date = fields.Date(required=True)
    occurred_at = fields.DateTime(required=True, format="iso")
    amount_sats = fields.Integer(required=True)
    entry_key = fields.String(allow_none=True, metadata={"description": "its journal entry"})
    detail = fields.Dict(required=True)


class ContractDetailSchema(ContractSchema):
    accrued_sats = fields.Integer(required=True, metadata={"description": "premium accrued through today"})
    unpaid_sats = fields.Integer(required=True, metadata={"description": "accrued, paid at the next night"})
    events = fields.List(fields.Nested(ContractEventSchema), required=True)


ContractListSchema = Schema.from_dict({
    "items": fields.List(fields.Nested(ContractSchema), required=True),
    "total": fields.Integer(required=True),
}, name="ContractList")


class BuyRequestSchema(Schema):
    answer_id = fields.String(required=True, validate=validate.Length(min=1, max=40),
                              metadata={"description": "the RFQ answer accepted"})


class RfqRequestSchema(Schema):
    reference_account_id = fields.Integer(required=True, validate=validate.Range(min=1))
    reference_instrument_id = fields.String(load_default=None, validate=validate.Length(min=1, max=32), metadata={
        "description": "protect your position in this instrument (the reference is then your own account)"})
    notional_sats = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_NOTIONAL_SATS))
    tenor = fields.String(load_default="3M", validate=validate.OneOf(TENORS))
    settlement = fields.String(load_default="cash", validate=validate.OneOf(["novation", "cash"]))


class RfqAnswerRequestSchema(Schema):
    premium_bps = DecimalInput(required=True, allow_nan=False, validate=validate.Range(min=0, max=100_000),
                               metadata=decimal_input_doc("running premium, bps a year",
                                                          {"minimum": 0, "maximum": 100_000}))
    upfront_sats = fields.Integer(load_default=0, strict=True, validate=validate.Range(
        min=-MAX_NOTIONAL_SATS, max=MAX_NOTIONAL_SATS), metadata={"description": "paid by the buyer (negative: to it)"})
    valid_seconds = fields.Integer(load_default=DEFAULT_ANSWER_VALID_SECONDS, strict=True, validate=validate.Range(
        min=1, max=MAX_ANSWER_VALID_SECONDS), metadata={
        "description": "how long the answer is firm: the buyer cannot accept it after that"})


class RfqAnswerSchema(Schema):
    id = fields.String(required=True)
    rfq_id = fields.String(required=True)
    seller_account_id = fields.Integer(required=True)
    premium_bps = PlainDecimal(required=True)
    upfront_sats = fields.Integer(required=True)
    created_at = fields.DateTime(required=True, format="iso")
    valid_until = fields.DateTime(required=True, format="iso", metadata={
        "description": "the answer can be accepted until then, not after"})
    withdrawn_at = fields.DateTime(allow_none=True, format="iso", metadata={
        "description": "when its seller withdrew it (it can no longer be accepted)"})


class RfqSchema(Schema):
    id = fields.String(required=True)
    buyer_account_id = fields.Integer(required=True)
    reference_account_id = fields.Integer(required=True)
    reference_instrument_id = fields.String(allow_none=True)
    notional_sats = fields.Integer(required=True)
    tenor = fields.String(required=True)
    settlement = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "open, accepted or cancelled"})
    created_at = fields.DateTime(required=True, format="iso")
    contract_id = fields.String(allow_none=True)
    answers = fields.List(fields.Nested(RfqAnswerSchema), required=True, metadata={
        "description": "every answer for the buyer; a seller sees only its own"})


RfqListSchema = Schema.from_dict({"items": fields.List(fields.Nested(RfqSchema), required=True)}, name="RfqList")


def contract_view(stored, view=None) -> dict:
    c = stored.contract
    data = {
        "id": c.contract_id, "buyer_account_id": c.buyer_account_id, "seller_account_id": c.seller_account_id,
        "reference_account_id": c.reference_account_id, "reference_instrument_id": c.reference_instrument_id,
        "notional_sats": c.notional_sats, "premium_bps": c.premium_bps, "upfront_sats": c.upfront_sats,
        "trade_date": c.trade_date, "effective_date": c.effective_date, "maturity_date": c.maturity_date,
        "settlement": c.settlement.value, "status": c.status.value, "collateral_sats": stored.collateral_sats,
        "premium_paid_sats": stored.premium_paid_sats, "premium_paid_through": stored.premium_paid_through,
        "mark_sats": stored.mark_sats, "marked_on": stored.marked_on,
        "credit_event_liquidation_id": stored.credit_event_liquidation_id, "booked_via": stored.booked_via,
        "booked_at": stored.booked_at,
    }
    if view is not None:
        data |= {"accrued_sats": view.accrued_sats, "unpaid_sats": view.unpaid_sats,
                 "events": [e.__dict__ for e in view.events]}
    return data


def rfq_view(view) -> dict:
    return {**view.rfq.__dict__, "answers": [a.__dict__ for a in view.answers]}

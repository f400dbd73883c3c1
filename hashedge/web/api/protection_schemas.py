"""Marshmallow schemas for default protection: quotes, contracts, requests for quote."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hashedge.services.protection import MAX_NOTIONAL_SATS, TENORS
from hashedge.web.api.schemas import PlainDecimal


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
    from hashedge.domain.protection import effective_date
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

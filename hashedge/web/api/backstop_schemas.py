"""Marshmallow schemas of backstop liquidity: the pool (public), LP shares, deposits and
withdrawals, backstop offers. Amounts are integers of satoshis, shares integers, NAV per share a
decimal string (exact to 12 places, rounded down)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from marshmallow import Schema, fields, validate

from hashedge.services.ledger import MAX_AMOUNT_SATS
from hashedge.services.pool import MAX_SHARES

NAV_PLACES = Decimal("0.000000000001")


def nav_text(value) -> str | None:
    """An exact Fraction as a decimal string, 12 places, rounded down."""
    if value is None:
        return None
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(NAV_PLACES, rounding=ROUND_DOWN))


class PoolDepositRequestSchema(Schema):
    amount_sats = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT_SATS),
                                 metadata={"description": "collateral moved from your account into the pool"})


class PoolWithdrawalRequestSchema(Schema):
    shares = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_SHARES),
                            metadata={"description": "shares to withdraw after the governed delay"})


class PoolMovementSchema(Schema):
    kind = fields.String(required=True, metadata={"description": "deposit or withdrawal"})
    shares = fields.Integer(required=True, metadata={"description": "minted (deposit) or burnt (withdrawal)"})
    amount_sats = fields.Integer(required=True)
    nav_sats = fields.Integer(required=True, metadata={"description": "the pool's NAV before the movement"})
    shares_outstanding = fields.Integer(required=True, metadata={"description": "before the movement"})
    occurred_at = fields.DateTime(required=True, format="iso")
    idempotency_key = fields.String(required=True)


class PoolWithdrawalSchema(Schema):
    id = fields.Integer(required=True)
    shares = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["queued", "executed"]))
    requested_at = fields.DateTime(required=True, format="iso")
    executes_at = fields.DateTime(required=True, format="iso", metadata={
        "description": "when it pays, at that moment's NAV (the request time + pool.withdrawal_delay_days)"})
    executed_at = fields.DateTime(format="iso", allow_none=True)
    amount_sats = fields.Integer(allow_none=True, metadata={"description": "paid, once executed"})
    idempotency_key = fields.String(required=True)


class LpSharesSchema(Schema):
    account_id = fields.Integer(required=True)
    shares = fields.Integer(required=True, metadata={"description": "owned, including those queued"})
    queued_shares = fields.Integer(required=True, metadata={"description": "queued for withdrawal, still at risk"})
    value_sats = fields.Integer(required=True, metadata={"description": "the shares at the NAV now, rounded down"})
    withdrawals = fields.List(fields.Nested(PoolWithdrawalSchema), required=True)


class PoolPositionSchema(Schema):
    instrument = fields.String(required=True, attribute="instrument_id")
    quantity = fields.Integer(required=True, metadata={"description": "signed: positive long"})
    mark = fields.Decimal(required=True, as_string=True)
    notional_sats = fields.Integer(required=True)
    unrealized_pnl_sats = fields.Integer(required=True)


class NavPointSchema(Schema):
    business_date = fields.Date(required=True)
    nav_sats = fields.Integer(required=True)
    shares_outstanding = fields.Integer(required=True)
    nav_per_share = fields.String(required=True, allow_none=True)


class PnlDaySchema(Schema):
    business_date = fields.Date(required=True)
    pnl_sats = fields.Integer(required=True, metadata={
        "description": "the change in NAV per share times the shares of the day before (LPs coming and going "
                       "do not count)"})


class PoolSchema(Schema):
    nav_sats = fields.Integer(required=True, metadata={"description": "the pool's equity at the marks"})
    nav_per_share = fields.String(required=True, allow_none=True, metadata={
        "description": "sats per share, 12 places rounded down; null before the first deposit"})
    shares_outstanding = fields.Integer(required=True)
    collateral_sats = fields.Integer(required=True)
    exposure_sats = fields.Integer(required=True, metadata={"description": "notional of its positions at the marks"})
    positions = fields.List(fields.Nested(PoolPositionSchema), required=True)
    penalties_earned_sats = fields.Integer(required=True)
    shortfalls_covered_sats = fields.Integer(required=True)
    queued_shares = fields.Integer(required=True)
    nav_history = fields.List(fields.Nested(NavPointSchema), required=True)
    pnl_by_day = fields.List(fields.Nested(PnlDaySchema), required=True)


def pool_view(view) -> dict:
    from fractions import Fraction

    return {"nav_sats": view.nav_sats, "nav_per_share": nav_text(view.nav_per_share),
            "shares_outstanding": view.shares_outstanding, "collateral_sats": view.collateral_sats,
            "exposure_sats": view.exposure_sats, "positions": view.positions,
            "penalties_earned_sats": view.penalties_earned_sats,
            "shortfalls_covered_sats": view.shortfalls_covered_sats, "queued_shares": view.queued_shares,
            "nav_history": [{"business_date": p.business_date, "nav_sats": p.nav_sats,
                             "shares_outstanding": p.shares_outstanding,
                             "nav_per_share": nav_text(Fraction(p.nav_sats, p.shares_outstanding)
                                                       if p.shares_outstanding else None)}
                            for p in view.history],
            "pnl_by_day": [{"business_date": d, "pnl_sats": v} for d, v in view.pnl_by_day()]}


class OfferRequestSchema(Schema):
    instrument = fields.String(required=True, validate=validate.Length(min=1, max=32))
    side = fields.String(required=True, validate=validate.OneOf(["buy", "sell"]), metadata={
        "description": "the side you take over: buy takes over liquidated longs, sell liquidated shorts"})
    max_quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**9))
    max_discount_bps = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=2500),
                                      metadata={"description": "your worst price: the mark less this (buy) or "
                                                               "plus this (sell), in basis points"})


class OfferSchema(Schema):
    id = fields.Integer(required=True)
    instrument = fields.String(required=True)
    side = fields.String(required=True)
    max_quantity = fields.Integer(required=True)
    filled_quantity = fields.Integer(required=True)
    max_discount_bps = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "filled", "cancelled"]))
    created_at = fields.DateTime(required=True, format="iso")
    cancelled_at = fields.DateTime(format="iso", allow_none=True)


class OfferListSchema(Schema):
    items = fields.List(fields.Nested(OfferSchema), required=True)

"""Marshmallow schemas for the account API: every amount an integer of satoshis, named ``*_sats``."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from hashedge.services.ledger import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_AMOUNT_SATS,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_PAGE,
    MAX_PAGE_SIZE,
)
from hashedge.web.api.schemas import PageQuerySchema


class BalancesSchema(Schema):
    collateral_sats = fields.Integer(required=True, metadata={"description": "collateral held for the account"})


class AccountSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    balances = fields.Nested(BalancesSchema, required=True)
    equity_sats = fields.Integer(required=True, metadata={"description": "collateral + unrealized PnL"})
    unrealized_pnl_sats = fields.Integer(required=True)
    initial_margin_sats = fields.Integer(required=True)
    maintenance_margin_sats = fields.Integer(required=True)
    free_collateral_sats = fields.Integer(required=True, metadata={
        "description": "equity - initial margin: what may be withdrawn (negative in a margin call)"})
    status = fields.String(required=True, validate=validate.OneOf(["healthy", "margin_call", "liquidatable"]))


class StatementQuerySchema(Schema):
    start = fields.AwareDateTime(default_timezone=None, metadata={"description": "inclusive, ISO 8601 with offset"})
    end = fields.AwareDateTime(default_timezone=None, metadata={"description": "inclusive"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class StatementLineSchema(Schema):
    entry_id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "deposit, withdrawal, fee, variation_margin, ..."})
    memo = fields.String(required=True)
    occurred_at = fields.DateTime(required=True, format="iso")
    recorded_at = fields.DateTime(required=True, format="iso")
    amount_sats = fields.Integer(required=True, metadata={"description": "signed change of the balance"})
    balance_after_sats = fields.Integer(required=True)


class StatementPageSchema(Schema):
    account_id = fields.Integer(required=True)
    start = fields.DateTime(format="iso", allow_none=True)
    end = fields.DateTime(format="iso", allow_none=True)
    opening_balance_sats = fields.Integer(required=True, metadata={"description": "before this page's first line"})
    closing_balance_sats = fields.Integer(required=True, metadata={"description": "after this page's last line"})
    items = fields.List(fields.Nested(StatementLineSchema), required=True, attribute="lines")
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class WithdrawalRequestSchema(Schema):
    amount_sats = fields.Integer(required=True, strict=True,
                                 validate=validate.Range(min=1, max=MAX_AMOUNT_SATS),
                                 metadata={"description": "whole satoshis to pay out"})


class IdempotencyHeaderSchema(Schema):
    """State-changing calls carry a client-chosen key; a retry with the same key and body gets
    the original answer, the same key with another body is a 409."""

    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key", required=True,
        validate=[validate.Length(min=1, max=MAX_IDEMPOTENCY_KEY_LENGTH), validate.Regexp(IDEMPOTENCY_KEY_PATTERN)],
        metadata={"description": f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, unique per request"},
    )


class CollateralMovementSchema(Schema):
    entry_id = fields.Integer(required=True)
    kind = fields.String(required=True)
    amount_sats = fields.Integer(required=True)
    idempotency_key = fields.String(required=True)
    occurred_at = fields.DateTime(required=True, format="iso")
    recorded_at = fields.DateTime(required=True, format="iso")


class EventsQuerySchema(PageQuerySchema):
    start = fields.AwareDateTime(default_timezone=None, metadata={"description": "at or after, ISO 8601 with offset"})
    end = fields.AwareDateTime(default_timezone=None, metadata={"description": "at or before, ISO 8601 with offset"})


class AccountEventSchema(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(
        ["margin_call", "liquidatable", "healthy", "liquidation", "adl"]), metadata={
        "description": "margin_call (equity below initial margin: only reducing orders, no withdrawals), "
                       "liquidatable (below maintenance), healthy (the call is met), liquidation, adl "
                       "(a position closed by auto-deleveraging)"})
    occurred_at = fields.DateTime(required=True, format="iso")
    equity_sats = fields.Integer(required=True)
    initial_margin_sats = fields.Integer(required=True)
    maintenance_margin_sats = fields.Integer(required=True)
    liquidation_id = fields.String(allow_none=True, metadata={"description": "the liquidation record, if any"})
    detail = fields.Dict(required=True, metadata={"description": "what else the event knows (e.g. an ADL's "
                                                                 "instrument, quantity and price)"})


AccountEventPageSchema = Schema.from_dict({
    "items": fields.List(fields.Nested(AccountEventSchema), required=True),
    "total": fields.Integer(required=True, metadata={"description": "events matching the filters, all pages"}),
    "page": fields.Integer(required=True),
    "page_size": fields.Integer(required=True),
}, name="AccountEventPage")


def event_view(stored) -> dict:
    event = stored.event
    return {"id": stored.id, "kind": event.kind.value, "occurred_at": event.occurred_at,
            "equity_sats": event.standing.equity_sats, "initial_margin_sats": event.standing.initial_margin_sats,
            "maintenance_margin_sats": event.standing.maintenance_margin_sats,
            "liquidation_id": event.liquidation_id, "detail": dict(event.detail)}

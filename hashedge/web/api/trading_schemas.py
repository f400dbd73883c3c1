"""Marshmallow schemas for instruments, the book, orders, trades and positions.

Prices are exact decimals sent as text (``PlainDecimal``); money is integer sats in ``*_sats``.
The ``*_view`` functions flatten service results (domain values) into what the schemas dump.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from hashedge.domain.orders import ORDER_STYLES
from hashedge.services.ledger import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH
from hashedge.services.trading import MAX_PRICE, MAX_QUANTITY
from hashedge.web.api.schemas import DecimalInput, PageQuerySchema, PlainDecimal, decimal_input_doc


class InstrumentSchema(Schema):
    symbol = fields.String(required=True, metadata={"description": "e.g. HP-2026-12, BME14-E420, DIFF-E421"})
    product = fields.String(required=True)
    underlying = fields.String(required=True)
    quote_unit = fields.String(required=True)
    multiplier = PlainDecimal(required=True, metadata={"description": "sats per one quote unit per contract"})
    multiplier_unit = fields.String(required=True)
    tick_size = PlainDecimal(required=True)
    lot_size = fields.Integer(required=True)
    last_trading_time = fields.DateTime(required=True, format="iso")
    settlement_rule = fields.String(required=True)
    floor = PlainDecimal(allow_none=True)
    cap = PlainDecimal(allow_none=True)
    status = fields.String(required=True, metadata={"description": "listed, expired or settled"})
    trading_open = fields.Boolean(required=True)
    mark_price = PlainDecimal(allow_none=True)
    mark_source = fields.String(allow_none=True)
    marked_at = fields.DateTime(format="iso", allow_none=True)


class LevelSchema(Schema):
    price = PlainDecimal(required=True)
    quantity = fields.Integer(required=True)


class DepthSchema(Schema):
    instrument = fields.String(required=True)
    bids = fields.List(fields.Nested(LevelSchema), required=True)
    asks = fields.List(fields.Nested(LevelSchema), required=True)


class DepthQuerySchema(Schema):
    levels = fields.Integer(load_default=20, validate=validate.Range(min=1, max=500))


_PRICE_RANGE = validate.Range(min=0, min_inclusive=False, max=MAX_PRICE)
# The number alternative's bounds (the text alternative is checked against the same range).
_PRICE_BOUNDS = {"minimum": 0, "exclusiveMinimum": True, "maximum": MAX_PRICE}


class OrderRequestSchema(Schema):
    instrument = fields.String(required=True, validate=validate.Length(min=1, max=32))
    side = fields.String(required=True, validate=validate.OneOf(["buy", "sell"]))
    type = fields.String(load_default="limit", validate=validate.OneOf(list(ORDER_STYLES)))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY),
                              metadata={"description": "contracts, a positive whole number"})
    price = DecimalInput(allow_none=True, load_default=None, allow_nan=False, validate=_PRICE_RANGE,
                         metadata=decimal_input_doc("limit price in the quote unit, on the tick; ignored for market "
                                                    "orders", _PRICE_BOUNDS))


class OrderAmendmentSchema(Schema):
    """Cancel/replace: a new total quantity, a new price, or both."""

    quantity = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_QUANTITY), metadata={
        "description": "the new total in contracts, filled included (must exceed what is filled); lowering it"
                       " at the same price keeps the order's place in the queue"})
    price = DecimalInput(allow_nan=False, validate=_PRICE_RANGE, metadata=decimal_input_doc(
        "the new limit price: the order takes a new place in the queue and trades at once if it crosses",
        _PRICE_BOUNDS))

    @validates_schema
    def _changes_something(self, data: dict, **kwargs) -> None:
        if "quantity" not in data and "price" not in data:
            message = "give a new quantity, a new price or both"
            raise ValidationError({"quantity": [message], "price": [message]})


class OptionalIdempotencyHeaderSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None,
        validate=[validate.Length(min=1, max=MAX_IDEMPOTENCY_KEY_LENGTH), validate.Regexp(IDEMPOTENCY_KEY_PATTERN)],
        metadata={"description": "optional client order id, unique per account: a retry with the same key and terms "
                                 "is answered with the order as it is now (Idempotent-Replayed: true), other terms "
                                 "with the same key are a 409"},
    )


class FillSchema(Schema):
    id = fields.String(required=True)
    instrument = fields.String(required=True)
    kind = fields.String(required=True, metadata={
        "description": "book, block, liquidation (a liquidation order's fill), adl (auto-deleveraging), backstop "
                       "(a backstop offer's takeover: the backstopper is the taker), pool (the backstop pool's) or "
                       "novation (a protection seller stepping into a defaulted side)"})
    side = fields.String(required=True, metadata={"description": "your side: buy or sell"})
    liquidity = fields.String(allow_none=True, metadata={"description": "maker, taker, or null for a block trade"})
    price = PlainDecimal(required=True)
    quantity = fields.Integer(required=True)
    fee_sats = fields.Integer(allow_none=True)
    occurred_at = fields.DateTime(required=True, format="iso")


class OrderSchema(Schema):
    id = fields.String(required=True)
    instrument = fields.String(required=True)
    side = fields.String(required=True)
    type = fields.String(required=True)
    price = PlainDecimal(allow_none=True)
    quantity = fields.Integer(required=True)
    filled_quantity = fields.Integer(required=True)
    remaining_quantity = fields.Integer(required=True)
    status = fields.String(required=True)
    cancel_reason = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True, format="iso")
    fills = fields.List(fields.Nested(FillSchema))


def _instrument_filter():
    return fields.String(validate=validate.Length(min=1, max=32), metadata={"description": "only this contract"})


def _window_bound(description: str):
    return fields.AwareDateTime(default_timezone=None, metadata={"description": description})


class OrdersQuerySchema(PageQuerySchema):
    status = fields.String(load_default="all", validate=validate.OneOf(["all", "open"]),
                           metadata={"description": "open: resting orders only"})
    instrument = _instrument_filter()
    start = _window_bound("created at or after, ISO 8601 with offset")
    end = _window_bound("created at or before, ISO 8601 with offset")


class TradesQuerySchema(PageQuerySchema):
    instrument = _instrument_filter()
    start = _window_bound("traded at or after, ISO 8601 with offset")
    end = _window_bound("traded at or before, ISO 8601 with offset")


class PositionsQuerySchema(PageQuerySchema):
    instrument = _instrument_filter()


class CancelAllQuerySchema(Schema):
    instrument = _instrument_filter()


def _page_schema(name: str, item_schema) -> type[Schema]:
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "total": fields.Integer(required=True, metadata={"description": "items matching the filters, all pages"}),
        "page": fields.Integer(required=True),
        "page_size": fields.Integer(required=True),
    }, name=name)


class CancelledOrdersSchema(Schema):
    items = fields.List(fields.Nested(OrderSchema), required=True, metadata={"description": "the orders cancelled"})
    total = fields.Integer(required=True)


class PositionSchema(Schema):
    instrument = fields.String(required=True)
    quantity = fields.Integer(required=True, metadata={"description": "signed: positive long, negative short"})
    side = fields.String(required=True)
    average_price = PlainDecimal(required=True)
    mark_price = PlainDecimal(allow_none=True)
    unrealized_pnl_sats = fields.Integer(allow_none=True)
    realized_pnl_sats = fields.Integer(required=True)
    estimated_liquidation_price = PlainDecimal(allow_none=True, metadata={
        "description": "the mark of this contract at which the account would reach maintenance margin, its other "
                       "positions at their marks; null if no positive price does it, and for capped contracts"})
    adl_quintile = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=5), metadata={
        "description": "place in the auto-deleveraging queue of this contract and side at the last liquidation "
                       "sweep (every minute): 5 for the first fifth, 1 for the last; null for capped contracts "
                       "(never deleveraged) and for a position opened or reversed since that sweep"})
    adl_ranked_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the liquidation sweep that gave adl_quintile ranked the queue"})


# --- presenters ------------------------------------------------------------------------------


def fill_view(fill, account_id: int, kind: str = "book", fee_sats: int | None = None) -> dict:
    owner = str(account_id)
    liquidity = None
    if fill.aggressor is not None:
        liquidity = "taker" if fill.taker_account_id == owner else "maker"
    return {"id": fill.fill_id, "instrument": fill.instrument_id, "kind": kind,
            "side": fill.side_of(owner).value, "liquidity": liquidity, "price": fill.price,
            "quantity": fill.quantity, "fee_sats": fee_sats, "occurred_at": fill.occurred_at}


def trade_view(record, account_id: int) -> dict:
    fill = record.fill
    fee = record.buyer_fee_sats if fill.buyer_account_id == str(account_id) else record.seller_fee_sats
    return fill_view(fill, account_id, record.kind, fee)


def order_view(order, style: str, fills=(), fees_sats=()) -> dict:
    """An order; ``fees_sats`` (aligned with ``fills``) are the order's account's fees, when known."""
    fees = list(fees_sats) + [None] * (len(fills) - len(fees_sats))
    return {"id": order.order_id, "instrument": order.instrument_id, "side": order.side.value, "type": style,
            "price": order.price, "quantity": order.quantity, "filled_quantity": order.filled_quantity,
            "remaining_quantity": order.remaining_quantity, "status": order.status.value,
            "cancel_reason": order.cancel_reason.value if order.cancel_reason else None,
            "created_at": order.created_at,
            "fills": [fill_view(f, int(order.account_id), fee_sats=fee) for f, fee in zip(fills, fees)]}


def position_view(risk) -> dict:
    view = risk.view
    position = view.position
    return {"instrument": position.instrument_id, "quantity": position.quantity, "side": position.side.value,
            "average_price": position.average_price, "mark_price": view.mark_price,
            "unrealized_pnl_sats": view.unrealized_pnl_sats, "realized_pnl_sats": position.realized_pnl_sats,
            "estimated_liquidation_price": risk.estimated_liquidation_price, "adl_quintile": risk.adl_quintile,
            "adl_ranked_at": risk.adl_ranked_at}


def instrument_view(view) -> dict:
    spec = view.record.spec
    return {"symbol": spec.symbol, "product": spec.product.value, "underlying": spec.underlying,
            "quote_unit": spec.quote_unit, "multiplier": spec.multiplier, "multiplier_unit": spec.multiplier_unit,
            "tick_size": spec.tick_size, "lot_size": spec.lot_size, "last_trading_time": spec.last_trading_time,
            "settlement_rule": spec.settlement_rule.value, "floor": spec.floor, "cap": spec.cap,
            "status": view.record.status, "trading_open": view.trading_open, "mark_price": view.mark_price,
            "mark_source": view.mark_source, "marked_at": view.marked_at}


def depth_view(depth) -> dict:
    return {"instrument": depth.instrument,
            "bids": [{"price": p, "quantity": q} for p, q in depth.bids],
            "asks": [{"price": p, "quantity": q} for p, q in depth.asks]}


InstrumentPageSchema = _page_schema("InstrumentPage", InstrumentSchema)
OrderPageSchema = _page_schema("OrderPage", OrderSchema)
TradePageSchema = _page_schema("TradePage", FillSchema)
PositionPageSchema = _page_schema("PositionPage", PositionSchema)


def page_view(page, render) -> dict:
    return {"items": [render(item) for item in page.items], "total": page.total, "page": page.page,
            "page_size": page.page_size}

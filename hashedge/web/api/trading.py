"""REST endpoints for trading: instruments and book depth (public market data), and the orders,
trades and positions of the API key's account. Each parses, calls one service, and renders; the
account always comes from the key, so another account's order is a 404."""

from __future__ import annotations

from flask import current_app, g, request
from hashedge.web.api.parsing import Blueprint
from marshmallow import RAISE

from hashedge.services import accounts, instruments, order_inbox, positions, trading, trading_queries
from hashedge.web.api import examples as ex
from hashedge.web.api.accounts import REPLAYED_HEADER, _bearer_token, _secured
from hashedge.web.api.rendered import items_page_response, page_response
from hashedge.web.api.schemas import ErrorSchema
from hashedge.web.api.trading_schemas import (
    CancelAllQuerySchema,
    CancelledOrdersSchema,
    DepthQuerySchema,
    DepthSchema,
    InstrumentPageSchema,
    OptionalIdempotencyHeaderSchema,
    OrderAmendmentSchema,
    OrderRequestSchema,
    OrderPageSchema,
    OrderSchema,
    OrdersQuerySchema,
    PageQuerySchema,
    PositionPageSchema,
    PositionsQuerySchema,
    TradePageSchema,
    TradesQuerySchema,
    depth_view,
    instrument_view,
    order_view,
    page_view,
    position_view,
    trade_view,
)

market_blp = Blueprint("market", __name__, description="Listed instruments, marks and order book depth")
blp = Blueprint("trading", __name__, description="Your orders, trades and positions")


def _runtime():
    return current_app.extensions["hashedge"]


def _outcome_waits() -> order_inbox.OutcomeWaits:
    """This process's way to await the engine: one thread (started on first use) that LISTENs on
    PostgreSQL, or reads the awaited requests' states after each commit on SQLite."""
    waits = current_app.extensions.get("hashedge_outcome_waits")
    if waits is None:
        from hashedge.adapters.outcome_listener import OutcomeListener, OutcomePoller

        engine = _runtime().engine
        waits = OutcomeListener(engine.url) if engine.dialect.name == "postgresql" else OutcomePoller(engine)
        waits = current_app.extensions.setdefault("hashedge_outcome_waits", waits)
    return waits


def _engine_handoff() -> order_inbox.EngineHandoff | None:
    """This process's client of the engine's socket (``HASHEDGE_ENGINE_SOCKET``), if one is set."""
    path = _runtime().settings.engine_socket
    if path is None:
        return None
    handoff = current_app.extensions.get("hashedge_engine_handoff")
    if handoff is None:
        from hashedge.adapters.engine_socket import EngineSocketClient

        handoff = current_app.extensions.setdefault("hashedge_engine_handoff", EngineSocketClient(path))
    return handoff


def _place_order(**terms) -> trading.PlacedOrder:
    """``HASHEDGE_ORDER_ENGINE``: ``direct`` places the order in this request's transaction,
    ``inbox`` hands it to the matching engine (over its socket when there is one) and awaits its
    outcome; the same answers."""
    runtime = _runtime()
    if runtime.settings.order_engine == "inbox":
        return order_inbox.submit_order(runtime.uow, runtime.clock, g.account_id, waits=_outcome_waits(),
                                        handoff=_engine_handoff(), api_key_prefix=g.unchecked_key_prefix,
                                        timeout_s=runtime.settings.order_timeout_seconds, **terms)
    return trading.place_order(runtime.uow(), runtime.clock, g.account_id, **terms)


def _engine_checks_the_key() -> bool:
    """An order for the engine: its batch checks the key's revocation in the order's own
    transaction, so a key this process knows needs no read here (``accounts.identify_api_key``)."""
    return request.endpoint == "trading.place_order" and _runtime().settings.order_engine == "inbox"


@blp.before_request
def _authenticate() -> None:
    if _engine_checks_the_key():
        holder = accounts.identify_api_key(_runtime().uow(), _bearer_token())
        g.account_id, g.unchecked_key_prefix = holder.account_id, holder.unchecked_prefix
    else:
        g.account_id = accounts.authenticate_api_key(_runtime().uow(), _bearer_token())


@market_blp.route("/instruments", methods=["GET"])
@market_blp.arguments(PageQuerySchema, location="query", unknown=RAISE)
@market_blp.response(200, InstrumentPageSchema, example=ex.INSTRUMENT_PAGE)
@market_blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
def list_instruments(query: dict):
    """Listed and expired (not yet settled) contracts with their specs and latest marks.

    A page of the list convention, by last trading time; the listing cycle keeps about eighteen
    contracts (monthly hashprice, BME14 and DIFF epochs). Prices are decimal strings."""
    runtime = _runtime()
    page = instruments.instrument_page(runtime.uow(), runtime.clock, **query)
    return page_response(InstrumentPageSchema, instrument_view, page)


@market_blp.route("/instruments/<string:symbol>/book", methods=["GET"])
@market_blp.arguments(DepthQuerySchema, location="query", unknown=RAISE)
@market_blp.response(200, DepthSchema, example=ex.DEPTH)
@market_blp.alt_response(404, schema=ErrorSchema, description="Unknown instrument")
def book(query: dict, symbol: str):
    """Aggregated resting quantity per price level, best first.

    Public market data (no key): ``levels`` price levels a side (default 20, at most 500), bids
    highest first, asks lowest first, quantities in contracts."""
    return depth_view(instruments.depth(_runtime().uow(), symbol, query["levels"]))


@blp.route("/orders", methods=["POST"])
@blp.arguments(OrderRequestSchema, unknown=RAISE, example=ex.ORDER_REQUEST)
@blp.arguments(OptionalIdempotencyHeaderSchema, location="headers")
@blp.response(201, OrderSchema, example=ex.ORDER, headers={
    REPLAYED_HEADER: {"description": "true when this is the stored answer to an earlier request",
                      "schema": {"type": "string"}}})
@blp.alt_response(400, schema=ErrorSchema, description="Invalid order, with field messages")
@blp.alt_response(404, schema=ErrorSchema, description="Unknown instrument")
@blp.alt_response(409, schema=ErrorSchema, description="Trading closed, no mark yet, or Idempotency-Key reused")
@blp.alt_response(422, schema=ErrorSchema, description="Refused by the book or the margin check (shortfall)")
@blp.alt_response(503, schema=ErrorSchema, description="The matching engine did not answer in time; nothing was "
                  "executed (with HASHEDGE_ORDER_ENGINE=inbox)")
@_secured
def place_order(body: dict, headers: dict):
    """Place an order: matched at once against the book; a GTC limit remainder rests.

    Types: limit (the remainder rests), market (fills within a band around the mark, the rest is
    cancelled), ioc, fok, post_only (refused if it would trade). The answer lists the fills and
    the fee on each. ``Idempotency-Key`` is optional and acts as a client order id: a retry with the
    same key and terms is answered with the order as it is now (``Idempotent-Replayed: true``)."""
    placed = _place_order(instrument=body["instrument"], side=body["side"], order_type=body["type"],
                          quantity=body["quantity"], price=body["price"], idempotency_key=headers["idempotency_key"])
    rendered = order_view(placed.order, placed.style, placed.fills, placed.fees_sats)
    return rendered, 201, ({REPLAYED_HEADER: "true"} if placed.replayed else {})


@blp.route("/orders", methods=["GET"])
@blp.arguments(OrdersQuerySchema, location="query", unknown=RAISE)
@blp.response(200, OrderPageSchema, example=ex.ORDER_PAGE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
@_secured
def list_orders(query: dict):
    """The account's orders, newest first, each with its fills (``status=open`` for resting ones).

    A page of the list convention (``page``, ``page_size``; ``items``, ``total``), filtered by
    ``instrument`` and by creation time with ``start``/``end`` (inclusive, ISO 8601 with offset)."""
    found = trading_queries.order_page(_runtime().uow(), g.account_id, **query)
    return items_page_response(OrderSchema, _placed_view, found)


def _placed_view(placed) -> dict:
    """A ``services.trading.PlacedOrder`` as the API shows it."""
    return order_view(placed.order, placed.style, placed.fills, placed.fees_sats)


@blp.route("/orders", methods=["DELETE"])
@blp.arguments(CancelAllQuerySchema, location="query", unknown=RAISE)
@blp.response(200, CancelledOrdersSchema, example=ex.CANCELLED_ORDERS)
@blp.alt_response(404, schema=ErrorSchema, description="Unknown instrument")
@_secured
def cancel_all_orders(query: dict):
    """Cancel every resting order of the account (of one instrument with ``instrument``).

    All in one transaction; the answer lists the orders cancelled (none resting is an empty list,
    not an error). Safe to repeat: a second call finds nothing left to cancel."""
    runtime = _runtime()
    cancelled = trading.cancel_all_orders(runtime.uow(), runtime.clock, g.account_id, query.get("instrument"))
    shown = trading_queries.orders_with_fills(runtime.uow(), g.account_id, [o.order_id for o in cancelled])
    return {"items": [order_view(o.order, o.style, o.fills, o.fees_sats) for o in shown], "total": len(shown)}


@blp.route("/orders/<string:order_id>", methods=["GET"])
@blp.response(200, OrderSchema, example=ex.ORDER)
@blp.alt_response(404, schema=ErrorSchema, description="No such order for this account")
@_secured
def get_order(order_id: str):
    """One of the account's orders as it is now, with every fill it took part in.

    Status, filled and remaining quantity, and each fill with its price, liquidity and the fee
    paid; another account's order is a 404, never a hint that it exists."""
    found = trading_queries.order_with_fills(_runtime().uow(), g.account_id, order_id)
    return order_view(found.order, found.style, found.fills, found.fees_sats)


@blp.route("/orders/<string:order_id>", methods=["PATCH"])
@blp.arguments(OrderAmendmentSchema, unknown=RAISE, example=ex.AMENDMENT_REQUEST)
@blp.arguments(OptionalIdempotencyHeaderSchema, location="headers")
@blp.response(200, OrderSchema, example=ex.RESTING_ORDER, headers={
    REPLAYED_HEADER: {"description": "true when this is the stored answer to an earlier request",
                      "schema": {"type": "string"}}})
@blp.alt_response(400, schema=ErrorSchema, description="Invalid quantity or price, with field messages")
@blp.alt_response(404, schema=ErrorSchema, description="No such order for this account")
@blp.alt_response(409, schema=ErrorSchema,
                  description="The order is no longer resting, trading is closed, or Idempotency-Key reused")
@blp.alt_response(422, schema=ErrorSchema,
                  description="Refused by the book (e.g. quantity not above filled) or the margin check (shortfall)")
@_secured
def replace_order(body: dict, headers: dict, order_id: str):
    """Cancel/replace a resting order atomically; a new price takes a new place and may trade at once.

    ``quantity`` is the new total, filled included; a lower quantity at the same price keeps the
    order's place in the queue, a new price or a larger quantity takes a new place. The amended
    order passes the margin check again unless it only got smaller."""
    runtime = _runtime()
    replaced = trading.replace_order(runtime.uow(), runtime.clock, g.account_id, order_id,
                                     quantity=body.get("quantity"), price=body.get("price"),
                                     idempotency_key=headers["idempotency_key"])
    rendered = order_view(replaced.order, replaced.style, replaced.fills, replaced.fees_sats)
    return rendered, 200, ({REPLAYED_HEADER: "true"} if replaced.replayed else {})


@blp.route("/orders/<string:order_id>", methods=["DELETE"])
@blp.response(200, OrderSchema, example=ex.CANCELLED_ORDER)
@blp.alt_response(404, schema=ErrorSchema, description="No such order for this account")
@blp.alt_response(409, schema=ErrorSchema, description="The order is no longer resting")
@_secured
def cancel_order(order_id: str):
    """Cancel a resting order.

    The answer is the order in its final state (``cancelled``, reason ``user``); an order no
    longer resting (filled or cancelled already) is a 409."""
    runtime = _runtime()
    cancelled = trading.cancel_order(runtime.uow(), runtime.clock, g.account_id, order_id)
    stored = trading.get_order(runtime.uow(), g.account_id, order_id)
    return order_view(cancelled, stored.style)


@blp.route("/trades", methods=["GET"])
@blp.arguments(TradesQuerySchema, location="query", unknown=RAISE)
@blp.response(200, TradePageSchema, example=ex.TRADE_PAGE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
@_secured
def list_trades(query: dict):
    """The account's trades (book fills and block trades), newest first, with its fees.

    A page of the list convention, filtered by ``instrument`` and by trade time with
    ``start``/``end``; ``side`` and ``liquidity`` are this account's, ``fee_sats`` what it paid."""
    found = trading_queries.trade_page(_runtime().uow(), g.account_id, **query)
    return page_view(found, lambda record: trade_view(record, g.account_id))


@blp.route("/positions", methods=["GET"])
@blp.arguments(PositionsQuerySchema, location="query", unknown=RAISE)
@blp.response(200, PositionPageSchema, example=ex.POSITION_PAGE)
@blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
@_secured
def list_positions(query: dict):
    """Open positions: signed quantity, average price, mark, unrealized and realized PnL, estimated
    liquidation price and auto-deleveraging quintile.

    A page of the list convention by instrument, filtered by ``instrument``; unrealized PnL is at
    the latest mark (``null`` before the first mark), in satoshis."""
    runtime = _runtime()
    found = positions.position_risk_page(runtime.uow, g.account_id, **query)
    return page_view(found, position_view)

"""Trading: instruments with marks and their order books; OTC block trades (book with a margin
preview of both sides, four eyes above the governed notional, reverse with a reason)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import DataUnavailable, HashEdgeError, NotFound
from hashedge.services import approvals, block_trades, desk_actions, instruments
from hashedge.services.trading import InsufficientMargin
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import BlockTradeForm, ReverseForm, apply_errors
from hashedge.web.desk.pages import Pager, page_args
from hashedge.web.desk.views._common import account_names, resolve, runtime


@bp.get("/instruments", endpoint="instruments")
def instruments_page():
    views = instruments.list_instruments(runtime().uow(), runtime().clock)
    return render_template("desk/instruments.html", views=views)


@bp.get("/instruments/<symbol>")
def instrument(symbol: str):
    rt = runtime()
    view = next((v for v in instruments.list_instruments(rt.uow(), rt.clock, include_settled=True)
                 if v.record.symbol == symbol), None)
    if view is None:
        raise NotFound(f"no instrument {symbol!r}")
    depth = instruments.depth(rt.uow(), symbol, levels=15)
    try:
        band = block_trades.otc_band(rt.uow(), symbol)
    except DataUnavailable:
        band = None
    return render_template("desk/instrument.html", view=view, depth=depth, band=band)


def _bands(choices: list[str]) -> dict:
    bands = {}
    for symbol in choices:
        try:
            bands[symbol] = block_trades.otc_band(runtime().uow(), symbol)
        except DataUnavailable:
            continue
    return bands


def _form_page(form: BlockTradeForm, *, preview=None, status: int = 200):
    views = [v for v in instruments.list_instruments(runtime().uow(), runtime().clock) if v.trading_open]
    form.instrument.choices = [(v.record.symbol, v.record.symbol) for v in views]
    return render_template("desk/block_trade_new.html", form=form, preview=preview, bands=_bands([v.record.symbol for v in views]),
                           names=account_names(), params=approvals.desk_parameters()), status


@bp.get("/block-trades/new")
@requires(Permission.BLOCK_TRADE)
def new_block_trade():
    return _form_page(BlockTradeForm())


def _side_errors(form: BlockTradeForm, exc: HashEdgeError) -> None:
    """A margin refusal names the side ("buyer 3: ..."): show it next to that side's field."""
    if isinstance(exc, InsufficientMargin):
        field = form.buyer if exc.message.startswith("buyer") else form.seller
        field.errors = list(field.errors) + [exc.message]
    else:
        apply_errors(form, exc, default="price")


@bp.post("/block-trades")
@requires(Permission.BLOCK_TRADE)
def book_block_trade():
    form = BlockTradeForm()
    views = [v for v in instruments.list_instruments(runtime().uow(), runtime().clock) if v.trading_open]
    form.instrument.choices = [(v.record.symbol, v.record.symbol) for v in views]
    if not form.validate():
        return _form_page(form, status=400)
    rt = runtime()
    try:
        buyer_id, seller_id = _party(form, "buyer"), _party(form, "seller")
        if form.errors:
            return _form_page(form, status=404)
        terms = dict(buyer_id=buyer_id, seller_id=seller_id, instrument=form.instrument.data,
                     quantity=form.quantity.data, price=form.price.data.strip())
        preview = block_trades.preview_block_trade(rt.uow(), rt.clock, **terms)
        if preview.price_refusal:
            form.price.errors = list(form.price.errors) + [preview.price_refusal]
        for side, field in ((preview.buyer, form.buyer), (preview.seller, form.seller)):
            if side.refusal:
                field.errors = list(field.errors) + [side.refusal]
        if form.action.data != "book" or not preview.ok:
            return _form_page(form, preview=preview, status=200 if preview.ok else 422)
        submitted = approvals.submit_block_trade(rt.session_factory, rt.clock, actor(), **terms)
    except HashEdgeError as exc:
        _side_errors(form, exc)
        return _form_page(form, status=exc.http_status)
    if submitted.pending:
        flash(f"Block trade above the four-eyes notional: request {submitted.request.id} waits for a second "
              "user's approval.", "warning")
        return redirect(url_for("desk.approvals"))
    fill = submitted.trade.fill
    flash(f"Block trade {fill.fill_id} booked: {fill.quantity} {fill.instrument_id} at {fill.price}; fees "
          f"{submitted.trade.buyer_fee_sats:,} and {submitted.trade.seller_fee_sats:,} sats.", "success")
    return redirect(url_for("desk.block_trades"))


def _party(form: BlockTradeForm, name: str) -> int | None:
    field = getattr(form, name)
    try:
        return resolve(field.data)
    except HashEdgeError as exc:
        field.errors = list(field.errors) + [exc.message]
        return None


@bp.get("/block-trades", endpoint="block_trades")
def block_trades_page():
    page, size = page_args()
    lines, total = block_trades.recent_block_trades(runtime().uow(), page=page, page_size=size)
    return render_template("desk/block_trades.html", lines=lines, pager=Pager(page, size, total), form=ReverseForm())


@bp.post("/block-trades/<trade_id>/reverse")
@requires(Permission.BLOCK_TRADE)
def reverse_block_trade(trade_id: str):
    form = ReverseForm()
    if not form.validate():
        flash("A reversal needs a reason.", "error")
        return redirect(url_for("desk.block_trades"))
    try:
        reversal = desk_actions.reverse_block_trade(runtime().session_factory, runtime().clock, actor(),
                                                    trade_id=trade_id, reason=form.reason.data)
    except HashEdgeError as exc:
        flash(f"Block trade {trade_id}: {exc.message}", "error")
        return redirect(url_for("desk.block_trades"))
    flash(f"Block trade {trade_id} reversed by {reversal.fill.fill_id}; its fees were refunded.", "success")
    return redirect(url_for("desk.block_trades"))

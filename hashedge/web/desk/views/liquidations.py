"""Risk: the liquidation queue and the sweep, liquidation records (list, the procedure's steps and a
replay), the ADL queues, the nightly penalty distributions, and the account page's risk panels
(margin events, liquidations, each position's estimated liquidation price and ADL quintile)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import flash, redirect, render_template, request, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import DataUnavailable, HashEdgeError
from hashedge.services import desk_actions, liquidation_queries, liquidation_records, margin_calls, positions
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import ActionForm, LiquidationFilterForm, apply_errors
from hashedge.web.desk.nav import ACCOUNT_PANELS, AccountPanel
from hashedge.web.desk.pages import page_args, pager_of
from hashedge.web.desk.views._common import account_names, resolve, runtime


@bp.get("/risk/liquidation-queue", endpoint="liquidation_queue")
def liquidation_queue_page():
    try:
        queue, note = liquidation_queries.liquidation_queue(runtime().uow(), runtime().clock), None
    except DataUnavailable as exc:
        queue, note = None, exc.message
    return render_template("desk/liquidation_queue.html", queue=queue, note=note, form=ActionForm())


@bp.post("/risk/liquidation-sweep", endpoint="run_liquidation_sweep")
@requires(Permission.LIQUIDATE)
def run_liquidation_sweep():
    form = ActionForm()
    if not form.validate():
        flash("The sweep form was not accepted; reload the page and try again.", "error")
        return redirect(url_for("desk.liquidation_queue"))
    try:
        report = desk_actions.run_liquidation_sweep(runtime().session_factory, runtime().clock, actor())
    except HashEdgeError as exc:
        flash(f"Liquidation sweep: {exc.message}", "error")
        return redirect(url_for("desk.liquidation_queue"))
    summary = report.as_dict()
    if report.liquidations:
        ids = ", ".join(summary["liquidation_ids"][:10]) + (", ..." if len(report.liquidations) > 10 else "")
        flash(f"Liquidation sweep: {len(report.liquidations)} liquidated ({ids}); penalties "
              f"{summary['penalties_sats']:,} sats, insurance fund paid {summary['insurance_fund_sats']:,} sats, "
              f"{summary['adl_events']} ADL events.", "success")
    else:
        flash("Liquidation sweep: nobody is below maintenance margin; nothing was liquidated.", "info")
    if report.left_liquidatable:
        flash(f"Still liquidatable (no stage could act): accounts {', '.join(map(str, report.left_liquidatable))}.",
              "warning")
    return redirect(url_for("desk.liquidation_queue"))


def _window(form: LiquidationFilterForm) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(form.start.data, time(0), tzinfo=timezone.utc) if form.start.data else None
    end = (datetime.combine(form.end.data + timedelta(days=1), time(0), tzinfo=timezone.utc) - timedelta(microseconds=1)
           if form.end.data else None)
    return start, end


@bp.get("/risk/liquidations", endpoint="liquidations")
def liquidations_page():
    form = LiquidationFilterForm(request.args)
    page, size = page_args()
    result, status = None, 200
    if form.validate():
        try:
            account_id = resolve(form.account.data.strip()) if (form.account.data or "").strip() else None
            start, end = _window(form)
            result = liquidation_records.liquidation_page(runtime().uow(), account_id=account_id, start=start,
                                                          end=end, page=page, page_size=size)
        except HashEdgeError as exc:
            apply_errors(form, exc, default="account")
            status = exc.http_status
    else:
        status = 400
    return render_template("desk/liquidations.html", form=form, result=result,
                           pager=pager_of(result) if result else None, names=account_names()), status


@bp.get("/risk/liquidations/<liquidation_id>", endpoint="liquidation")
def liquidation_page(liquidation_id: str):
    detail = liquidation_queries.record_detail(runtime().uow(), liquidation_id)
    replay = liquidation_records.replay(runtime().uow(), liquidation_id)
    return render_template("desk/liquidation.html", detail=detail, record=detail.record, replay=replay)


@bp.get("/risk/adl", endpoint="adl_ranks")
def adl_ranks_page():
    instrument = request.args.get("instrument", "").strip()[:32]
    try:
        queues, note = liquidation_queries.adl_queues(runtime().uow(), runtime().clock), None
    except DataUnavailable as exc:
        queues, note = [], exc.message
    symbols = sorted({q.instrument_id for q in queues})
    shown = [q for q in queues if q.instrument_id == instrument] if instrument in symbols else queues
    return render_template("desk/adl_ranks.html", queues=shown, symbols=symbols,
                           instrument=instrument if instrument in symbols else "", note=note)


@bp.get("/risk/penalties", endpoint="penalties")
def penalties_page():
    page, size = page_args(default_size=20)
    result = liquidation_queries.penalty_distributions(runtime().uow(), page=page, page_size=size)
    return render_template("desk/penalties.html", result=result, pager=pager_of(result))


# --- the account page's panels ------------------------------------------------------------------


def _events(uow_factory, account_id: int):
    return margin_calls.account_event_page(uow_factory(), account_id, page_size=20)


def _liquidations(uow_factory, account_id: int):
    return liquidation_records.liquidation_page(uow_factory(), account_id=account_id, page_size=20)


def _position_risk(uow_factory, account_id: int):
    return positions.position_risk_page(uow_factory, account_id, page_size=200)


ACCOUNT_PANELS.extend([
    AccountPanel("Position risk", "desk/panels/position_risk.html", _position_risk),
    AccountPanel("Margin events", "desk/panels/account_events.html", _events),
    AccountPanel("Liquidations", "desk/panels/account_liquidations.html", _liquidations),
])

"""Operations: settlement runs by date (and a button to run a day, idempotent), job runs, fixings
with their verification status."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.jobs.scheduler import JOBS
from hashedge.services import desk_actions, operations
from hashedge.services.fixings import standard_index_names
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import SettlementForm, apply_errors
from hashedge.web.desk.pages import page_args, pager_of
from hashedge.web.desk.views._common import runtime


def _settlement_page(form: SettlementForm, status: int = 200):
    page, size = page_args()
    result = operations.settlement_runs(runtime().uow(), page=page, page_size=size)
    if form.business_date.data is None and request.method == "GET":
        form.business_date.data = runtime().clock.now().date()
    return render_template("desk/settlement.html", result=result, pager=pager_of(result), form=form), status


@bp.get("/operations/settlement", endpoint="settlement")
def settlement_page():
    return _settlement_page(SettlementForm())


@bp.post("/operations/settlement")
@requires(Permission.OPERATIONS)
def run_settlement():
    form = SettlementForm()
    if not form.validate():
        return _settlement_page(form, 400)
    day = form.business_date.data
    try:
        summary = desk_actions.run_settlement(runtime().session_factory, runtime().clock, actor(), day)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="business_date")
        return _settlement_page(form, exc.http_status)
    what = "Provisional settlement" if summary.provisional else "Settlement"
    if summary.already_done:
        flash(f"{what} for {day} was already done; nothing changed.", "info")
    elif summary.provisional:
        flash(f"Provisionally settled {day} at the current marks: variation margin on "
              f"{len(summary.variation_margin_sats)} instruments; the close settles after 00:00 UTC.", "success")
    else:
        flash(f"Settled {day}: variation margin on {len(summary.variation_margin_sats)} instruments, "
              f"{len(summary.final_settlements)} expiries"
              + (f", pending {', '.join(sorted(summary.pending))}" if summary.pending else "") + ".", "success")
    return redirect(url_for("desk.settlement"))


@bp.get("/operations/jobs", endpoint="jobs")
def jobs_page():
    job = request.args.get("job", "")
    job = job if job in JOBS else ""
    status = request.args.get("status", "")
    status = status if status in operations.JOB_STATUSES else ""
    page, size = page_args(default_size=50)
    result = operations.job_runs(runtime().uow(), job=job or None, status=status or None, page=page, page_size=size)
    return render_template("desk/jobs.html", result=result, pager=pager_of(result), job=job, status=status,
                           jobs=sorted(JOBS), summary_of=operations.job_summary)


@bp.get("/operations/fixings", endpoint="fixings")
def fixings_page():
    names = standard_index_names()
    index = request.args.get("index", "HASHPRICE")
    index = index if index in names else names[0]
    verify = request.args.get("verify") == "1"
    page, size = page_args(default_size=50)
    result, checked = operations.fixings(runtime().uow(), index=index, page=page, page_size=size, verify=verify)
    return render_template("desk/fixings.html", result=result, pager=pager_of(result), index=index, names=names,
                           verify=verify, checked=checked)

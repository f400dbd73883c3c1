"""Four-eyes requests: the list by status, approve (runs the action) or reject with a reason."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import approvals
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import DecisionForm
from hashedge.web.desk.pages import page_args, pager_of
from hashedge.web.desk.views._common import runtime

STATUSES = ("pending", "executed", "rejected", "expired", "failed")


@bp.get("/approvals", endpoint="approvals")
def approvals_page():
    approvals.expire_due(runtime().session_factory, runtime().clock)
    status = request.args.get("status", "pending")
    status = status if status in STATUSES or status == "all" else "pending"
    page, size = page_args()
    result = approvals.list_requests(runtime().uow(), status=None if status == "all" else status, page=page,
                                     page_size=size)
    return render_template("desk/approvals.html", result=result, pager=pager_of(result), status=status,
                           statuses=STATUSES, form=DecisionForm(), params=approvals.desk_parameters())


def _decide(request_id: int, approve: bool):
    form = DecisionForm()
    form.validate()
    try:
        decided = approvals.decide(runtime().session_factory, runtime().clock, actor(), request_id, approve=approve,
                                   reason=form.reason.data or "")
    except HashEdgeError as exc:
        flash(f"Request {request_id}: {exc.message}", "error")
        return redirect(url_for("desk.approvals"))
    if decided.status == "executed":
        flash(f"Request {request_id} approved and executed: {decided.summary}.", "success")
    elif decided.status == "failed":
        flash(f"Request {request_id} approved but refused when run: {decided.reason}", "error")
    else:
        flash(f"Request {request_id} {decided.status}.", "info")
    return redirect(url_for("desk.approvals", status="all" if decided.status != "pending" else "pending"))


@bp.post("/approvals/<int:request_id>/approve")
@requires(Permission.APPROVE)
def approve(request_id: int):
    return _decide(request_id, True)


@bp.post("/approvals/<int:request_id>/reject")
@requires(Permission.APPROVE)
def reject(request_id: int):
    return _decide(request_id, False)

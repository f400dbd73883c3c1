"""Risk: the insurance fund (balance, totals by kind, its history) and the platform's contributions
to it (four eyes above the governed size)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import approvals, insurance
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import InsuranceContributionForm, apply_errors
from hashedge.web.desk.pages import Pager, page_args
from hashedge.web.desk.views._common import runtime


def _page(form: InsuranceContributionForm | None = None, status: int = 200):
    page, size = page_args(default_size=50)
    fund = insurance.insurance_fund(runtime().uow(), page=page, page_size=size)
    return render_template("desk/insurance_fund.html", fund=fund, pager=Pager(fund.page, fund.page_size, fund.total),
                           form=(form or InsuranceContributionForm()).fresh_key(),
                           params=approvals.desk_parameters()), status


@bp.get("/risk/insurance-fund", endpoint="insurance_fund")
def insurance_fund_page():
    return _page()


@bp.post("/risk/insurance-fund/contributions", endpoint="contribute_insurance")
@requires(Permission.INSURANCE)
def contribute():
    form = InsuranceContributionForm()
    if not form.validate():
        return _page(form, 400)
    try:
        submitted = approvals.submit_insurance_contribution(
            runtime().session_factory, runtime().clock, actor(), form.amount_sats.data,
            idempotency_key=form.idempotency_key.data, memo=form.memo.data or "")
    except HashEdgeError as exc:
        apply_errors(form, exc, default="amount_sats")
        return _page(form, exc.http_status)
    if submitted.pending:
        flash(f"Contribution above the four-eyes threshold: request {submitted.request.id} waits for a second "
              "user's approval.", "warning")
        return redirect(url_for("desk.approvals"))
    again = " (already recorded: same form submitted twice)" if submitted.entry.replayed else ""
    flash(f"Contribution of {form.amount_sats.data:,} sats to the insurance fund recorded, entry "
          f"{submitted.entry.recorded.id}{again}.", "success")
    return redirect(url_for("desk.insurance_fund"))

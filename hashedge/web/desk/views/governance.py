"""Governance: the parameters in force with their history and the risk committee's emergency
tightening; proposals with their tally, votes and ragequits, and a counterparty's vote recorded
by the desk."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import desk_actions, governance
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import EmergencyForm, VoteForm, apply_errors
from hashedge.web.desk.pages import page_args, pager_of
from hashedge.web.desk.views._common import account_names, resolve, runtime


def _parameters_page(form: EmergencyForm, status: int = 200):
    found = governance.registry(runtime().uow())
    margins = [p.name for p in found.parameters if p.name.startswith(("margin.initial.", "margin.maintenance."))]
    form.name.choices = margins
    committee = next((p.value for p in found.parameters if p.name == "governance.risk_committee"), "")
    return render_template("desk/governance_parameters.html", found=found, form=form,
                           committee=[n for n in committee.split(",") if n]), status


@bp.get("/governance/parameters", endpoint="governance_parameters")
def parameters_page():
    return _parameters_page(EmergencyForm())


@bp.post("/governance/emergency")
@requires(Permission.GOVERNANCE)
def emergency():
    form = EmergencyForm()
    found = governance.registry(runtime().uow())
    form.name.choices = [p.name for p in found.parameters if p.name.startswith("margin.")]
    if not form.validate():
        return _parameters_page(form, 400)
    try:
        version = desk_actions.emergency_tighten(runtime().session_factory, runtime().clock, actor(),
                                                 {form.name.data: form.value.data.strip()}, form.reason.data)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="value")
        return _parameters_page(form, exc.http_status)
    flash(f"Version {version.id} in force: {form.name.data} raised to {form.value.data.strip()}.", "success")
    return redirect(url_for("desk.governance_parameters"))


@bp.get("/governance/proposals", endpoint="governance_proposals")
def proposals_page():
    page, size = page_args(default_size=50)
    result = governance.proposal_page(runtime().uow(), runtime().clock, page=page, page_size=size)
    return render_template("desk/governance_proposals.html", result=result, pager=pager_of(result))


def _proposal_page(proposal_id: int, form: VoteForm, status: int = 200):
    proposal = governance.get_proposal(runtime().uow(), runtime().clock, proposal_id)
    return render_template("desk/governance_proposal.html", proposal=proposal, form=form,
                           names=account_names()), status


@bp.get("/governance/proposals/<int:proposal_id>", endpoint="governance_proposal")
def proposal_page(proposal_id: int):
    return _proposal_page(proposal_id, VoteForm())


@bp.post("/governance/proposals/<int:proposal_id>/votes")
@requires(Permission.GOVERNANCE)
def record_vote(proposal_id: int):
    form = VoteForm()
    if not form.validate():
        return _proposal_page(proposal_id, form, 400)
    try:
        account_id = resolve(form.account.data)
        shown = desk_actions.record_vote(runtime().session_factory, runtime().clock, actor(), proposal_id,
                                         account_id, form.choice.data)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="account")
        return _proposal_page(proposal_id, form, exc.http_status)
    flash(f"Account {account_id} voted {form.choice.data}: yes {shown.yes_weight:,}, no {shown.no_weight:,} "
          f"of {shown.snapshot_shares:,} shares.", "success")
    return redirect(url_for("desk.governance_proposal", proposal_id=proposal_id))

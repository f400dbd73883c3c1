"""Counterparties: the list (filter, pagination), onboarding, API keys and the account page."""

from __future__ import annotations

from flask import render_template, request

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import accounts, desk_actions, ledger, trading
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import ActionForm, OnboardForm, RevokeKeyForm, apply_errors
from hashedge.web.desk.nav import ACCOUNT_PANELS
from hashedge.web.desk.pages import Pager, page_args, pager_of
from hashedge.web.desk.views._common import runtime


def _list(form: OnboardForm, status: int = 200):
    page, size = page_args()
    text = request.args.get("q", "")[:64]
    result = accounts.list_accounts(runtime().uow(), name_contains=text, page=page, page_size=size)
    return render_template("desk/accounts.html", result=result, pager=pager_of(result), q=text, form=form), status


@bp.get("/accounts", endpoint="accounts")
def accounts_page():
    return _list(OnboardForm())


@bp.post("/accounts")
@requires(Permission.ONBOARD)
def onboard():
    form = OnboardForm()
    if not form.validate():
        return _list(form, 400)
    try:
        account, key = desk_actions.onboard_account(runtime().session_factory, runtime().clock, actor(),
                                                    form.name.data)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="name")
        return _list(form, exc.http_status)
    return _detail(account.id, new_key=key, created=True)


def _detail(account_id: int, *, new_key: str | None = None, created: bool = False, status: int = 200):
    rt = runtime()
    summary = accounts.account_summary(rt.uow(), account_id)
    page, size = page_args(default_size=20)
    statement = ledger.statement(rt.uow(), account_id, page=page, page_size=size)
    panels = [(panel, panel.load(rt.uow, account_id)) for panel in ACCOUNT_PANELS]
    return render_template(
        "desk/account.html", summary=summary, positions=trading.list_positions(rt.uow(), account_id),
        orders=trading.list_orders(rt.uow(), account_id, open_only=True, limit=50),
        trades=trading.list_trades(rt.uow(), account_id, limit=20),
        statement=statement, statement_pager=Pager(statement.page, statement.page_size, statement.total),
        keys=accounts.list_api_keys(rt.uow(), account_id), new_key=new_key, created=created,
        key_form=ActionForm(), revoke_form=RevokeKeyForm(), panels=panels), status


@bp.get("/accounts/<int:account_id>")
def account(account_id: int):
    return _detail(account_id)


@bp.post("/accounts/<int:account_id>/keys")
@requires(Permission.ONBOARD)
def issue_key(account_id: int):
    key = desk_actions.issue_api_key(runtime().session_factory, runtime().clock, actor(), account_id)
    return _detail(account_id, new_key=key)


@bp.post("/accounts/<int:account_id>/keys/revoke")
@requires(Permission.ONBOARD)
def revoke_key(account_id: int):
    form = RevokeKeyForm()
    if form.validate():
        desk_actions.revoke_api_key(runtime().session_factory, runtime().clock, actor(), account_id, form.prefix.data)
    return _detail(account_id, status=200 if form.validate() else 400)

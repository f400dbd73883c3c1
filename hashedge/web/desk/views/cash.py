"""Cash: record a deposit, request a withdrawal (four eyes above the governed size)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import approvals, desk_actions
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import DepositForm, WithdrawalForm, apply_errors
from hashedge.web.desk.views._common import account_names, resolve, runtime


def _page(deposit: DepositForm | None = None, withdrawal: WithdrawalForm | None = None, status: int = 200):
    deposit = deposit or DepositForm(prefix="deposit")
    withdrawal = withdrawal or WithdrawalForm(prefix="withdrawal")
    return render_template("desk/cash.html", deposit=deposit.fresh_key(), withdrawal=withdrawal.fresh_key(),
                           params=approvals.desk_parameters(), names=account_names()), status


@bp.get("/cash")
def cash():
    return _page()


@bp.post("/cash/deposits")
@requires(Permission.DEPOSIT)
def deposit():
    form = DepositForm(prefix="deposit")
    if not form.validate():
        return _page(deposit=form, status=400)
    try:
        account_id = resolve(form.account.data)
        movement = desk_actions.deposit(runtime().session_factory, runtime().clock, actor(), account_id,
                                        form.amount_sats.data, form.idempotency_key.data, form.memo.data or "")
    except HashEdgeError as exc:
        apply_errors(form, exc, default="amount_sats")
        return _page(deposit=form, status=exc.http_status)
    again = " (already recorded: same form submitted twice)" if movement.replayed else ""
    flash(f"Deposit of {movement.amount_sats:,} sats recorded, entry {movement.entry_id}{again}.", "success")
    return redirect(url_for("desk.account", account_id=account_id))


@bp.post("/cash/withdrawals")
@requires(Permission.WITHDRAW)
def withdraw():
    form = WithdrawalForm(prefix="withdrawal")
    if not form.validate():
        return _page(withdrawal=form, status=400)
    try:
        account_id = resolve(form.account.data)
        submitted = approvals.submit_withdrawal(runtime().session_factory, runtime().clock, actor(), account_id,
                                                form.amount_sats.data, idempotency_key=form.idempotency_key.data,
                                                memo=form.memo.data or "")
    except HashEdgeError as exc:
        apply_errors(form, exc, default="amount_sats")
        return _page(withdrawal=form, status=exc.http_status)
    if submitted.pending:
        flash(f"Withdrawal above the four-eyes threshold: request {submitted.request.id} waits for a second "
              "user's approval.", "warning")
        return redirect(url_for("desk.approvals"))
    flash(f"Withdrawal of {submitted.movement.amount_sats:,} sats paid out, entry {submitted.movement.entry_id}.",
          "success")
    return redirect(url_for("desk.account", account_id=account_id))

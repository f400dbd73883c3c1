"""Risk: the backstop pool (NAV, positions, exposure, NAV history, withdrawal queue) and the
standing backstop offers (BACKSTOP.md); a desk user may deposit into the pool or queue a withdrawal
on an LP's behalf (the same services as the API, audited). Offers are posted through the API/CLI."""

from __future__ import annotations

from fractions import Fraction

from flask import flash, redirect, render_template, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import backstop_offers, desk_actions, pool
from hashedge.web.api.backstop_schemas import nav_text
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import PoolDepositForm, PoolWithdrawalForm, apply_errors
from hashedge.web.desk.views._common import account_names, resolve, runtime


def _page(deposit: PoolDepositForm | None = None, withdrawal: PoolWithdrawalForm | None = None, status: int = 200):
    uow = runtime().uow
    view = pool.overview(uow())
    deposit = deposit or PoolDepositForm(prefix="pool-deposit")
    withdrawal = withdrawal or PoolWithdrawalForm(prefix="pool-withdrawal")
    return render_template("desk/backstop.html", pool=view, nav_per_share=nav_text(view.nav_per_share),
                           pnl=view.pnl_by_day(), queue=pool.withdrawal_queue(uow()),
                           offers=backstop_offers.list_offers(uow()),
                           history=[(p, nav_text(Fraction(p.nav_sats, p.shares_outstanding))
                                     if p.shares_outstanding else None) for p in view.history],
                           deposit=deposit.fresh_key(), withdrawal=withdrawal.fresh_key(),
                           names=account_names()), status


@bp.get("/backstop", endpoint="backstop")
def backstop_page():
    return _page()


@bp.post("/backstop/deposits", endpoint="pool_deposit")
@requires(Permission.DEPOSIT)
def pool_deposit():
    form = PoolDepositForm(prefix="pool-deposit")
    if not form.validate():
        return _page(deposit=form, status=400)
    try:
        account_id = resolve(form.account.data)
        movement = desk_actions.pool_deposit(runtime().session_factory, runtime().clock, actor(), account_id,
                                             form.amount_sats.data, form.idempotency_key.data)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="amount_sats")
        return _page(deposit=form, status=exc.http_status)
    again = " (already recorded: same form submitted twice)" if movement.replayed else ""
    flash(f"{movement.amount_sats:,} sats deposited into the pool for {movement.shares:,} shares{again}.", "success")
    return redirect(url_for("desk.backstop"))


@bp.post("/backstop/withdrawals", endpoint="pool_withdrawal")
@requires(Permission.WITHDRAW)
def pool_withdrawal():
    form = PoolWithdrawalForm(prefix="pool-withdrawal")
    if not form.validate():
        return _page(withdrawal=form, status=400)
    try:
        account_id = resolve(form.account.data)
        withdrawal, _replayed = desk_actions.pool_withdrawal(runtime().session_factory, runtime().clock, actor(),
                                                             account_id, form.shares.data, form.idempotency_key.data)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="shares")
        return _page(withdrawal=form, status=exc.http_status)
    flash(f"Withdrawal {withdrawal.id} of {withdrawal.shares:,} shares queued: it pays at the NAV of "
          f"{withdrawal.executes_at:%Y-%m-%d %H:%M} UTC.", "success")
    return redirect(url_for("desk.backstop"))

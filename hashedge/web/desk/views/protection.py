"""Protection: quote (the fair premium with its inputs), book (desk block, both sides named, within
the band around the fair premium; audited, and above the four-eyes notional a request a second
user approves: ``services.approvals``), contracts (accruals, payments, seller collateral, history) and
credit events (each citing its liquidation record)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from hashedge.domain.desk_access import Permission
from hashedge.errors import HashEdgeError
from hashedge.services import approvals, protection
from hashedge.web.desk import bp
from hashedge.web.desk.auth import actor, requires
from hashedge.web.desk.forms import ProtectionForm, ProtectionQuoteForm, apply_errors
from hashedge.web.desk.views._common import account_names, resolve, runtime
from hashedge.web.api.protection_schemas import quote_view


@bp.get("/protection/quote", endpoint="protection_quote")
def quote_page():
    form, quote, status = ProtectionQuoteForm(request.args), None, 200
    if request.args and form.validate():
        try:
            quote = quote_view(protection.quote_protection(
                runtime().uow(), runtime().clock, reference_account_id=resolve(form.reference.data),
                notional_sats=form.notional_sats.data, tenor=form.tenor.data))
        except HashEdgeError as exc:
            apply_errors(form, exc, default="reference")
            status = exc.http_status
    return render_template("desk/protection_quote.html", form=form, quote=quote, names=account_names()), status


def _book_page(form: ProtectionForm, status: int = 200):
    return render_template("desk/protection_new.html", form=form, names=account_names(),
                           params=approvals.desk_parameters()), status


@bp.get("/protection/new", endpoint="new_protection")
@requires(Permission.BLOCK_TRADE)
def new_protection():
    return _book_page(ProtectionForm())


@bp.post("/protection", endpoint="book_protection")
@requires(Permission.BLOCK_TRADE)
def book_protection():
    form = ProtectionForm()
    if not form.validate():
        return _book_page(form, 400)
    rt = runtime()
    try:
        seller = None if form.seller.data.strip() == "insurance_fund" else resolve(form.seller.data)
        submitted = approvals.submit_protection_booking(
            rt.session_factory, rt.clock, actor(), buyer_id=resolve(form.buyer.data), seller_id=seller,
            reference_id=resolve(form.reference.data), reference_instrument=form.reference_instrument.data or None,
            notional_sats=form.notional_sats.data, premium_bps=form.premium_bps.data.strip(),
            maturity=form.maturity.data, settlement=form.settlement.data, upfront_sats=form.upfront_sats.data or 0)
    except HashEdgeError as exc:
        apply_errors(form, exc, default="premium_bps")
        return _book_page(form, exc.http_status)
    if submitted.pending:
        flash(f"Protection above the four-eyes notional: request {submitted.request.id} waits for a second user's "
              "approval (the band and the seller's collateral are checked when it is approved).", "warning")
        return redirect(url_for("desk.approvals"))
    stored = submitted.contract
    c = stored.contract
    flash(f"Protection {c.contract_id} booked: {c.notional_sats:,} sats on account {c.reference_account_id} at "
          f"{c.premium_bps} bps to {c.maturity_date}; {stored.collateral_sats:,} sats of the seller's collateral "
          "in escrow.", "success")
    return redirect(url_for("desk.protection_contract", contract_id=c.contract_id))


@bp.get("/protection", endpoint="protection_contracts")
def contracts_page():
    status = request.args.get("status") or None
    contracts = protection.list_protection(runtime().uow(), status=status)
    return render_template("desk/protection.html", contracts=contracts, status=status)


@bp.get("/protection/credit-events", endpoint="protection_events")
def credit_events_page():
    contracts = protection.list_protection(runtime().uow(), status="triggered")
    views = [protection.show_protection(runtime().uow(), runtime().clock, c.id) for c in contracts]
    return render_template("desk/protection_events.html", views=views)


@bp.get("/protection/<contract_id>", endpoint="protection_contract")
def contract_page(contract_id: str):
    view = protection.show_protection(runtime().uow(), runtime().clock, contract_id)
    return render_template("desk/protection_show.html", view=view, c=view.stored.contract)

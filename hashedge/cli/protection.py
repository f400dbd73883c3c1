"""``hashedge protection quote|book|list|show``: default protection from the desk's terminal."""

from __future__ import annotations

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.services import accounts as account_services
from hashedge.services import protection
from hashedge.services.protection import TENORS


def contract_payload(stored, view=None) -> dict:
    c = stored.contract
    payload = {
        "id": c.contract_id, "buyer_account_id": c.buyer_account_id, "seller_account_id": c.seller_account_id,
        "reference_account_id": c.reference_account_id, "reference_instrument_id": c.reference_instrument_id,
        "notional_sats": c.notional_sats, "premium_bps": format(c.premium_bps, "f"), "upfront_sats": c.upfront_sats,
        "trade_date": c.trade_date.isoformat(), "effective_date": c.effective_date.isoformat(),
        "maturity_date": c.maturity_date.isoformat(), "settlement": c.settlement.value, "status": c.status.value,
        "collateral_sats": stored.collateral_sats, "premium_paid_sats": stored.premium_paid_sats,
        "premium_paid_through": stored.premium_paid_through.isoformat() if stored.premium_paid_through else None,
        "mark_sats": stored.mark_sats, "marked_on": stored.marked_on.isoformat() if stored.marked_on else None,
        "credit_event_liquidation_id": stored.credit_event_liquidation_id, "booked_via": stored.booked_via,
        "booked_at": stored.booked_at.isoformat(),
    }
    if view is not None:
        payload |= {"accrued_sats": view.accrued_sats, "unpaid_sats": view.unpaid_sats, "events": [
            {"kind": e.kind, "business_date": e.business_date.isoformat(), "occurred_at": e.occurred_at.isoformat(),
             "amount_sats": e.amount_sats, "entry_key": e.entry_key, "detail": e.detail} for e in view.events]}
    return payload


def _account(ctx: CliContext, reference: str) -> int:
    return account_services.resolve_account(ctx.runtime.uow(), reference).id


@cli.group("protection")
def protection_group() -> None:
    """Default protection (CDS-like): quotes, desk bookings, contracts (PROTECTION.md)."""


@protection_group.command("quote")
@click.option("--reference", required=True, metavar="ACCOUNT", help="the account protected against (id or name)")
@click.option("--notional", "notional_sats", required=True, type=int, help="protected notional, sats")
@click.option("--tenor", default="3M", show_default=True, type=click.Choice(TENORS))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def quote_command(ctx: CliContext, reference: str, notional_sats: int, tenor: str, as_json: bool) -> None:
    """The fair premium for protection on an account, with its inputs."""
    from hashedge.web.api.protection_schemas import QuoteSchema, quote_view

    quote = protection.quote_protection(ctx.runtime.uow(), ctx.runtime.clock,
                                        reference_account_id=_account(ctx, reference), notional_sats=notional_sats,
                                        tenor=tenor)
    payload = QuoteSchema().dump(quote_view(quote))
    if as_json:
        _echo_json(payload)
        return
    inputs = payload["inputs"]
    click.echo(f"protection on account {quote.reference_account_id}, {notional_sats:,} sats to {payload['maturity']}: "
               f"{payload['premium_bps']} bps a year (upfront {payload['upfront_sats']:,} sats at "
               f"{payload['standard_coupon_bps']} bps)")
    click.echo(f"  equity {inputs['equity_sats']:,} sats, exposure {inputs['exposure_sats']:,} sats, daily vol "
               f"{inputs['daily_vol']:.4%}, default probability {inputs['default_probability']:.3g} per "
               f"{inputs['window_days']} days, recovery {inputs['recovery']:.4f}")


@protection_group.command("book")
@click.option("--buyer", required=True, metavar="ACCOUNT")
@click.option("--seller", required=True, metavar="ACCOUNT", help="an account, or insurance_fund (last resort)")
@click.option("--reference", required=True, metavar="ACCOUNT",
              help="the account protected against; the buyer itself with --instrument for a position")
@click.option("--instrument", "reference_instrument", metavar="SYMBOL", help="protect the buyer's position in it")
@click.option("--notional", "notional_sats", required=True, type=int, help="protected notional, sats")
@click.option("--premium-bps", "premium_bps", required=True, help="running premium, bps a year")
@click.option("--maturity", type=click.DateTime(formats=["%Y-%m-%d"]), help="a CDS date (20 Mar/Jun/Sep/Dec)")
@click.option("--tenor", type=click.Choice(TENORS), help="instead of --maturity: the standard maturity")
@click.option("--settlement", required=True, type=click.Choice(["novation", "cash"]))
@click.option("--upfront", "upfront_sats", default=0, show_default=True, type=int,
              help="paid by the buyer at booking (negative: by the seller)")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def book_command(ctx: CliContext, buyer: str, seller: str, reference: str, reference_instrument: str | None,
                 notional_sats: int, premium_bps: str, maturity, tenor: str | None, settlement: str,
                 upfront_sats: int, as_json: bool) -> None:
    """Book protection between two named parties within the band around the fair premium."""
    if maturity is None and tenor is None:
        raise click.UsageError("give --maturity or --tenor")
    stored = protection.book_protection(
        ctx.runtime.uow(), ctx.runtime.clock, buyer_id=_account(ctx, buyer),
        seller_id=None if seller == "insurance_fund" else _account(ctx, seller),
        reference_id=_account(ctx, reference), reference_instrument=reference_instrument,
        notional_sats=notional_sats, premium_bps=premium_bps, maturity=maturity.date() if maturity else None,
        tenor=tenor, settlement=settlement, upfront_sats=upfront_sats)
    if as_json:
        _echo_json(contract_payload(stored))
        return
    c = stored.contract
    click.echo(f"booked {c.contract_id}: {c.buyer_account_id} buys {c.notional_sats:,} sats of protection on "
               f"{c.reference_account_id} from {c.seller_account_id} at {c.premium_bps} bps to {c.maturity_date} "
               f"({c.settlement.value}); collateral {stored.collateral_sats:,} sats in escrow")


@protection_group.command("list")
@click.option("--account", "reference", metavar="ACCOUNT", help="only contracts it bought or sold")
@click.option("--status", type=click.Choice(["active", "triggered", "matured"]))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def list_command(ctx: CliContext, reference: str | None, status: str | None, as_json: bool) -> None:
    """Protection contracts."""
    account_id = _account(ctx, reference) if reference else None
    found = protection.list_protection(ctx.runtime.uow(), account_id=account_id, status=status)
    if as_json:
        _echo_json([contract_payload(s) for s in found])
        return
    if not found:
        click.echo("no protection contracts")
    for s in found:
        c = s.contract
        click.echo(f"{c.contract_id:<16} {c.status.value:<9} buyer {c.buyer_account_id:<5} seller "
                   f"{c.seller_account_id:<14} on {c.reference_account_id:<5} {c.notional_sats:>14,} sats "
                   f"{c.premium_bps:>10} bps to {c.maturity_date} {c.settlement.value:<8} collateral "
                   f"{s.collateral_sats:>13,}")


@protection_group.command("show")
@click.argument("contract_id")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def show_command(ctx: CliContext, contract_id: str, as_json: bool) -> None:
    """One contract: terms, premium accrued and paid, seller collateral, history."""
    view = protection.show_protection(ctx.runtime.uow(), ctx.runtime.clock, contract_id)
    payload = contract_payload(view.stored, view)
    if as_json:
        _echo_json(payload)
        return
    for name in ("id", "status", "buyer_account_id", "seller_account_id", "reference_account_id", "notional_sats",
                 "premium_bps", "upfront_sats", "effective_date", "maturity_date", "settlement", "collateral_sats",
                 "accrued_sats", "premium_paid_sats", "mark_sats", "credit_event_liquidation_id"):
        click.echo(f"{name:<28} {payload[name]}")
    for e in payload["events"]:
        click.echo(f"  {e['business_date']} {e['kind']:<13} {e['amount_sats']:>14,} sats  {e['entry_key'] or ''}")

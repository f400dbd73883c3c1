"""``hashedge pool deposit|withdraw|show|queue`` and ``hashedge backstop offer|list|cancel``:
backstop liquidity from the command line (BACKSTOP.md)."""

from __future__ import annotations

import uuid

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.services import accounts as account_services
from hashedge.services import backstop_offers, pool
from hashedge.web.api.backstop_schemas import nav_text, pool_view


def _movement_payload(movement) -> dict:
    return {"account_id": movement.account_id, "kind": movement.kind, "shares": movement.shares,
            "amount_sats": movement.amount_sats, "nav_sats": movement.nav_sats,
            "shares_outstanding": movement.shares_outstanding, "occurred_at": movement.occurred_at.isoformat(),
            "idempotency_key": movement.idempotency_key, "replayed": movement.replayed}


def _withdrawal_payload(w) -> dict:
    return {"id": w.id, "account_id": w.account_id, "shares": w.shares, "status": w.status,
            "requested_at": w.requested_at.isoformat(), "executes_at": w.executes_at.isoformat(),
            "executed_at": w.executed_at.isoformat() if w.executed_at else None, "amount_sats": w.amount_sats,
            "idempotency_key": w.idempotency_key}


@cli.group("pool")
def pool_group() -> None:
    """The backstop pool: LP deposits and delayed withdrawals, NAV and queue."""


@pool_group.command("deposit")
@click.argument("reference", metavar="ACCOUNT")
@click.argument("amount_sats", metavar="SATS", type=int)
@click.option("--idempotency-key", "idempotency_key", help="retry-safe key (default: a new one per invocation)")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def deposit(ctx: CliContext, reference: str, amount_sats: int, idempotency_key: str | None, as_json: bool) -> None:
    """Move SATS of ACCOUNT's free collateral into the pool for shares at the NAV (rounded down)."""
    runtime = ctx.runtime
    account = account_services.resolve_account(runtime.uow(), reference)
    movement = pool.deposit(runtime.uow(), runtime.clock, account.id, amount_sats,
                            idempotency_key or f"cli-{uuid.uuid4().hex}")
    if as_json:
        _echo_json(_movement_payload(movement))
        return
    click.echo(f"account {account.id} deposited {movement.amount_sats:,} sats for {movement.shares:,} shares"
               + (" (replayed)" if movement.replayed else ""))


@pool_group.command("withdraw")
@click.argument("reference", metavar="ACCOUNT")
@click.argument("shares", metavar="SHARES", type=int)
@click.option("--idempotency-key", "idempotency_key", help="retry-safe key (default: a new one per invocation)")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def withdraw(ctx: CliContext, reference: str, shares: int, idempotency_key: str | None, as_json: bool) -> None:
    """Queue SHARES of ACCOUNT for withdrawal; they pay at the NAV when the delay has passed."""
    runtime = ctx.runtime
    account = account_services.resolve_account(runtime.uow(), reference)
    withdrawal, replayed = pool.request_withdrawal(runtime.uow(), runtime.clock, account.id, shares,
                                                   idempotency_key or f"cli-{uuid.uuid4().hex}")
    if as_json:
        _echo_json(_withdrawal_payload(withdrawal) | {"replayed": replayed})
        return
    click.echo(f"withdrawal {withdrawal.id}: {withdrawal.shares:,} shares of account {account.id} queued, "
               f"executes at {withdrawal.executes_at:%Y-%m-%d %H:%M:%S}Z at that day's NAV")


@pool_group.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def show(ctx: CliContext, as_json: bool) -> None:
    """NAV, NAV per share, shares outstanding, positions and exposure."""
    view = pool.overview(ctx.runtime.uow())
    payload = pool_view(view)
    if as_json:
        _echo_json(payload | {"positions": [{"instrument": p.instrument_id, "quantity": p.quantity,
                                             "mark": str(p.mark), "notional_sats": p.notional_sats,
                                             "unrealized_pnl_sats": p.unrealized_pnl_sats} for p in view.positions],
                              "nav_history": [p | {"business_date": p["business_date"].isoformat()}
                                              for p in payload["nav_history"]],
                              "pnl_by_day": [p | {"business_date": p["business_date"].isoformat()}
                                             for p in payload["pnl_by_day"]]})
        return
    click.echo(f"NAV {view.nav_sats:,} sats, {view.shares_outstanding:,} shares outstanding, "
               f"{nav_text(view.nav_per_share) or '-'} sats per share")
    click.echo(f"collateral {view.collateral_sats:,} sats, exposure {view.exposure_sats:,} sats, penalties earned "
               f"{view.penalties_earned_sats:,} sats, shortfalls covered {view.shortfalls_covered_sats:,} sats")
    for p in view.positions:
        click.echo(f"  {p.instrument_id:<12} {p.quantity:>8} at mark {p.mark} notional {p.notional_sats:,} "
                   f"unrealized {p.unrealized_pnl_sats:,}")


@pool_group.command("queue")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def queue(ctx: CliContext, as_json: bool) -> None:
    """Queued withdrawals, oldest first."""
    queued = pool.withdrawal_queue(ctx.runtime.uow())
    if as_json:
        _echo_json([_withdrawal_payload(w) for w in queued])
        return
    if not queued:
        click.echo("no queued withdrawals")
    for w in queued:
        click.echo(f"{w.id:<6} account {w.account_id:<6} {w.shares:>16,} shares  executes "
                   f"{w.executes_at:%Y-%m-%d %H:%M:%S}Z")


def _offer_payload(o) -> dict:
    return {"id": o.id, "account_id": o.account_id, "instrument": o.instrument, "side": o.side,
            "max_quantity": o.max_quantity, "filled_quantity": o.filled_quantity,
            "max_discount_bps": o.max_discount_bps, "status": o.status, "created_at": o.created_at.isoformat(),
            "cancelled_at": o.cancelled_at.isoformat() if o.cancelled_at else None}


def _offer_line(o) -> str:
    return (f"{o.id:<6} account {o.account_id:<6} {o.side:<4} {o.instrument:<12} {o.filled_quantity}/{o.max_quantity} "
            f"at mark {'-' if o.side == 'buy' else '+'}{o.max_discount_bps} bps  {o.status}")


@cli.group("backstop")
def backstop_group() -> None:
    """Standing backstop offers: take over liquidated positions at a discount to the mark."""


@backstop_group.command("offer")
@click.argument("reference", metavar="ACCOUNT")
@click.argument("instrument")
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("max_quantity", metavar="MAX_QUANTITY", type=int)
@click.argument("max_discount_bps", metavar="MAX_DISCOUNT_BPS", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def offer(ctx: CliContext, reference: str, instrument: str, side: str, max_quantity: int, max_discount_bps: int,
          as_json: bool) -> None:
    """Post ACCOUNT's offer to take over up to MAX_QUANTITY contracts of INSTRUMENT on SIDE (buy
    takes over longs) at no worse than the mark less MAX_DISCOUNT_BPS."""
    runtime = ctx.runtime
    account = account_services.resolve_account(runtime.uow(), reference)
    posted = backstop_offers.post_offer(runtime.uow(), runtime.clock, account.id, instrument=instrument, side=side,
                                        max_quantity=max_quantity, max_discount_bps=max_discount_bps)
    if as_json:
        _echo_json(_offer_payload(posted))
        return
    click.echo(f"offer {posted.id} posted: " + _offer_line(posted))


@backstop_group.command("list")
@click.option("--account", "reference", metavar="ACCOUNT", help="this account's offers (all states)")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def list_command(ctx: CliContext, reference: str | None, as_json: bool) -> None:
    """Active offers (or every offer of --account), oldest first."""
    runtime = ctx.runtime
    account_id = account_services.resolve_account(runtime.uow(), reference).id if reference else None
    offers = backstop_offers.list_offers(runtime.uow(), account_id)
    if as_json:
        _echo_json([_offer_payload(o) for o in offers])
        return
    if not offers:
        click.echo("no backstop offers")
    for o in offers:
        click.echo(_offer_line(o))


@backstop_group.command("cancel")
@click.argument("offer_id", metavar="OFFER_ID", type=int)
@pass_cli
def cancel(ctx: CliContext, offer_id: int) -> None:
    """Cancel an offer."""
    cancelled = backstop_offers.cancel_offer(ctx.runtime.uow(), ctx.runtime.clock, offer_id)
    click.echo(f"offer {cancelled.id} {cancelled.status}")

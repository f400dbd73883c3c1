"""``hashedge account ...``, ``deposit``, ``withdraw`` and ``ledger check``: the desk's view of
participants' money. ACCOUNT is an account id or name."""

from __future__ import annotations

import uuid

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.services import accounts as account_services
from hashedge.services import ledger as ledger_services
from hashedge.services import margin_calls
from hashedge.services.pages import MAX_PAGE_SIZE


@cli.group()
def account() -> None:
    """Participants and their API keys."""


@account.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help='print {"id", "name", "api_key"}')
@pass_cli
def create(ctx: CliContext, name: str, as_json: bool) -> None:
    """Create an account with an empty collateral balance and one API key (shown only now)."""
    runtime = ctx.runtime
    created, api_key = account_services.create_account(runtime.uow(), runtime.clock, name)
    if as_json:
        _echo_json({"id": created.id, "name": created.name, "api_key": api_key})
        return
    click.echo(f"account {created.id} ({created.name}) created")
    click.echo(f"API key, shown this once (only its hash is kept): {api_key}")


def _summary_payload(summary: account_services.AccountSummary) -> dict:
    """The same shape as ``GET /api/v1/account``."""
    return {
        "id": summary.id, "name": summary.name, "balances": summary.balances,
        "equity_sats": summary.equity_sats, "unrealized_pnl_sats": summary.unrealized_pnl_sats,
        "initial_margin_sats": summary.initial_margin_sats,
        "maintenance_margin_sats": summary.maintenance_margin_sats,
        "free_collateral_sats": summary.free_collateral_sats, "status": summary.status,
    }


@account.command("show")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def show(ctx: CliContext, reference: str, as_json: bool) -> None:
    """Balances, equity, margin and status of an account."""
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    summary = account_services.account_summary(runtime.uow(), found.id)
    if as_json:
        _echo_json(_summary_payload(summary))
        return
    click.echo(f"account {summary.id} ({summary.name}): {summary.status}")
    for label, amount in (("collateral", summary.collateral_sats), ("equity", summary.equity_sats),
                          ("initial margin", summary.initial_margin_sats),
                          ("maintenance margin", summary.maintenance_margin_sats),
                          ("free collateral", summary.free_collateral_sats)):
        click.echo(f"  {label:<19}{amount:>22,} sats")


@account.group("keys")
def keys() -> None:
    """An account's API keys: list them, issue another, revoke (rotation: create, switch, revoke)."""


@keys.command("list")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--json", "as_json", is_flag=True, help='print [{"prefix", "created_at", "revoked_at"}]')
@pass_cli
def keys_list(ctx: CliContext, reference: str, as_json: bool) -> None:
    """The account's keys by prefix (the secret part is never stored), newest first."""
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    lines = account_services.list_api_keys(runtime.uow(), found.id)
    if as_json:
        _echo_json([{"prefix": k.prefix, "created_at": k.created_at.isoformat(),
                     "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None} for k in lines])
        return
    if not lines:
        click.echo(f"account {found.id} ({found.name}) has no API keys")
    for k in lines:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S}Z" if k.revoked_at else "active"
        click.echo(f"{k.prefix}  created {k.created_at:%Y-%m-%d %H:%M:%S}Z  {state}")


@keys.command("create")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--json", "as_json", is_flag=True, help='print {"id", "name", "api_key"}')
@pass_cli
def keys_create(ctx: CliContext, reference: str, as_json: bool) -> None:
    """Issue another key for the account (shown only now); older keys stay valid until revoked."""
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    api_key = account_services.issue_api_key(runtime.uow(), runtime.clock, found.id)
    if as_json:
        _echo_json({"id": found.id, "name": found.name, "api_key": api_key})
        return
    click.echo(f"API key for account {found.id} ({found.name}), shown this once (only its hash is kept): {api_key}")


@keys.command("revoke")
@click.argument("reference", metavar="ACCOUNT")
@click.argument("prefix", metavar="[KEY_PREFIX]", required=False)
@click.option("--all", "revoke_all", is_flag=True, help="revoke every active key of the account")
@pass_cli
def keys_revoke(ctx: CliContext, reference: str, prefix: str | None, revoke_all: bool) -> None:
    """Revoke one key (by the 12-character prefix `keys list` shows) or, with --all, every key."""
    if (prefix is None) == (not revoke_all):
        raise click.UsageError("give a KEY_PREFIX or --all (not both)")
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    if revoke_all:
        revoked = account_services.revoke_all_api_keys(runtime.uow(), runtime.clock, found.id)
        click.echo(f"revoked {len(revoked)} key{'s' if len(revoked) != 1 else ''} of account {found.id} "
                   f"({found.name})" + (f": {', '.join(revoked)}" if revoked else ""))
        return
    account_services.revoke_api_key(runtime.uow(), runtime.clock, prefix.strip(), account_id=found.id)
    click.echo(f"revoked key {prefix.strip()} of account {found.id} ({found.name})")


def _event_payload(stored) -> dict:
    """The same shape as ``GET /api/v1/account/events``."""
    event = stored.event
    return {"id": stored.id, "kind": event.kind.value, "occurred_at": event.occurred_at.isoformat(),
            "equity_sats": event.standing.equity_sats, "initial_margin_sats": event.standing.initial_margin_sats,
            "maintenance_margin_sats": event.standing.maintenance_margin_sats,
            "liquidation_id": event.liquidation_id, "detail": dict(event.detail)}


@account.command("events")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_PAGE_SIZE),
              help="the newest LIMIT events")
@click.option("--json", "as_json", is_flag=True, help="the same objects as GET /api/v1/account/events' items")
@pass_cli
def events(ctx: CliContext, reference: str, limit: int, as_json: bool) -> None:
    """Margin calls, liquidations and auto-deleveraging of an account, newest first."""
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    stored = margin_calls.account_event_page(runtime.uow(), found.id, page_size=limit).items
    if as_json:
        _echo_json([_event_payload(s) for s in stored])
        return
    if not stored:
        click.echo(f"account {found.id} ({found.name}): no events")
    for s in stored:
        event = s.event
        link = f" {event.liquidation_id}" if event.liquidation_id else ""
        click.echo(f"{event.occurred_at:%Y-%m-%d %H:%M:%S}Z {event.kind.value:<13} equity "
                   f"{event.standing.equity_sats:>16,} IM {event.standing.initial_margin_sats:>14,} "
                   f"MM {event.standing.maintenance_margin_sats:>14,} sats{link}")


def _movement_options(command):
    command = click.option("--memo", default="", help="kept with the journal entry (e.g. a txid)")(command)
    return click.option("--idempotency-key", "idempotency_key",
                        help="retry-safe key (default: a new one per invocation)")(command)


def _report(verb: str, preposition: str, movement, runtime, account_name: str) -> None:
    balance = account_services.account_summary(runtime.uow(), movement.account_id).collateral_sats
    again = " (already done with this idempotency key)" if movement.replayed else ""
    click.echo(f"{verb} {movement.amount_sats} sats {preposition} account {movement.account_id} "
               f"({account_name}){again}: entry {movement.entry_id}; collateral now {balance} sats")


@cli.command()
@click.argument("reference", metavar="ACCOUNT")
@click.argument("amount_sats", metavar="SATS", type=int)
@_movement_options
@pass_cli
def deposit(ctx: CliContext, reference: str, amount_sats: int, idempotency_key: str | None, memo: str) -> None:
    """Credit SATS received in custody to ACCOUNT's collateral."""
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    movement = ledger_services.deposit(runtime.uow(), runtime.clock, found.id, amount_sats,
                                       idempotency_key or f"cli-{uuid.uuid4().hex}", memo=memo)
    _report("deposited", "to", movement, runtime, found.name)


@cli.command()
@click.argument("reference", metavar="ACCOUNT")
@click.argument("amount_sats", metavar="SATS", type=int)
@_movement_options
@pass_cli
def withdraw(ctx: CliContext, reference: str, amount_sats: int, idempotency_key: str | None, memo: str) -> None:
    """Pay SATS of ACCOUNT's collateral out; refused below initial margin."""
    runtime = ctx.runtime
    found = account_services.resolve_account(runtime.uow(), reference)
    movement = ledger_services.withdraw(runtime.uow(), runtime.clock, found.id, amount_sats,
                                        idempotency_key or f"cli-{uuid.uuid4().hex}", memo=memo)
    _report("withdrew", "from", movement, runtime, found.name)


@cli.group("ledger")
def ledger_group() -> None:
    """The journal."""


@ledger_group.command("check")
@pass_cli
def check(ctx: CliContext) -> None:
    """Recompute every balance from the journal and verify every entry against the journal's
    hash chain; exit 1 on any difference or any entry the chain does not vouch for."""
    report = ledger_services.check_balances(ctx.runtime.uow())
    for key, (stored, derived) in sorted(report.differences.items()):
        click.echo(f"MISMATCH {key}: stored {stored} sats, journal {derived} sats", err=True)
    for entry_id, total in sorted(report.unbalanced_entries.items()):
        click.echo(f"UNBALANCED entry {entry_id}: postings sum to {total} sats", err=True)
    for fault in report.chain_faults:
        click.echo(f"TAMPERED {fault.message}", err=True)
    if report.chain_faults:
        raise click.ClickException(f"journal fails its hash chain ({len(report.chain_faults)} problems)")
    if not report.ok:
        raise click.ClickException(f"ledger out of balance (all balances sum to {report.total_sats} sats)")
    click.echo(f"ledger balances: {report.accounts_checked} accounts agree with the journal; total 0 sats")
    head = report.chain_head
    click.echo("journal hash chain: empty" if head is None else
               f"journal hash chain: {head.seq} entries verified; head {head.chain_sha256}")

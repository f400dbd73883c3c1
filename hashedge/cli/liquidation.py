"""``hashedge liquidate --sweep``, ``liquidations list|show|replay``, ``penalties distribute`` and
``insurance show|contribute``: the liquidation engine by hand, its records and its funds."""

from __future__ import annotations

import uuid

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.domain.parameters import TEXT_PARAMETERS
from hashedge.services import accounts as account_services
from hashedge.services import insurance, liquidation, liquidation_records, pages, penalties


def record_payload(record, *, full: bool = False) -> dict:
    """A record as JSON (the API's shape; ``full`` adds the stored inputs and outcome)."""
    outcome = record.outcome
    payload = {
        "id": record.id, "account_id": record.account_id, "occurred_at": record.occurred_at.isoformat(),
        "business_date": record.business_date.isoformat(), "notional_closed_sats": record.notional_closed_sats,
        "penalty_sats": record.penalty_sats, "shortfall_sats": record.shortfall_sats,
        "insurance_fund_sats": record.insurance_fund_sats, "adl_contracts": record.adl_contracts,
        "uncovered_sats": record.uncovered_sats, "parameters_version": record.parameters_version_id,
        "trigger": outcome["trigger"], "after": outcome["after"],
        "covers": outcome["covers"],
    }
    if full:
        payload |= {"inputs": record.inputs, "outcome": outcome}
    return payload


@cli.group("liquidations")
def liquidations_group() -> None:
    """Liquidation records: every step, price and amount, replayable."""


@liquidations_group.command("list")
@click.option("--account", "reference", metavar="ACCOUNT", help="only this account's (id or name)")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, pages.MAX_PAGE_SIZE),
              help="the newest LIMIT liquidations")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def list_command(ctx: CliContext, reference: str | None, limit: int, as_json: bool) -> None:
    """Liquidations, newest first."""
    runtime = ctx.runtime
    account_id = account_services.resolve_account(runtime.uow(), reference).id if reference else None
    records = liquidation_records.liquidation_page(runtime.uow(), account_id=account_id, page_size=limit).items
    if as_json:
        _echo_json([record_payload(r) for r in records])
        return
    if not records:
        click.echo("no liquidations")
    for r in records:
        click.echo(f"{r.id:<14} account {r.account_id:<6} {r.occurred_at:%Y-%m-%d %H:%M:%S}Z closed "
                   f"{r.notional_closed_sats:>14,} penalty {r.penalty_sats:>11,} shortfall {r.shortfall_sats:>11,} "
                   f"insurance {r.insurance_fund_sats:>11,} uncovered {r.uncovered_sats:>9,} sats")


@liquidations_group.command("show")
@click.argument("liquidation_id")
@click.option("--json", "as_json", is_flag=True, help="the record with its stored inputs and outcome")
@pass_cli
def show(ctx: CliContext, liquidation_id: str, as_json: bool) -> None:
    """One liquidation: trigger, orders cancelled, each step and fill, penalty, shortfall and its cover."""
    record = liquidation_records.get_liquidation(ctx.runtime.uow(), liquidation_id)
    if as_json:
        _echo_json(record_payload(record, full=True))
        return
    outcome = record.outcome
    trigger = outcome["trigger"]
    click.echo(f"liquidation {record.id} of account {record.account_id} at {record.occurred_at:%Y-%m-%d %H:%M:%S}Z")
    click.echo(f"  trigger: equity {trigger['equity_sats']:,} sats below maintenance "
               f"{trigger['maintenance_margin_sats']:,}; target {outcome['target_sats']:,}")
    click.echo(f"  orders cancelled: {len(outcome['cancelled_orders'])}")
    for step in outcome["steps"]:
        click.echo(f"  step {step['number']}: {step['side']} {step['quantity']} {step['instrument_id']}, "
                   f"closed {step['closed']} (equity {step['equity_sats']:,}, target {step['target_sats']:,})")
        for fill in (f for f in outcome["fills"] if f["step"] == step["number"]):
            click.echo(f"    {fill['stage']:<8} {fill['quantity']} at {fill['price']} with account "
                       f"{fill['counterparty']}  ({fill['fill_id']})")
    click.echo(f"  penalty {outcome['penalty_sats']:,} sats; shortfall {outcome['shortfall_sats']:,} sats covered by "
               + ", ".join(f"{c['stage']} {c['amount_sats']:,}" for c in outcome["covers"])
               + f"; uncovered {outcome['uncovered_sats']:,}")
    after = outcome["after"]
    click.echo(f"  after: equity {after['equity_sats']:,}, maintenance {after['maintenance_margin_sats']:,} "
               f"({after['status']})")


@liquidations_group.command("replay")
@click.argument("liquidation_id")
@pass_cli
def replay(ctx: CliContext, liquidation_id: str) -> None:
    """Recompute a liquidation from its recorded inputs; exit 1 on any difference."""
    result = liquidation_records.replay(ctx.runtime.uow(), liquidation_id)
    for line in result.differences:
        click.echo(f"DIFFERS {line}", err=True)
    if not result.ok:
        raise click.ClickException(f"liquidation {result.liquidation_id} does not replay: "
                                   f"{len(result.differences)} differences")
    click.echo(f"liquidation {result.liquidation_id} replays exactly from its recorded inputs")


@cli.group("penalties")
def penalties_group() -> None:
    """Liquidation penalties held in escrow and their nightly split."""


@penalties_group.command("distribute")
@click.option("--date", "business_date", required=True, metavar="YYYY-MM-DD", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def distribute(ctx: CliContext, business_date, as_json: bool) -> None:
    """Share out a closed date's penalties (the nightly settlement's step, by hand; runs once per date)."""
    runtime = ctx.runtime
    result = penalties.distribute_penalties(runtime.uow(), runtime.clock, business_date.date())
    if as_json:
        _echo_json(result.as_dict())
        return
    day = result.business_date
    if result.already_done:
        click.echo(f"penalties of {day} were already distributed ({result.total_sats:,} sats); nothing changed")
        return
    if not result.total_sats:
        click.echo(f"no penalties to distribute for {day}")
        return
    click.echo(f"distributed {result.total_sats:,} sats of penalties of {day} from {len(result.liquidations)} "
               f"liquidations: {len(result.recipients_sats)} accounts {sum(result.recipients_sats.values()):,}, "
               f"insurance fund {result.insurance_fund_sats:,} (remainder {result.remainder_sats:,}), "
               f"community fund {result.community_fund_sats:,}")


@cli.command("liquidate")
@click.option("--sweep", "run_sweep", is_flag=True, required=True,
              help="the liquidation sweep: every account below maintenance, worst first")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def liquidate_command(ctx: CliContext, run_sweep: bool, as_json: bool) -> None:
    """Run the liquidation sweep now (the scheduler runs it every minute and after every re-marking
    and daily settlement)."""
    runtime = ctx.runtime
    report = liquidation.sweep(runtime.uow, runtime.clock)
    summary = report.as_dict()
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"liquidation sweep: {summary['liquidations']} liquidations "
               f"({', '.join(summary['liquidation_ids']) or 'none'}), penalties {summary['penalties_sats']:,} sats, "
               f"insurance fund paid {summary['insurance_fund_sats']:,}, {summary['adl_events']} ADL events, "
               f"uncovered {summary['uncovered_loss_sats']:,}; {summary['margin_calls']} new margin calls")
    if summary["left_liquidatable"]:
        click.echo(f"still below maintenance with nothing left to act on: accounts {summary['left_liquidatable']}")


@cli.group("insurance")
def insurance_group() -> None:
    """The insurance fund."""


@insurance_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="the same object as GET /api/v1/insurance-fund (last page)")
@click.option("--lines", default=20, show_default=True, type=click.IntRange(1, 1000), help="history lines")
@pass_cli
def insurance_show(ctx: CliContext, as_json: bool, lines: int) -> None:
    """Balance, totals and the latest history of the insurance fund."""
    runtime = ctx.runtime
    first = insurance.insurance_fund(runtime.uow(), page=1, page_size=lines)
    last_page = max(1, -(-first.total // lines))
    fund = first if last_page == 1 else insurance.insurance_fund(runtime.uow(), page=last_page, page_size=lines)
    if as_json:
        _echo_json({"balance_sats": fund.balance_sats, "contributions_sats": fund.contributions_sats,
                    "penalty_shares_sats": fund.penalty_shares_sats,
                    "shortfalls_covered_sats": fund.shortfalls_covered_sats, "total": fund.total, "page": fund.page,
                    "page_size": fund.page_size,
                    "items": [{"entry_id": line.entry_id, "kind": line.kind, "memo": line.memo,
                               "occurred_at": line.occurred_at.isoformat(), "amount_sats": line.amount_sats,
                               "balance_after_sats": line.balance_after_sats} for line in fund.lines]})
        return
    click.echo(f"insurance fund: {fund.balance_sats:,} sats (contributions {fund.contributions_sats:,}, penalty "
               f"shares {fund.penalty_shares_sats:,}, shortfalls covered {fund.shortfalls_covered_sats:,})")
    for line in fund.lines:
        click.echo(f"  {line.occurred_at:%Y-%m-%d %H:%M}Z {line.kind:<20} {line.amount_sats:>+15,} "
                   f"{line.balance_after_sats:>15,}  {line.memo}")


@insurance_group.command("contribute")
@click.argument("amount_sats", metavar="SATS", type=int)
@click.option("--memo", default="", help="kept with the journal entry (e.g. a txid)")
@click.option("--idempotency-key", "idempotency_key", help="retry-safe key (default: a new one per invocation)")
@pass_cli
def insurance_contribute(ctx: CliContext, amount_sats: int, memo: str, idempotency_key: str | None) -> None:
    """Credit SATS of the platform's own bitcoin, received in custody, to the insurance fund."""
    runtime = ctx.runtime
    posted = insurance.contribute(runtime.uow(), runtime.clock, amount_sats,
                                  idempotency_key or f"cli-{uuid.uuid4().hex}", memo=memo)
    again = " (already done with this idempotency key)" if posted.replayed else ""
    balance = insurance.insurance_fund(runtime.uow(), page_size=1).balance_sats
    click.echo(f"contributed {amount_sats:,} sats to the insurance fund{again}: entry {posted.recorded.id}; "
               f"balance now {balance:,} sats")


@cli.group("simulate")
def simulate_group() -> None:
    """Simulations through the real services."""


@simulate_group.command("stress")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--accounts", "accounts_count", default=60, show_default=True, type=click.IntRange(10, 5000))
@click.option("--epochs", "epochs_file", type=click.Path(exists=True, dir_okay=False),
              help="epoch history CSV (default: the shared data folder's)")
@click.option("--set", "changes", multiple=True, metavar="NAME=VALUE",
              help="a governed parameter changed for this run only, e.g. liquidation.penalty_ratio=0.02")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def stress(ctx: CliContext, seed: int, accounts_count: int, epochs_file: str | None, changes: tuple[str, ...],
           as_json: bool) -> None:
    """A seeded population of makers, hedging miners and leveraged traders through the real services,
    over the historical paths of the 2020 halving, the 2021 mining ban and the 2024 halving."""
    from decimal import Decimal, InvalidOperation

    from hashedge.errors import InvalidInput
    from hashedge.services.demo import default_epoch_file
    from hashedge.services.margin import parameters_in_force, risk_parameters
    from hashedge.services.stress import run_stress
    from pricing.history import load_epoch_history

    runtime = ctx.runtime
    path = epochs_file or default_epoch_file(runtime)
    if path is None:
        raise InvalidInput("no epoch history: pass --epochs FILE or set HASHEDGE_SHARED_DATA")
    values = {}
    for change in changes:
        name, _, value = change.partition("=")
        try:
            values[name] = value if name in TEXT_PARAMETERS else Decimal(value)
        except InvalidOperation:
            raise InvalidInput(f"--set {change}: not a number", fields={"set": [change]}) from None
    try:
        params = risk_parameters(runtime.uow()).with_changes(values)
    except ValueError as exc:
        raise InvalidInput(f"--set: {exc}", fields={"set": [str(exc)]}) from None
    with parameters_in_force(params):
        report = run_stress(runtime.uow, runtime.clock, load_epoch_history(path), seed=seed,
                            accounts_count=accounts_count)
    summary = report.as_dict()
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"stress seed {seed}, {accounts_count} accounts on {', '.join(report.instruments)} "
               f"in {summary['duration_seconds']} s")
    for scenario in report.scenarios:
        click.echo(f"  {scenario['name']:<18} hashprice {scenario['hashprice_change']:+.1%} difficulty "
                   f"{scenario['difficulty_change']:+.1%}: {scenario['liquidations']} liquidations, penalties "
                   f"{scenario['penalties_sats']:,}, insurance fund paid {scenario['insurance_fund_drawdown_sats']:,}, "
                   f"{scenario['adl_events']} ADL events, uncovered {scenario['uncovered_loss_sats']:,} sats; "
                   f"{scenario['backstop_fills']} backstop fills, {scenario['pool_takeovers']} pool takeovers, pool "
                   f"paid {scenario['pool_cover_sats']:,} sats; "
                   f"{scenario['protection_contracts']} protection contracts, {scenario['credit_events']} credit "
                   f"events, protection paid {scenario['protection_cover_sats']:,} sats")
    click.echo(f"  insurance fund {report.insurance_fund_start_sats:,} -> {report.insurance_fund_end_sats:,} sats; "
               f"backstop pool NAV per share {report.pool_nav_per_share_start} -> {report.pool_nav_per_share_end}; "
               f"journal balanced: {report.journal_balanced}")

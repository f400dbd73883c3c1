"""``hashedge governance parameters|propose|vote|show|list|ragequit|execute``: the parameter
registry and proposals from the command line. Each parses, calls one service, and prints."""

from __future__ import annotations

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.errors import InvalidInput
from hashedge.services import accounts as account_services
from hashedge.services import fee_distribution, governance


def _text(value) -> str | None:
    return None if value is None else (value if isinstance(value, str) else format(value, "f"))


def _when(moment) -> str:
    return moment.isoformat() if moment is not None else None


def version_payload(version) -> dict:
    return {"id": version.id, "effective_at": _when(version.effective_at), "source": version.source,
            "actor": version.actor, "proposal_id": version.proposal_id, "reason": version.reason,
            "changes": {name: {"from": old, "to": new} for name, (old, new) in version.changes.items()}}


def proposal_payload(p) -> dict:
    return {"id": p.id, "proposer_account_id": p.proposer_account_id, "rationale": p.rationale,
            "changes": p.changes, "status": p.status, "yes_weight": p.yes_weight, "no_weight": p.no_weight,
            "snapshot_shares": p.snapshot_shares, "snapshot_at": _when(p.snapshot_at), "quorum": p.quorum_ratio,
            "support": p.support_ratio, "quorum_reached": p.quorum_reached, "support_reached": p.support_reached,
            "voting_ends_at": _when(p.voting_ends_at), "executes_at": _when(p.executes_at),
            "expires_at": _when(p.expires_at), "executed_version": p.executed_version_id,
            "refused_reason": p.refused_reason,
            "votes": [{"account_id": v.account_id, "choice": v.choice, "weight": v.weight,
                       "cast_at": _when(v.cast_at)} for v in p.votes],
            "ragequits": [{"account_id": q.account_id, "shares": q.shares, "amount_sats": q.amount_sats,
                           "at": _when(q.at)} for q in p.ragequits]}


def parse_sets(sets: tuple[str, ...]) -> dict[str, str]:
    changes = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--set {item}: expected NAME=VALUE", fields={"set": [item]})
        changes[name.strip()] = value.strip()
    return changes


def _summary_line(p) -> str:
    changes = ", ".join(f"{name} {c['from']} -> {c['to']}" for name, c in p.changes.items())
    return (f"#{p.id:<4} {p.status:<10} yes {p.yes_weight:,} no {p.no_weight:,} of {p.snapshot_shares:,} shares; "
            f"{changes}")


@cli.group("governance")
def governance_group() -> None:
    """Governed risk parameters: the registry, proposals, votes by pool shares, ragequit."""


@governance_group.command("parameters")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def parameters(ctx: CliContext, as_json: bool) -> None:
    """Every governed parameter in force (value, bounds, unit, description) and the versions."""
    found = governance.registry(ctx.runtime.uow())
    items = [{"name": p.name, "value": _text(p.value), "default": _text(p.default), "low": _text(p.low),
              "high": _text(p.high), "unit": p.unit, "description": p.description} for p in found.parameters]
    if as_json:
        _echo_json({"version": version_payload(found.version), "parameters": items,
                    "history": [version_payload(v) for v in found.history]})
        return
    v = found.version
    click.echo(f"version {v.id} in force since {v.effective_at:%Y-%m-%d %H:%M:%S}Z ({v.source}, {v.actor})")
    for item in items:
        bounds = f"[{item['low']}, {item['high']}]" if item["low"] is not None else ""
        click.echo(f"  {item['name']:<42} {item['value']:>14} {item['unit']:<7} {bounds:<22} {item['description']}")


@governance_group.command("propose")
@click.argument("reference", metavar="ACCOUNT")
@click.option("--set", "sets", multiple=True, required=True, metavar="NAME=VALUE", help="a change; repeat for more")
@click.option("--rationale", required=True, help="why: shown to every voter")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def propose(ctx: CliContext, reference: str, sets: tuple[str, ...], rationale: str, as_json: bool) -> None:
    """Propose parameter changes as ACCOUNT (a pool member above the proposal threshold)."""
    runtime = ctx.runtime
    account = account_services.resolve_account(runtime.uow(), reference)
    created = governance.propose(runtime.uow(), runtime.clock, governance.pool_shares(runtime), account.id,
                                 parse_sets(sets), rationale)
    if as_json:
        _echo_json(proposal_payload(created))
        return
    click.echo(f"proposal {created.id} open for votes until {created.voting_ends_at:%Y-%m-%d %H:%M:%S}Z "
               f"({created.snapshot_shares:,} shares at the snapshot)")


@governance_group.command("vote")
@click.argument("reference", metavar="ACCOUNT")
@click.argument("proposal_id", metavar="ID", type=int)
@click.argument("choice", type=click.Choice(["yes", "no"]))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def vote(ctx: CliContext, reference: str, proposal_id: int, choice: str, as_json: bool) -> None:
    """Vote yes or no as ACCOUNT with its pool shares at the proposal's snapshot (final)."""
    runtime = ctx.runtime
    account = account_services.resolve_account(runtime.uow(), reference)
    shown = governance.cast_vote(runtime.uow(), runtime.clock, proposal_id, account.id, choice)
    if as_json:
        _echo_json(proposal_payload(shown))
        return
    click.echo(f"account {account.id} voted {choice} on proposal {shown.id}: yes {shown.yes_weight:,}, "
               f"no {shown.no_weight:,} of {shown.snapshot_shares:,} shares")


@governance_group.command("show")
@click.argument("proposal_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def show(ctx: CliContext, proposal_id: int, as_json: bool) -> None:
    """One proposal: status, yes/no weights, quorum, snapshot, voting end, execution time."""
    runtime = ctx.runtime
    p = governance.get_proposal(runtime.uow(), runtime.clock, proposal_id)
    if as_json:
        _echo_json(proposal_payload(p))
        return
    click.echo(f"proposal {p.id} by account {p.proposer_account_id}: {p.status}")
    click.echo(f"  rationale: {p.rationale}")
    for name, change in p.changes.items():
        click.echo(f"  {name}: {change['from']} -> {change['to']}")
    click.echo(f"  yes {p.yes_weight:,}, no {p.no_weight:,} of {p.snapshot_shares:,} shares at the snapshot "
               f"({p.snapshot_at:%Y-%m-%d %H:%M:%S}Z); quorum > {p.quorum_ratio} "
               f"({'reached' if p.quorum_reached else 'not reached'}), support > {p.support_ratio} "
               f"({'reached' if p.support_reached else 'not reached'})")
    click.echo(f"  voting ends {p.voting_ends_at:%Y-%m-%d %H:%M:%S}Z; executes {p.executes_at:%Y-%m-%d %H:%M:%S}Z"
               + (f"; executed as version {p.executed_version_id}" if p.executed_version_id else "")
               + (f"; {p.refused_reason}" if p.refused_reason else ""))
    for q in p.ragequits:
        click.echo(f"  ragequit: account {q.account_id}, {q.shares} shares, {q.amount_sats} sats")


@governance_group.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, governance.MAX_PAGE_SIZE))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def list_command(ctx: CliContext, limit: int, as_json: bool) -> None:
    """Proposals, newest first, with their status and tally."""
    runtime = ctx.runtime
    found = governance.proposal_page(runtime.uow(), runtime.clock, page_size=limit).items
    if as_json:
        _echo_json([proposal_payload(p) for p in found])
        return
    if not found:
        click.echo("no proposals")
    for p in found:
        click.echo(_summary_line(p))


@governance_group.command("ragequit")
@click.argument("reference", metavar="ACCOUNT")
@click.argument("proposal_id", metavar="ID", type=int)
@pass_cli
def ragequit(ctx: CliContext, reference: str, proposal_id: int) -> None:
    """Leave the pool at NAV now as ACCOUNT (during a passed proposal's timelock, if it did not vote yes)."""
    runtime = ctx.runtime
    account = account_services.resolve_account(runtime.uow(), reference)
    quit_ = governance.ragequit(runtime.uow, runtime.clock, governance.pool_shares(runtime), proposal_id, account.id)
    click.echo(f"account {quit_.account_id} left the pool: {quit_.shares} shares paid {quit_.amount_sats} sats")


@governance_group.command("execute")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def execute(ctx: CliContext, as_json: bool) -> None:
    """Close proposals whose voting ended; execute passed ones whose timelock is over (the job, by hand)."""
    runtime = ctx.runtime
    closed = governance.execute_due(runtime.uow(), runtime.clock)
    if as_json:
        _echo_json([c.as_dict() for c in closed])
        return
    if not closed:
        click.echo("nothing to close")
    for c in closed:
        click.echo(f"proposal {c.proposal_id}: {c.status}" + (f" as version {c.version_id}" if c.version_id else "")
                   + (f" ({c.reason})" if c.reason else ""))


@cli.group("fees")
def fees_group() -> None:
    """Trading fees collected per business date and their nightly split."""


@fees_group.command("distribute")
@click.option("--date", "business_date", required=True, metavar="YYYY-MM-DD", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def distribute_fees(ctx: CliContext, business_date, as_json: bool) -> None:
    """Share out a closed date's fees (the nightly settlement's step, by hand; runs once per date)."""
    runtime = ctx.runtime
    result = fee_distribution.distribute_fees(runtime.uow(), runtime.clock, business_date.date())
    if as_json:
        _echo_json(result.as_dict())
        return
    status = "already distributed" if result.already_done else "distributed"
    click.echo(f"fees of {result.business_date}: {result.total_sats:,} sats {status}: makers "
               f"{sum(result.makers_sats.values()):,}, insurance fund {result.insurance_fund_sats:,}, community fund "
               f"{result.community_fund_sats:,}, backstop pool {result.backstop_pool_sats:,}")

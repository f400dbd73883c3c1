"""``hashedge jobs runs``: what the scheduler ran, when, for how long, and what it reported."""

from __future__ import annotations

import json

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.jobs.scheduler import JOBS
from hashedge.services import operations


@cli.group()
def jobs() -> None:
    """The scheduler's jobs."""


@jobs.command("runs")
@click.option("--job", type=click.Choice(sorted(JOBS)), help="only this job's runs")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, operations.MAX_PAGE_SIZE),
              help="how many runs, newest first")
@click.option("--json", "as_json", is_flag=True, help="a list of objects with the summary as JSON")
@pass_cli
def runs(ctx: CliContext, job: str | None, limit: int, as_json: bool) -> None:
    """Recent job runs, newest first: slot, status (running, succeeded, failed, abandoned),
    attempts, the scheduler process that ran it, duration and summary."""
    records = operations.job_runs(ctx.runtime.uow(), job=job, page=1, page_size=limit).items
    if as_json:
        _echo_json([{
            "id": r.id, "job": r.job, "scheduled_for": r.scheduled_for.isoformat(), "status": r.status,
            "attempts": r.attempts, "owner": r.owner, "started_at": r.started_at.isoformat(),
            "finished_at": None if r.finished_at is None else r.finished_at.isoformat(),
            "duration_ms": r.duration_ms, "summary": operations.job_summary(r),
        } for r in records])
        return
    if not records:
        click.echo("no job runs recorded yet (is `hashedge scheduler` running?)")
    for r in records:
        duration = "-" if r.duration_ms is None else f"{r.duration_ms} ms"
        summary = json.dumps(operations.job_summary(r), default=str, separators=(",", ":"))
        click.echo(f"{r.id:>6} {r.job:<19} {r.scheduled_for:%Y-%m-%d %H:%M:%S} {r.status:<9} x{r.attempts} "
                   f"{duration:>9} {r.owner or '-'}  {summary}")

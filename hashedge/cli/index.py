"""``hashedge index ...``: import, backfill, compute, show and verify indices."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timezone
from pathlib import Path

import click

from hashedge.adapters.block_sources import SOURCE_KINDS, make_source
from hashedge.cli import CliContext, _echo_json, _parse_at, cli, pass_cli
from hashedge.services import chain_data, index_queries
from hashedge.services import fixings as fixing_services


@cli.group()
def index() -> None:
    """Chain data, indices and fixings."""


class _Progress:
    """A progress bar on the terminal, fed (blocks done, blocks to do) after each chunk."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label, show_pos=True, show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)
        if done >= total:
            self.bar.__exit__(None, None, None)


@index.command("import")
@click.option("--epochs", "epochs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="epoch history CSV (epoch,start_height,end_height,bits)")
@click.option("--blocks", "blocks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="block rows CSV (height,hash,prev_hash,time,bits,subsidy_sats,total_fees_sats,tx_count)")
@pass_cli
def import_(ctx: CliContext, epochs_file: Path | None, blocks_file: Path | None) -> None:
    """Import epoch history or block rows from CSV (resumable, idempotent)."""
    if bool(epochs_file) == bool(blocks_file):
        raise click.UsageError("give exactly one of --epochs FILE or --blocks FILE")
    runtime = ctx.runtime
    if epochs_file:
        count = chain_data.import_epoch_history(runtime.uow(), epochs_file)
        click.echo(f"imported {count} epochs from {epochs_file}")
    else:
        added = chain_data.import_block_csv(runtime.uow(), blocks_file)
        click.echo(f"imported {added} new blocks from {blocks_file}")


@index.command()
@click.option("--source", "kind", type=click.Choice(SOURCE_KINDS), required=True)
@click.option("--url", help="node or explorer URL (default from HASHEDGE_BITCOIND_URL / HASHEDGE_ESPLORA_URL)")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="block CSV for --source csv")
@click.option("--from", "start_height", type=click.IntRange(min=0), help="first height when the database is empty")
@click.option("--to", "end_height", type=click.IntRange(min=0), help="last height (default: the source's tip)")
@click.option("--allow-deep-reorg", is_flag=True, help="accept a reorg deeper than the confirmation depth")
@pass_cli
def backfill(ctx: CliContext, kind, url, path, start_height, end_height, allow_deep_reorg) -> None:
    """Fetch blocks from a source up to its tip; an interrupted run resumes where it stopped."""
    runtime = ctx.runtime
    source = make_source(kind, runtime.settings, url=url, path=path, clock=runtime.clock)
    result = chain_data.ingest_new_blocks(
        runtime.uow(), source, confirmations=runtime.settings.confirmations,
        start_height=start_height, end_height=end_height, allow_deep_reorg=allow_deep_reorg,
        progress=_Progress("backfill"),
    )
    click.echo(result.summary())


@index.command()
@click.option("--full", is_flag=True, help="recompute from all stored data, not just the recent tail")
@pass_cli
def compute(ctx: CliContext, full: bool) -> None:
    """Publish every fixing that is due and confirmed (idempotent)."""
    runtime = ctx.runtime
    result = fixing_services.publish_fixings(
        runtime.uow(), runtime.clock, confirmations=runtime.settings.confirmations, full_recompute=full
    )
    click.echo(f"published {result.published} fixings ({result.already_published} already published)"
               f"; tip height {result.tip_height}")


def _fixing_payload(fixing) -> dict:
    payload = asdict(fixing)
    payload["value"] = format(fixing.value, "f")
    return payload


@index.command()
@click.argument("name")
@click.option("--at", "at", help="block height (computed value) or date YYYY-MM-DD (daily fixing)")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def show(ctx: CliContext, name: str, at: str | None, as_json: bool) -> None:
    """Show an index: the latest fixing, the daily fixing of a date, or the value at a height."""
    runtime = ctx.runtime
    where = _parse_at(at)
    if isinstance(where, int):
        value = index_queries.value_at_height(runtime.uow(), name, where)
        payload = {"index": value.index, "height": value.height, "value": format(value.value, "f"),
                   "unit": value.unit}
        text = f"{value.index} at height {value.height}: {value.value} {value.unit}"
    else:
        fixing = (index_queries.daily_fixing(runtime.uow(), name, where) if where
                  else index_queries.latest_fixing(runtime.uow(), name))
        payload = _fixing_payload(fixing)
        text = (f"{fixing.index} {fixing.kind} fixing as of {fixing.as_of.isoformat()}: {fixing.value} "
                f"{fixing.unit} (blocks {fixing.start_height}-{fixing.end_height}, v{fixing.version}, "
                f"digest {fixing.input_digest})")
    _echo_json(payload) if as_json else click.echo(text)


@index.command()
@pass_cli
def verify(ctx: CliContext) -> None:
    """Recompute every fixing from stored blocks; exit 1 on any mismatch."""
    report = fixing_services.verify_fixings(ctx.runtime.uow())
    for mismatch in report.mismatches:
        click.echo(f"MISMATCH {mismatch.index} {mismatch.kind} {mismatch.as_of.isoformat()} "
                   f"v{mismatch.version}: {mismatch.reason}", err=True)
    if not report.ok:
        raise click.ClickException(f"{len(report.mismatches)} of {report.checked} fixings do not verify")
    click.echo(f"all {report.checked} fixings verify against stored chain data")


@index.command()
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def forecast(ctx: CliContext, as_json: bool) -> None:
    """Next-difficulty forecast with its uncertainty band."""
    result = index_queries.difficulty_forecast(ctx.runtime.uow())
    if as_json:
        _echo_json(asdict(result))
        return
    click.echo(f"next difficulty {result.next_difficulty:,.0f} ({result.change_pct:+.2f}%) in "
               f"{result.blocks_remaining} blocks; 95% band {result.low_95:,.0f} - {result.high_95:,.0f}")


@index.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(["daily", "retarget"]), required=True)
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]), required=True,
              help="the fixing's as-of time in UTC")
@click.option("--reason", required=True, help="why the published value is being corrected")
@pass_cli
def correct(ctx: CliContext, name: str, kind: str, as_of, reason: str) -> None:
    """Publish a new version of a fixing, recomputed from the stored data, with a reason."""
    runtime = ctx.runtime
    fixing = fixing_services.correct_fixing(
        runtime.uow(), runtime.clock, index=name, kind=kind, as_of=as_of.replace(tzinfo=timezone.utc),
        reason=reason, confirmations=runtime.settings.confirmations,
    )
    click.echo(f"{fixing.index} {fixing.kind} fixing as of {fixing.as_of.isoformat()} is now version "
               f"{fixing.version}: {format(fixing.value, 'f')} {fixing.unit}")

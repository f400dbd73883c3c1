"""Long-running commands: ``serve``, ``scheduler`` and the ``demo``."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import click

from hashedge.adapters.block_sources import SOURCE_KINDS, make_source
from hashedge.cli import CliContext, cli, pass_cli
from hashedge.errors import HashEdgeError
from hashedge.jobs.scheduler import SchedulerProcess

log = logging.getLogger(__name__)


def _serve(app, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from hashedge.web.edge import RequestHandler

    run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=RequestHandler)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_cli
def serve(ctx: CliContext, host: str, port: int) -> None:
    """Serve the API and the desk (development server; see deploy/ for gunicorn)."""
    from hashedge.web import create_app

    _require_schema(ctx)
    click.echo(f"serving on http://{host}:{port}/desk/")
    _serve(create_app(ctx.runtime), host, port)


def _require_schema(ctx: CliContext) -> None:
    from hashedge.adapters.database import schema_is_current

    if not schema_is_current(ctx.runtime.engine):
        raise HashEdgeError("the database schema is missing or old: run `hashedge init-db`")


def _wait_until_signalled() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(1)


@cli.command()
@click.option("--source", "kind", type=click.Choice(SOURCE_KINDS), help="block source for ingest_blocks")
@click.option("--url", help="node or explorer URL")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_cli
def scheduler(ctx: CliContext, kind, url, path) -> None:
    """Run the job scheduler (ingest_blocks, publish_fixings) until stopped. One leader at a time."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _require_schema(ctx)
    runtime = ctx.runtime
    source = make_source(kind, runtime.settings, url=url, path=path, clock=runtime.clock) if kind else None
    process = SchedulerProcess(runtime, source)
    while not process.start():
        holder = process.lease.current_holder()
        click.echo(f"standby: the scheduler lease is held by {holder[0]} until {holder[1]:%H:%M:%S} UTC")
        time.sleep(10)
    click.echo(f"scheduler running as {process.holder}; Ctrl-C to stop")
    try:
        _wait_until_signalled()
    finally:
        process.stop()


@cli.command()
@click.option("--no-serve", is_flag=True, help="prepare the database and exit")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--epochs", "epochs_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="real epoch history CSV (default: the shared data folder if present)")
@click.option("--blocks", "blocks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="real block rows CSV instead of the simulator")
@click.option("--days", default=730, show_default=True, type=click.IntRange(30, 6000),
              help="days of simulated blocks to store before today")
@click.option("--seed", default=1, show_default=True, type=click.IntRange(min=0),
              help="simulator seed (block times, fees, and the epochs after the real history)")
@pass_cli
def demo(ctx: CliContext, no_serve, host, port, epochs_file, blocks_file, days, seed) -> None:
    """Create the database, load chain data, publish fixings, then serve with the scheduler."""
    from hashedge.services import demo as demo_service

    runtime = ctx.setup_runtime()
    started = time.monotonic()
    runtime.migrate()
    report = demo_service.prepare_demo(
        runtime, epochs_file=epochs_file, blocks_file=blocks_file, days=days, seed=seed,
        echo=click.echo,
    )
    click.echo(f"demo ready in {time.monotonic() - started:.1f} s: {report.summary()}")
    _demo_desk_user(runtime)
    if no_serve:
        return
    from hashedge.web import create_app

    process = SchedulerProcess(runtime, report.live_source)
    if not process.start():
        click.echo("another scheduler holds the lease; serving without one")
    click.echo(f"open http://{host}:{port}/desk/  (API: http://{host}:{port}/api/v1/indices)")
    try:
        _serve(create_app(runtime), host, port)
    finally:
        process.stop()


def _demo_desk_user(runtime) -> None:
    """A first desk user for a fresh demo database (an admin with a one-time password)."""
    from hashedge.services import desk_users

    if desk_users.list_users(runtime.uow()):
        return
    _user, password = desk_users.create_user(runtime.uow(), runtime.clock, "demo", "admin", "admin")
    click.echo(f"desk login: admin / {password}  (shown once; more users: hashedge desk user create NAME --role R)")

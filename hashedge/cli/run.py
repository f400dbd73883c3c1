"""Long-running commands: ``serve``, ``scheduler`` and the ``demo``.

Each stops cleanly on Ctrl-C (SIGINT) and on SIGTERM (what systemd and ``kill`` send): the
scheduler's lease is released on the way out, so a restarted process leads at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from pathlib import Path
from typing import Callable

import click

from hashedge.adapters.block_sources import SOURCE_KINDS, make_source
from hashedge.cli import CliContext, cli, pass_cli
from hashedge.errors import HashEdgeError
from hashedge.jobs.scheduler import LEASE_TTL, SchedulerProcess, describe_jobs

log = logging.getLogger(__name__)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the command the way Ctrl-C does (finally blocks run)


def _serve(app, host: str, port: int, ready: Callable[[], None]) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; ``ready`` is called once the socket accepts connections."""
    from werkzeug.serving import make_server

    from hashedge.web.edge import RequestHandler

    try:
        server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
    except OSError as exc:
        raise HashEdgeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        ready()  # bound and listening: from here on a connection is accepted
        server.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a normal stop
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_cli
def serve(ctx: CliContext, host: str, port: int) -> None:
    """Serve the API and the desk (development server; see deploy/ for gunicorn)."""
    from hashedge.web import create_app

    _require_schema(ctx)
    app = create_app(ctx.runtime)
    _serve(app, host, port, lambda: click.echo(f"serving on http://{host}:{port}/desk/"))


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


def _report_leadership(process: SchedulerProcess, leading: bool) -> None:
    if leading:
        click.echo(f"scheduler running as {process.holder}")
        return
    holder = process.lease.current_holder()
    held_by = f"{holder[0]} until {holder[1]:%H:%M:%S} UTC" if holder else "another process"
    click.echo(f"scheduler standing by: the lease is held by {held_by}; it takes over when the lease expires")


@cli.command(help=f"""Run the job scheduler until stopped (Ctrl-C or SIGTERM, which release the lease).

One process leads and runs the jobs; the others stand by, keep trying for the lease and take
over when the leader stops renewing it (within --lease-ttl).

\b
Jobs:
{describe_jobs()}""")
@click.option("--source", "kind", type=click.Choice(SOURCE_KINDS), help="block source for ingest_blocks")
@click.option("--url", help="node or explorer URL")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lease-ttl", "lease_seconds", default=int(LEASE_TTL.total_seconds()), show_default=True,
              type=click.IntRange(3, 3600), help="seconds a leader's lease lasts unless renewed (every third of it)")
@pass_cli
def scheduler(ctx: CliContext, kind, url, path, lease_seconds: int) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _require_schema(ctx)
    runtime = ctx.runtime
    source = make_source(kind, runtime.settings, url=url, path=path, clock=runtime.clock) if kind else None
    process = SchedulerProcess(runtime, source, lease_ttl=timedelta(seconds=lease_seconds))
    try:
        _report_leadership(process, process.start())
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
    import time

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

    app = create_app(runtime)
    signal.signal(signal.SIGTERM, _interrupt)  # from here on SIGTERM releases the lease on its way out
    process = SchedulerProcess(runtime, report.live_source)
    try:
        _report_leadership(process, process.start())
        _serve(app, host, port, lambda: click.echo(
            f"open http://{host}:{port}/desk/  (API: http://{host}:{port}/api/v1/indices)"))
    finally:
        process.stop()


def _demo_desk_user(runtime) -> None:
    """A first desk user for a fresh demo database (an admin with a one-time password)."""
    from hashedge.services import desk_users

    if desk_users.list_users(runtime.uow()):
        return
    _user, password = desk_users.create_user(runtime.uow(), runtime.clock, "demo", "admin", "admin")
    click.echo(f"desk login: admin / {password}  (shown once; more users: hashedge desk user create NAME --role R)")

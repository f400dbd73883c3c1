"""``hashedge engine run``: the matching engine over the order inbox (``HASHEDGE_ORDER_ENGINE=inbox``).

Stops cleanly on Ctrl-C and SIGTERM: the batch in progress commits or rolls back whole, and the
group's lease is released so a restarted engine leads at once.
"""

from __future__ import annotations

import logging
import signal
from datetime import timedelta

import click

from hashedge import gc_policy
from hashedge.adapters.engine_socket import check_socket_path
from hashedge.cli import CliContext, cli, pass_cli
from hashedge.cli.run import _require_schema
from hashedge.errors import InvalidInput
from hashedge.jobs.engine import LEASE_TTL, EngineProcess
from hashedge.services.exchange_engine import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE


def _instruments(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    symbols = tuple(s.strip() for s in value.split(",") if s.strip())
    if not symbols:
        message = "--instruments: give one or more symbols, comma-separated"
        raise InvalidInput(message, fields={"instruments": [message]})
    return symbols


def _socket(value: str) -> str:
    try:
        return str(check_socket_path(value))
    except ValueError as exc:
        raise InvalidInput(f"--socket: {exc}", fields={"socket": [str(exc)]}) from None


@cli.group()
def engine() -> None:
    """The matching engine: executes the orders the API appends to the inbox."""


@engine.command("run")
@click.option("--instruments", help="only these instruments (comma-separated symbols): one engine per group")
@click.option("--batch-size", default=DEFAULT_BATCH_SIZE, show_default=True, type=click.IntRange(1, MAX_BATCH_SIZE),
              help="at most this many requests per transaction")
@click.option("--once", is_flag=True, help="execute what is pending now, then exit")
@click.option("--lease-ttl", "lease_seconds", default=int(LEASE_TTL.total_seconds()), show_default=True,
              type=click.IntRange(1, 3600), help="seconds the group's lease lasts unless renewed")
@click.option("--socket", "socket_path", help="listen for the web workers' orders on this Unix socket "
              "[default: HASHEDGE_ENGINE_SOCKET, if set]")
@pass_cli
def run(ctx: CliContext, instruments: str | None, batch_size: int, once: bool, lease_seconds: int,
        socket_path: str | None) -> None:
    """Execute pending order requests in arrival order, in batches, until stopped (or drained, --once).

    One engine per instrument group holds the group's lease; another one of the same group stands
    by until the lease is released or runs out."""
    group = _instruments(instruments)
    socket_path = _socket(socket_path) if socket_path is not None else ctx.runtime.settings.engine_socket
    _require_schema(ctx)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    process = EngineProcess(ctx.runtime, instruments=group, batch_size=batch_size,
                            lease_ttl=timedelta(seconds=lease_seconds), socket_path=socket_path)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: process.stop())
    if not once:
        gc_policy.settle()  # a long-running process from here on: no full collection mid-batch (its docstring)
        listening = f", listening on {socket_path}" if socket_path else ""
        click.echo(f"engine {process.holder} for {process.lease.name}{listening}: waiting for the lease, then running")
    totals = process.run(once=once)
    click.echo(f"engine stopped: {totals.answered} requests answered in {totals.batches} batches "
               f"({totals.claimed} came over the socket), {totals.poisoned} not executable, "
               f"{totals.stale} stale claims; busy {totals.busy_s:.1f} s ({totals.cpu_s:.1f} s of CPU)"
               + ("" if (steps := totals.busy_step_ms()) is None else
                  "; a busy step p50 {:.1f} / p99 {:.1f} ms (CPU {:.1f} / {:.1f})".format(*steps)))

"""The ``hashedge`` command line: thin commands that parse arguments and call services.

Every expected failure ends with one line on stderr and a non-zero exit; set HASHEDGE_DEBUG=1 to
see the traceback of an unexpected one.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime, time, timezone

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from hashedge.bootstrap import Runtime, bootstrap
from hashedge.errors import HashEdgeError
from indices.sources.base import SourceError


class CliContext:
    """Builds the runtime lazily so ``--help`` works without a database. Only ``init-db`` and
    ``demo`` create a database (``setup_runtime``); every other command refuses a missing one."""

    def __init__(self):
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = bootstrap(create_database=False)
        return self._runtime

    def setup_runtime(self) -> Runtime:
        """The runtime of a command that may create the database (its folder and file)."""
        if self._runtime is None:
            self._runtime = bootstrap(create_database=True)
        return self._runtime


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def _echo_json(payload) -> None:
    click.echo(json.dumps(payload, default=str, indent=2))


@click.group()
@click.version_option(package_name="hashedge")
def cli() -> None:
    """HashEdge: Bitcoin hashrate indices, fixings and derivatives."""


@cli.command("init-db")
@pass_cli
def init_db(ctx: CliContext) -> None:
    """Create or upgrade the database schema (idempotent)."""
    ctx.setup_runtime().migrate()
    click.echo(f"database ready: {ctx.runtime.engine.url.render_as_string(hide_password=True)}")


def _parse_at(value: str | None) -> int | date | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("give a block height or a date YYYY-MM-DD", param_hint="--at") from None


def main(argv: list[str] | None = None) -> None:
    """Console entry point: the one place CLI errors become messages and exit codes."""
    from hashedge.cli import (  # noqa: F401  (commands attach themselves to ``cli``)
        accounts, backstop, desk, engine, governance, index, jobs, liquidation, protection, run, trading,
    )

    try:
        cli.main(args=argv, prog_name="hashedge", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (HashEdgeError, SourceError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except FileNotFoundError as exc:
        click.echo(f"error: file not found: {exc.filename}", err=True)
        sys.exit(1)
    except (OperationalError, ProgrammingError) as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        click.echo(f"error: database: {reason} (run `hashedge init-db` first?)", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # never a stack trace to a user
        if os.environ.get("HASHEDGE_DEBUG"):
            raise
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"error: unexpected {type(exc).__name__}: {first_line} "
                   "(set HASHEDGE_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


if __name__ == "__main__":  # pragma: no cover
    main()

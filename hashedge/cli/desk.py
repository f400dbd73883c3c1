"""``hashedge desk user ...``: the desk's users. Changes are audited with the actor ``cli:<login>``."""

from __future__ import annotations

import getpass
import sys

import click

from hashedge.cli import CliContext, _echo_json, cli, pass_cli
from hashedge.domain.desk_access import Role
from hashedge.services import desk_users

ROLES = [role.value for role in Role]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


@cli.group()
def desk() -> None:
    """The OTC desk (web pages at /desk)."""


@desk.group()
def user() -> None:
    """Desk users and their roles."""


@user.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="what the user may do")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (one line)")
@pass_cli
def create(ctx: CliContext, name: str, role: str, password_stdin: bool) -> None:
    """Create a desk user; without --password-stdin a one-time password is printed."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    runtime = ctx.runtime
    created, generated = desk_users.create_user(runtime.uow(), runtime.clock, _actor(), name, role, password)
    click.echo(f"desk user {created.username} created with role {created.role}")
    if generated:
        click.echo(f"password, shown this once (only its hash is kept): {generated}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_cli
def list_users(ctx: CliContext, as_json: bool) -> None:
    """Every desk user with role, status and last login."""
    users = desk_users.list_users(ctx.runtime.uow())
    if as_json:
        _echo_json([{"username": u.username, "role": u.role, "disabled": u.disabled,
                     "created_at": u.created_at.isoformat(),
                     "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None} for u in users])
        return
    if not users:
        click.echo("no desk users (create one: hashedge desk user create NAME --role admin)")
    for u in users:
        last = f"{u.last_login_at:%Y-%m-%d %H:%M}Z" if u.last_login_at else "never"
        click.echo(f"{u.username:<24} {u.role:<7} {'disabled' if u.disabled else 'active':<9} last login {last}")


@user.command("disable")
@click.argument("name")
@pass_cli
def disable(ctx: CliContext, name: str) -> None:
    """Disable a user: no more logins; open sessions end at their next request."""
    runtime = ctx.runtime
    desk_users.set_disabled(runtime.uow(), runtime.clock, _actor(), name, True)
    click.echo(f"desk user {name} disabled")


@user.command("enable")
@click.argument("name")
@pass_cli
def enable(ctx: CliContext, name: str) -> None:
    """Enable a disabled user again."""
    runtime = ctx.runtime
    desk_users.set_disabled(runtime.uow(), runtime.clock, _actor(), name, False)
    click.echo(f"desk user {name} enabled")


@user.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@pass_cli
def set_role(ctx: CliContext, name: str, role: str) -> None:
    """Change a user's role (effective at the user's next request)."""
    runtime = ctx.runtime
    desk_users.set_role(runtime.uow(), runtime.clock, _actor(), name, role)
    click.echo(f"desk user {name} now has role {role}")


@user.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (one line)")
@pass_cli
def set_password(ctx: CliContext, name: str, password_stdin: bool) -> None:
    """Set a user's password (from stdin, or prompted without echo)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    runtime = ctx.runtime
    desk_users.set_password(runtime.uow(), runtime.clock, _actor(), name, password)
    click.echo(f"password of desk user {name} changed")

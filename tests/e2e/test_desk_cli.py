"""``hashedge desk user ...`` as an operator runs it: a real process and SQLite file, passwords from
standard input or printed once, one-line errors, and the user it creates logging in to the desk."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from hashedge.bootstrap import bootstrap
from hashedge.config import load_settings
from hashedge.errors import LoginRefused
from hashedge.services import audit, desk_users
from tests.e2e.test_accounts_cli import HASHEDGE, assert_one_line_error, environment_for, ok, run


@pytest.fixture
def env(tmp_path):
    environment = environment_for(tmp_path / "desk.sqlite", tmp_path / "instance")
    ok(environment, "init-db")
    return environment


def runtime_of(env):
    return bootstrap(load_settings(env))


def test_desk_users_are_created_listed_and_changed_from_the_command_line(env):
    printed = ok(env, "desk", "user", "create", "ada", "--role", "admin")
    password = re.search(r"shown this once \(only its hash is kept\): (\S+)", printed).group(1)
    created = subprocess.run([HASHEDGE, "desk", "user", "create", "tina", "--role", "trader", "--password-stdin"],
                             input="correct horse battery staple\n", env=env, capture_output=True, text=True,
                             timeout=60)
    assert created.returncode == 0 and "password" not in created.stdout.split("\n", 1)[1]
    ok(env, "desk", "user", "set-role", "tina", "risk")
    ok(env, "desk", "user", "disable", "ada")
    users = {u["username"]: u for u in json.loads(ok(env, "desk", "user", "list", "--json"))}
    assert (users["tina"]["role"], users["ada"]["disabled"]) == ("risk", True)
    runtime = runtime_of(env)
    try:
        user = desk_users.authenticate(runtime.uow(), runtime.clock, "tina", "correct horse battery staple", "cli")
        assert user.role == "risk"
        with pytest.raises(LoginRefused):  # disabled
            desk_users.authenticate(runtime.uow(), runtime.clock, "ada", password, "cli")
        actions = {(r.actor.split(":")[0], r.action) for r in audit.audit_page(runtime.uow()).items}
        assert {("cli", "user.create"), ("cli", "user.set_role"), ("cli", "user.disable")} <= actions
    finally:
        runtime.close()


def test_bad_desk_user_commands_end_with_one_line_errors(env):
    short = subprocess.run([HASHEDGE, "desk", "user", "create", "tom", "--role", "trader", "--password-stdin"],
                           input="short\n", env=env, capture_output=True, text=True, timeout=60)
    assert_one_line_error(short, "error: password must be at least 12 characters")
    assert_one_line_error(run(env, "desk", "user", "disable", "nobody"), "no desk user 'nobody'")
    assert_one_line_error(run(env, "desk", "user", "create", "Bad Name", "--role", "viewer"), "invalid user name")
    ok(env, "desk", "user", "create", "vera", "--role", "viewer")
    assert_one_line_error(run(env, "desk", "user", "create", "vera", "--role", "viewer"), "already exists")
    assert run(env, "desk", "user", "create", "x", "--role", "boss").returncode == 2  # click's usage error

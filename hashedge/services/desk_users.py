"""Desk users: create, list, disable, enable, change role or password, and log in.

Passwords are stored as werkzeug's salted, self-describing hashes (scrypt by default); the
plaintext is never stored or logged. A user created without a password gets a random one,
returned once. Login is throttled (``domain.desk_access.ThrottlePolicy``): after too many failed
attempts for a user name, or from one address, within the window, attempts are refused before the
password is even checked. Every change and every login, failed or not, is recorded: users and
roles in the audit log, attempts in ``desk_login_attempts``.
"""

from __future__ import annotations

import functools
import math
import secrets

from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from hashedge.adapters.repositories.desk import DeskUserRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.desk_access import (
    Role,
    ThrottlePolicy,
    parse_role,
    password_problem,
    throttled_until,
    username_problem,
)
from hashedge.domain.errors import InvalidValue
from hashedge.errors import Conflict, InvalidInput, LoginRefused, NotFound, TooManyAttempts
from hashedge.services import audit

GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user name is unknown, so a miss costs as much as a hit."""
    return generate_password_hash("not a password of anyone's")


def _valid_username(username: object) -> str:
    username = username.strip() if isinstance(username, str) else username
    problem = username_problem(username)
    if problem:
        raise InvalidInput(f"invalid user name {username!r}: {problem}", fields={"username": [problem]})
    return username


def _valid_role(role: object) -> Role:
    try:
        return parse_role(role)
    except InvalidValue as exc:
        raise InvalidInput(str(exc), fields={"role": [exc.reason]}) from None


def _valid_password(password: object, username: str) -> str:
    problem = password_problem(password, username)
    if problem:
        raise InvalidInput(f"password {problem}", fields={"password": [problem]})
    return password


def _require(uow: UnitOfWork, username: str) -> DeskUserRecord:
    user = uow.desk_users.by_username(username, lock=True) if isinstance(username, str) else None
    if user is None:
        raise NotFound(f"no desk user {username!r}", fields={"username": ["unknown user"]})
    return user


def _public(user: DeskUserRecord) -> dict:
    return {"username": user.username, "role": user.role, "disabled": user.disabled}


def create_user(uow: UnitOfWork, clock: Clock, actor: str, username: str, role: str,
                password: str | None = None) -> tuple[DeskUserRecord, str | None]:
    """A new desk user; returns the record and the generated password (None if one was given)."""
    username, role_value = _valid_username(username), _valid_role(role)
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    _valid_password(password, username)
    password_hash = generate_password_hash(password)
    duplicate = Conflict(f"a desk user named {username!r} already exists", fields={"username": ["already taken"]})
    with uow:
        if uow.desk_users.by_username(username) is not None:
            raise duplicate
        try:
            user = uow.desk_users.add(username, password_hash, role_value.value, clock.now())
        except IntegrityError:
            raise duplicate from None
        audit.record(uow, clock, actor, "user.create", f"user:{username}", {"role": role_value.value},
                     after=_public(user))
        uow.commit()
    return user, generated


def list_users(uow: UnitOfWork) -> list[DeskUserRecord]:
    with uow.read_only():
        return uow.desk_users.all()


def get_user(uow: UnitOfWork, user_id: int) -> DeskUserRecord | None:
    with uow.read_only():
        return uow.desk_users.get(user_id)


def _change(uow: UnitOfWork, clock: Clock, actor: str, username: str, action: str, details: dict,
            **values) -> DeskUserRecord:
    with uow:
        before = _require(uow, username)
        uow.desk_users.update(before.id, **values)
        after = uow.desk_users.get(before.id)
        audit.record(uow, clock, actor, action, f"user:{username}", details, before=_public(before),
                     after=_public(after))
        uow.commit()
    return after


def set_disabled(uow: UnitOfWork, clock: Clock, actor: str, username: str, disabled: bool) -> DeskUserRecord:
    """Disable (or enable again) a user; a disabled user's sessions end at their next request."""
    return _change(uow, clock, actor, username, "user.disable" if disabled else "user.enable", {},
                   disabled=disabled)


def set_role(uow: UnitOfWork, clock: Clock, actor: str, username: str, role: str) -> DeskUserRecord:
    role_value = _valid_role(role)
    return _change(uow, clock, actor, username, "user.set_role", {"role": role_value.value}, role=role_value.value)


def set_password(uow: UnitOfWork, clock: Clock, actor: str, username: str, password: str) -> DeskUserRecord:
    _valid_password(password, username)
    return _change(uow, clock, actor, username, "user.set_password", {}, password_hash=generate_password_hash(password),
                   password_changed_at=clock.now())


def authenticate(uow: UnitOfWork, clock: Clock, username: str, password: str, remote_addr: str,
                 policy: ThrottlePolicy = ThrottlePolicy()) -> DeskUserRecord:
    """The user if the name and password match an enabled user; otherwise ``LoginRefused`` (the
    same answer for every reason), or ``TooManyAttempts`` while throttled. Records the attempt."""
    username = username.strip()[:64] if isinstance(username, str) else ""
    password = password if isinstance(password, str) else ""
    now = clock.now()
    with uow:
        since = now - policy.window
        waits = [throttled_until(uow.login_attempts.failures_since(since, username=username),
                                 policy.max_failures_per_user, now, policy.window),
                 throttled_until(uow.login_attempts.failures_since(since, remote_addr=remote_addr),
                                 policy.max_failures_per_address, now, policy.window)]
        until = max((w for w in waits if w is not None), default=None)
        if until is not None:
            minutes = max(1, math.ceil((until - now).total_seconds() / 60))
            raise TooManyAttempts(f"too many failed logins: try again in {minutes} minute{'s' * (minutes > 1)}",
                                  retry_after_seconds=max(1, math.ceil((until - now).total_seconds())))
        user = uow.desk_users.by_username(username) if username else None
    # The hash is checked outside the transaction (it takes tens of milliseconds on purpose).
    matches = check_password_hash(user.password_hash if user else _dummy_hash(), password[:256])
    ok = matches and user is not None and not user.disabled
    with uow:
        uow.login_attempts.add(username or "-", remote_addr, ok, now)
        if ok:
            uow.desk_users.update(user.id, last_login_at=now)
        audit.record(uow, clock, username or "-", "login" if ok else "login.failed", f"user:{username or '-'}",
                     {"remote_addr": remote_addr})
        uow.commit()
    if not ok:
        raise LoginRefused("wrong user name or password", fields={"password": ["wrong user name or password"]})
    return user


def record_logout(uow: UnitOfWork, clock: Clock, username: str, reason: str) -> None:
    with uow:
        audit.record(uow, clock, username, "logout", f"user:{username}", {"reason": reason})
        uow.commit()

"""Who may do what on the OTC desk: roles, permissions, passwords, login throttling, sessions.

Pure rules (standard library only). The web layer asks ``allows(role, permission)``; templates only
show or hide what a role may use, they never decide.

=========  ==================================================================================
role       may
=========  ==================================================================================
viewer     see every page
trader     + onboard counterparties and their API keys, record deposits, request withdrawals,
           book and reverse block trades
risk       + decide four-eyes requests (approve or reject), run a day's settlement, run the
           liquidation sweep, contribute to the insurance fund
admin      everything (desk users are managed with ``hashedge desk user ...``)
=========  ==================================================================================

Four eyes (``four_eyes``): a request is decided by a second user holding ``APPROVE``, never by
the user who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType

from hashedge.domain.errors import InvalidValue


class Role(str, Enum):
    VIEWER = "viewer"
    TRADER = "trader"
    RISK = "risk"
    ADMIN = "admin"


class Permission(str, Enum):
    VIEW = "view"
    ONBOARD = "onboard"  # create accounts, issue and revoke API keys
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"  # request a withdrawal (executed at once below the four-eyes threshold)
    BLOCK_TRADE = "block_trade"  # book, reverse a block trade
    APPROVE = "approve"  # decide another user's four-eyes request
    OPERATIONS = "operations"  # run a day's settlement
    USERS = "users"  # manage desk users
    LIQUIDATE = "liquidate"  # run the liquidation sweep
    INSURANCE = "insurance"  # contribute to the insurance fund (four eyes above the governed size)
    GOVERNANCE = "governance"  # record a counterparty's vote; a risk committee member's emergency tightening


_TRADER = frozenset({Permission.VIEW, Permission.ONBOARD, Permission.DEPOSIT, Permission.WITHDRAW,
                     Permission.BLOCK_TRADE, Permission.GOVERNANCE})
_RISK = frozenset({Permission.VIEW, Permission.APPROVE, Permission.OPERATIONS, Permission.LIQUIDATE,
                   Permission.INSURANCE, Permission.GOVERNANCE})

ROLE_PERMISSIONS = MappingProxyType({
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.TRADER: _TRADER,
    Role.RISK: _RISK,
    Role.ADMIN: frozenset(Permission),
})


def parse_role(value: object) -> Role:
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidValue("role", value, f"must be one of {choices}") from None


def allows(role: Role | str, permission: Permission) -> bool:
    return Permission(permission) in ROLE_PERMISSIONS[Role(role)]


def permissions_of(role: Role | str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[Role(role)]


# --- user names and passwords --------------------------------------------------------------

USERNAME_MAX = 64
PASSWORD_MIN = 12
PASSWORD_MAX = 256  # bounded: hashing a megabyte per attempt would be a denial of service


def username_problem(name: object) -> str | None:
    """Why ``name`` cannot be a desk user name, or None: 1-64 of a-z 0-9 . _ -, a letter first."""
    if not isinstance(name, str) or not 1 <= len(name) <= USERNAME_MAX:
        return f"must be 1 to {USERNAME_MAX} characters"
    if not name[0].isascii() or not name[0].isalpha() or not name[0].islower():
        return "must start with a lower-case letter"
    if any(not (c.isascii() and (c.islower() or c.isdigit() or c in "._-")) for c in name):
        return "may hold only lower-case letters, digits and . _ -"
    return None


def password_problem(password: object, username: str | None = None) -> str | None:
    """Why ``password`` is not acceptable, or None. Length is what matters (NIST SP 800-63B):
    at least 12 characters, not the user name, not one character repeated."""
    if not isinstance(password, str) or len(password) < PASSWORD_MIN:
        return f"must be at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"must be at most {PASSWORD_MAX} characters"
    if username and password.lower() == username.lower():
        return "must not be the user name"
    if len(set(password)) == 1:
        return "must not repeat one character"
    return None


# --- login throttling ----------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    """Failed logins allowed per user name and per client address within a sliding window."""

    window: timedelta = timedelta(minutes=15)
    max_failures_per_user: int = 5
    max_failures_per_address: int = 20


def throttled_until(failures: list[datetime], limit: int, now: datetime, window: timedelta) -> datetime | None:
    """When the next attempt is allowed again, or None if it is allowed now.

    ``failures`` are the failed attempts' times; once ``limit`` of them fall inside the window,
    attempts wait until the oldest of the last ``limit`` leaves it.
    """
    recent = sorted(t for t in failures if now - t < window)
    if len(recent) < limit:
        return None
    return recent[-limit] + window


# --- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionPolicy:
    """A desk session ends after ``idle`` without a request or ``absolute`` after login."""

    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)

    def expired(self, logged_in_at: datetime, last_seen_at: datetime, now: datetime) -> bool:
        return now - last_seen_at >= self.idle or now - logged_in_at >= self.absolute

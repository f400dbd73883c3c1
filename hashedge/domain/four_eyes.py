"""Four eyes: which desk actions need a second user's approval, and who may give it.

Actions with money at stake are created as *requests* when they exceed a governed size, and run
only when a second, different user holding ``Permission.APPROVE`` approves them:

- a withdrawal of more than ``desk.four_eyes.withdrawal_sats``;
- a block trade whose notional (``|q| x price x multiplier``, sats) exceeds
  ``desk.four_eyes.block_notional_sats``;
- a contribution to the insurance fund of more than ``desk.four_eyes.insurance_contribution_sats``;
- a protection contract booked on the desk whose notional exceeds
  ``desk.four_eyes.protection_notional_sats``.

A request not decided within ``desk.four_eyes.expiry_hours`` expires. Rejected, expired and
failed requests stay on record with who decided, when and why. The thresholds are parameters
with defaults and hard bounds, read through one function (``services.approvals.desk_parameters``)
so governance can take them over like the risk parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from hashedge.domain.desk_access import Permission, Role, allows
from hashedge.domain.errors import InvalidValue
from hashedge.domain.parameters import ParameterOutOfBounds
from hashedge.domain.units import SATS_PER_BTC


class RequestKind(str, Enum):
    WITHDRAWAL = "withdrawal"
    BLOCK_TRADE = "block_trade"
    INSURANCE_CONTRIBUTION = "insurance_contribution"
    PROTECTION_BOOKING = "protection_booking"


class RequestStatus(str, Enum):
    PENDING = "pending"
    EXECUTED = "executed"  # approved and carried out
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"  # approved, but the action was refused when it ran (e.g. margin moved)


DESK_BOUNDS = {
    "desk.four_eyes.withdrawal_sats": (0, 100 * SATS_PER_BTC),
    "desk.four_eyes.block_notional_sats": (0, 1_000 * SATS_PER_BTC),
    "desk.four_eyes.expiry_hours": (1, 7 * 24),
    "desk.four_eyes.insurance_contribution_sats": (0, 100 * SATS_PER_BTC),
    "desk.four_eyes.protection_notional_sats": (0, 1_000 * SATS_PER_BTC),
}


@dataclass(frozen=True, kw_only=True)
class DeskParameters:
    """The desk's governed numbers with their defaults (0 means: every such action needs approval)."""

    withdrawal_threshold_sats: int = 10_000_000  # 0.1 BTC
    block_notional_threshold_sats: int = 100_000_000  # 1 BTC
    request_expiry_hours: int = 24
    insurance_contribution_threshold_sats: int = 10_000_000  # 0.1 BTC, like a withdrawal
    protection_notional_threshold_sats: int = 100_000_000  # 1 BTC of notional, like a block trade

    def __post_init__(self) -> None:
        for name, value in self.as_registry().items():
            low, high = DESK_BOUNDS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ParameterOutOfBounds(name, value, low, high)

    def as_registry(self) -> dict[str, int]:
        return {"desk.four_eyes.withdrawal_sats": self.withdrawal_threshold_sats,
                "desk.four_eyes.block_notional_sats": self.block_notional_threshold_sats,
                "desk.four_eyes.expiry_hours": self.request_expiry_hours,
                "desk.four_eyes.insurance_contribution_sats": self.insurance_contribution_threshold_sats,
                "desk.four_eyes.protection_notional_sats": self.protection_notional_threshold_sats}

    @classmethod
    def from_registry(cls, values: dict[str, int]) -> DeskParameters:
        unknown = sorted(set(values) - set(DESK_BOUNDS))
        if unknown:
            raise InvalidValue("name", ", ".join(unknown), "is not a desk parameter")
        merged = cls().as_registry() | dict(values)
        return cls(withdrawal_threshold_sats=merged["desk.four_eyes.withdrawal_sats"],
                   block_notional_threshold_sats=merged["desk.four_eyes.block_notional_sats"],
                   request_expiry_hours=merged["desk.four_eyes.expiry_hours"],
                   insurance_contribution_threshold_sats=merged["desk.four_eyes.insurance_contribution_sats"],
                   protection_notional_threshold_sats=merged["desk.four_eyes.protection_notional_sats"])

    @property
    def request_expiry(self) -> timedelta:
        return timedelta(hours=self.request_expiry_hours)


def withdrawal_needs_approval(amount_sats: int, params: DeskParameters) -> bool:
    return amount_sats > params.withdrawal_threshold_sats


def block_trade_needs_approval(notional_sats: int, params: DeskParameters) -> bool:
    return notional_sats > params.block_notional_threshold_sats


def insurance_contribution_needs_approval(amount_sats: int, params: DeskParameters) -> bool:
    return amount_sats > params.insurance_contribution_threshold_sats


def protection_booking_needs_approval(notional_sats: int, params: DeskParameters) -> bool:
    return notional_sats > params.protection_notional_threshold_sats


def approval_refusal(*, requested_by: str, approver: str, approver_role: Role | str, status: RequestStatus,
                     expires_at: datetime, now: datetime) -> str | None:
    """Why ``approver`` may not decide the request now, or None if they may."""
    if status is not RequestStatus.PENDING:
        return f"the request is already {status.value}"
    if now >= expires_at:
        return "the request has expired"
    if not allows(approver_role, Permission.APPROVE):
        return f"the {Role(approver_role).value} role cannot approve requests"
    if approver == requested_by:
        return "the requester cannot decide their own request: a second user must"
    return None

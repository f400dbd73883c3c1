"""Account events: what happened to an account's margin standing, recorded as facts.

An event is written when something happens *to* an account rather than *by* it:

- a change of margin status seen by the risk sweep (``status_changes``): ``margin_call`` (equity
  fell below initial margin: only risk-reducing orders and no withdrawals until it is met),
  ``liquidatable`` (below maintenance: the liquidation engine takes over) and ``healthy`` (the
  call is met). One event per change, never one per sweep: an account that stays in a margin
  call for a week has one ``margin_call`` event;
- ``liquidation``: the account was liquidated (the event names the liquidation record);
- ``adl``: one of the account's positions was closed by auto-deleveraging in another account's
  liquidation (the event names that liquidation, the instrument, quantity and price).

Each event keeps the account's equity and requirements at that moment, so a statement of events
explains itself without the marks of the day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import MarginStatus
from hashedge.domain.units import require_sats


class EventKind(str, Enum):
    MARGIN_CALL = "margin_call"
    LIQUIDATABLE = "liquidatable"
    HEALTHY = "healthy"
    LIQUIDATION = "liquidation"
    ADL = "adl"


STATUS_EVENTS = {MarginStatus.MARGIN_CALL: EventKind.MARGIN_CALL, MarginStatus.LIQUIDATABLE: EventKind.LIQUIDATABLE,
                 MarginStatus.HEALTHY: EventKind.HEALTHY}


@dataclass(frozen=True, kw_only=True)
class Standing:
    """An account's equity and requirements at one moment (as the sweep or the engine saw them)."""

    equity_sats: int
    initial_margin_sats: int
    maintenance_margin_sats: int

    def __post_init__(self) -> None:
        for name in ("equity_sats", "initial_margin_sats", "maintenance_margin_sats"):
            require_sats(getattr(self, name), name)

    @property
    def status(self) -> MarginStatus:
        if self.equity_sats < self.maintenance_margin_sats:
            return MarginStatus.LIQUIDATABLE
        if self.equity_sats < self.initial_margin_sats:
            return MarginStatus.MARGIN_CALL
        return MarginStatus.HEALTHY


@dataclass(frozen=True, kw_only=True)
class AccountEvent:
    account_id: str
    kind: EventKind
    occurred_at: datetime
    standing: Standing
    liquidation_id: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        if self.occurred_at.tzinfo is None:
            raise InvalidValue("occurred_at", self.occurred_at, "must be timezone-aware (UTC)")


def status_changes(stored: Mapping[str, MarginStatus], current: Mapping[str, Standing],
                   at: datetime) -> list[AccountEvent]:
    """One event per account whose status differs from the stored one (absent = healthy), in
    account order. Accounts not in ``current`` are left alone."""
    events = []
    for account_id in sorted(current, key=_account_order):
        standing = current[account_id]
        if standing.status is not MarginStatus(stored.get(account_id, MarginStatus.HEALTHY)):
            events.append(AccountEvent(account_id=account_id, kind=STATUS_EVENTS[standing.status], occurred_at=at,
                                       standing=standing))
    return events


def _account_order(account_id: str) -> tuple[int, str]:
    return (int(account_id), "") if account_id.isdigit() else (0, account_id)

"""Margin calls: record each account's change of margin status as an account event, and read them.

``record_status_changes`` takes a risk sweep (``services.risk.sweep``: every account's equity and
requirements at the latest marks) and, in one transaction, compares each account's status with
the one stored last time (``account_risk_status``; no row = healthy), writes one event per change
(``domain.account_events.status_changes``: ``margin_call``, ``liquidatable``, ``healthy``) and
stores the new statuses. A sweep that finds nothing new writes nothing.

What a margin call means is enforced where it matters, by the margin engine: an account whose
equity is below initial margin has negative free collateral, so the pre-trade check lets only
orders that reduce a position through (``domain.margin.pre_trade_check``) and the withdrawal
check finds nothing withdrawable (``domain.margin.withdrawable_sats``).
"""

from __future__ import annotations

from datetime import datetime

from hashedge.adapters.repositories.risk import StoredEvent
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain.account_events import AccountEvent, Standing, status_changes
from hashedge.services.accounts import require_account
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page, check_window
from hashedge.services.risk import RiskSweep


def standings(result: RiskSweep) -> dict[str, Standing]:
    """Each account's standing from a sweep's frame."""
    frame = result.accounts
    return {str(account_id): Standing(equity_sats=int(e), initial_margin_sats=int(i), maintenance_margin_sats=int(m))
            for account_id, e, i, m in zip(frame.index, frame["equity_sats"], frame["initial_margin_sats"],
                                           frame["maintenance_margin_sats"])}


def record_status_changes(uow: UnitOfWork, result: RiskSweep) -> list[AccountEvent]:
    """Write an event for every account whose status changed since the last recorded sweep."""
    current = standings(result)
    with uow:
        stored = uow.account_status.not_healthy()
        events = status_changes(stored, current, result.as_of)
        for event in events:
            uow.account_status.set(event.account_id, event.standing.status, event.occurred_at)
        uow.account_events.add_many(events)
        uow.commit()
    return events


def account_event_page(uow: UnitOfWork, account_id: int, *, start: datetime | None = None,
                       end: datetime | None = None, page: int = 1,
                       page_size: int = DEFAULT_PAGE_SIZE) -> Page[StoredEvent]:
    """The account's events, newest first: a page of the list convention (``services.pages``),
    filtered by the time of the event with ``start``/``end``."""
    offset = check_page(page, page_size)
    check_window(start, end)
    with uow:
        require_account(uow, account_id)
        items = uow.account_events.of_account(account_id, start=start, end=end, limit=page_size, offset=offset)
        total = uow.account_events.count_of_account(account_id, start=start, end=end)
    return Page(items, total, page, page_size)

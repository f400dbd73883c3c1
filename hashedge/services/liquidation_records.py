"""Reading liquidation records, and replaying one from its stored inputs.

``replay`` loads a record, rebuilds the engine's inputs from the stored JSON
(``domain.liquidation.record.inputs_from_json``), runs the engine again and compares the result with
the stored outcome field by field: an empty list means the record is exactly what the published
procedure gives on those inputs. Anyone holding the record can do the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hashedge.adapters.repositories.liquidation import StoredLiquidation
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain.liquidation import liquidate
from hashedge.domain.liquidation.record import differences, inputs_from_json, outcome_json
from hashedge.errors import NotFound
from hashedge.services.accounts import require_account
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page, check_window


@dataclass(frozen=True)
class Replay:
    liquidation_id: str
    differences: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences


def liquidation_page(uow: UnitOfWork, *, account_id: int | None = None, start: datetime | None = None,
                     end: datetime | None = None, page: int = 1,
                     page_size: int = DEFAULT_PAGE_SIZE) -> Page[StoredLiquidation]:
    """Newest first, a page of the list convention (``services.pages``) filtered by the time of the
    liquidation; only one account's when ``account_id`` is given."""
    offset = check_page(page, page_size)
    check_window(start, end)
    with uow:
        if account_id is not None:
            require_account(uow, account_id)
        items = uow.liquidations.listing(account_id=account_id, start=start, end=end, limit=page_size,
                                         offset=offset)
        total = uow.liquidations.count(account_id=account_id, start=start, end=end)
    return Page(items, total, page, page_size)


def get_liquidation(uow: UnitOfWork, liquidation_id: str, *, account_id: int | None = None) -> StoredLiquidation:
    """One record; another account's is NotFound when ``account_id`` is given (never a hint it exists)."""
    with uow:
        record = uow.liquidations.get(liquidation_id) if isinstance(liquidation_id, str) else None
    if record is None or (account_id is not None and record.account_id != account_id):
        raise NotFound(f"no liquidation {liquidation_id!r}", fields={"liquidation_id": ["unknown liquidation"]})
    return record


def replay(uow: UnitOfWork, liquidation_id: str) -> Replay:
    """Recompute the record's outcome from its inputs (module docstring)."""
    record = get_liquidation(uow, liquidation_id)
    recomputed = outcome_json(liquidate(inputs_from_json(record.inputs)))
    return Replay(record.id, differences(record.outcome, recomputed))

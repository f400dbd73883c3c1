"""The insurance fund: its public balance and history, and the platform's contributions to it.

The fund is the ``insurance_fund`` platform account. It grows by its share of each date's
liquidation penalties (and the remainders of the split, ``services.penalties``) and by the
platform's own contributions (``contribute``: bitcoin arriving in custody for the fund, like CME's
own capital in its default waterfall); it shrinks only by covering liquidated accounts' losses
below zero (``services.liquidation``). Everyone may read it (``GET /api/v1/insurance-fund``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.errors import InvalidInput
from hashedge.services.ledger import (
    MAX_PAGE,
    MAX_PAGE_SIZE,
    PostedEntry,
    StatementLine,
    post,
    request_key,
    require_amount,
)


@dataclass(frozen=True)
class InsuranceFund:
    balance_sats: int
    contributions_sats: int
    penalty_shares_sats: int
    shortfalls_covered_sats: int  # positive: what it has paid out
    lines: list[StatementLine]  # oldest first, with the balance after each
    total: int
    page: int
    page_size: int


def insurance_fund(uow: UnitOfWork, *, page: int = 1, page_size: int = 100) -> InsuranceFund:
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput("page out of range", fields={"page": [f"must be between 1 and {MAX_PAGE}"]})
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page size out of range", fields={"page_size": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
    fund = ledger.INSURANCE_FUND
    with uow:
        balance = uow.ledger.balances([fund]).get(fund, 0)
        totals = uow.ledger.totals_by_kind(fund)
        movements = uow.ledger.movements(fund, limit=page_size, offset=(page - 1) * page_size)
        total = uow.ledger.count_movements(fund)
        running = uow.ledger.balance_before(fund, movements[0].occurred_at, movements[0].entry_id) if movements else 0
    lines = []
    for m in movements:
        running += m.amount_sats
        lines.append(StatementLine(m.entry_id, m.kind, m.memo, m.occurred_at, m.recorded_at, m.amount_sats, running))
    return InsuranceFund(
        balance_sats=balance, contributions_sats=totals.get(ledger.EntryKind.CONTRIBUTION.value, 0),
        penalty_shares_sats=totals.get(ledger.EntryKind.PENALTY_DISTRIBUTION.value, 0),
        shortfalls_covered_sats=-totals.get(ledger.EntryKind.SHORTFALL_COVER.value, 0),
        lines=lines, total=total, page=page, page_size=page_size)


def contribute(uow: UnitOfWork, clock: Clock, amount_sats: int, idempotency_key: str, *, memo: str = "") -> PostedEntry:
    """The platform puts ``amount_sats`` of its own into the fund (idempotent by key)."""
    amount = require_amount(amount_sats)
    request_key(0, idempotency_key)  # the same rules as a participant's key
    key = f"insurance:{idempotency_key}"
    now = clock.now()
    with uow:
        posted = post(uow, ledger.contribution(ledger.INSURANCE_FUND, amount, idempotency_key=key, occurred_at=now,
                                               memo=memo or "platform contribution to the insurance fund"), now)
        uow.commit()
    return posted

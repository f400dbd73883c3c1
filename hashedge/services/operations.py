"""Read-side use cases for the desk's operations and home pages: settlement runs, job runs,
fixings with their verification status, and the status overview."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from hashedge.adapters.repositories.indices import PublishedFixing
from hashedge.adapters.repositories.jobs import STATUSES as JOB_STATUSES
from hashedge.adapters.repositories.jobs import JobRunRecord
from hashedge.adapters.repositories.trading import SettlementRunRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.errors import DataUnavailable, InvalidInput
from hashedge.services import index_queries
from hashedge.services.fixings import verify_fixings

MAX_PAGE_SIZE = 200


def _page(page: int, page_size: int) -> int:
    if not 1 <= page <= 100_000 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page out of range", fields={"page": [f"page 1 to 100000, size 1 to {MAX_PAGE_SIZE}"]})
    return (page - 1) * page_size


@dataclass(frozen=True)
class SettlementRunLine:
    run: SettlementRunRecord
    instruments_marked: int
    variation_margin_paid_sats: int  # sum of the gains (equal to the losses, less rounding)
    expiries: list[str]
    pending: dict[str, str]


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    page_size: int


def settlement_runs(uow: UnitOfWork, *, page: int = 1, page_size: int = 25) -> Page:
    offset = _page(page, page_size)
    with uow.read_only():
        runs = uow.settlement_runs.recent(limit=page_size, offset=offset)
        total = uow.settlement_runs.count()
    lines = []
    for run in runs:
        variation = run.summary.get("variation_margin_sats", {})
        paid = sum(amount for per_account in variation.values() for amount in per_account.values() if amount > 0)
        lines.append(SettlementRunLine(run, len(variation), paid, sorted(run.summary.get("final_settlements", {})),
                                       run.summary.get("pending", {})))
    return Page(lines, total, page, page_size)


def job_runs(uow: UnitOfWork, *, job: str | None = None, status: str | None = None, page: int = 1,
             page_size: int = 50) -> Page:
    if status and status not in JOB_STATUSES:
        raise InvalidInput(f"unknown status {status!r}", fields={"status": [", ".join(JOB_STATUSES)]})
    offset = _page(page, page_size)
    with uow.read_only():
        runs = uow.job_runs.recent(page_size, offset, job=job or None, status=status or None)
        total = uow.job_runs.count(job=job or None, status=status or None)
    return Page(runs, total, page, page_size)


def job_summary(run: JobRunRecord) -> dict:
    try:
        return json.loads(run.summary) if run.summary else {}
    except ValueError:
        return {"summary": run.summary}


@dataclass(frozen=True)
class FixingLine:
    fixing: PublishedFixing
    verified: bool | None  # None: not checked on this request
    problem: str | None


def fixings(uow: UnitOfWork, *, index: str, page: int = 1, page_size: int = 50, verify: bool = False) -> tuple[Page, int | None]:
    """A page of an index's fixings (newest first) and, when ``verify``, each one's recomputation
    from stored chain data (``services.fixings.verify_fixings``) and how many fixings were checked."""
    offset = _page(page, page_size)
    name = index_queries.definition_of(index).name
    with uow.read_only():
        items = uow.fixings.latest(name, limit=page_size, offset=offset, newest_first=True)
        total = uow.fixings.count_latest(name)
    problems, checked = {}, None
    if verify:
        report = verify_fixings(uow)
        checked = report.checked
        problems = {(m.index, m.kind, m.as_of): m.reason for m in report.mismatches}
    lines = [FixingLine(f, None if not verify else f.identity not in problems, problems.get(f.identity))
             for f in items]
    return Page(lines, total, page, page_size), checked


@dataclass(frozen=True)
class Overview:
    as_of: datetime
    accounts: int
    tip_height: int | None
    latest_fixing: PublishedFixing | None
    instruments_listed: int
    pending_requests: int
    last_settlement: SettlementRunRecord | None
    failed_jobs: list[JobRunRecord]
    recent_jobs: list[JobRunRecord]
    risk_counts: dict[str, int] | None
    risk_note: str | None
    recent_activity: list


def overview(uow: UnitOfWork, clock: Clock) -> Overview:
    from hashedge.services import risk

    with uow.read_only():
        accounts = uow.accounts.count()
        tip = uow.blocks.tip_height()
        latest_fixing = uow.fixings.newest()
        listed = len(uow.instruments.all(("listed",)))
        pending = uow.desk_requests.count(status="pending")
        runs = uow.settlement_runs.recent(limit=1)
        failed = uow.job_runs.recent(5, 0, status="failed")
        recent = uow.job_runs.recent(8, 0)
        activity = uow.audit.page(limit=8, offset=0)
    try:
        counts, note = risk.sweep(uow, clock).counts(), None
    except DataUnavailable as exc:
        counts, note = None, exc.message
    return Overview(clock.now(), accounts, tip, latest_fixing, listed, pending, runs[0] if runs else None,
                    failed, recent, counts, note, activity)

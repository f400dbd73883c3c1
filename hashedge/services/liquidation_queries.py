"""What the desk reads about liquidations: the queue, a record laid out step by step, the ADL queues
and the nightly penalty distributions. Read-only units of work; no rule is decided here.

- ``liquidation_queue``: the accounts in a margin call or liquidatable now, from the vectorized
  risk sweep (``services.risk``), worst first (lowest equity over maintenance margin), each with
  what it lacks to meet maintenance and initial margin;
- ``record_detail``: one stored record (``services.liquidation_records``) as the published
  procedure's steps, each with its fills grouped by takeover stage in the waterfall's order
  (``domain.liquidation.waterfall``), and the shortfall's cover by stage;
- ``adl_queues``: per instrument and side, the deleveraging queue the liquidation engine would use
  now (``services.liquidation.AdlQueues`` on the risk sweep's snapshot), ranked by the domain,
  with each position's quintile (what ``GET /api/v1/positions`` shows);
- ``penalty_distributions``: each business date's distribution (``services.penalties``): who
  received what by the split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from hashedge.adapters.repositories.liquidation import StoredLiquidation
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.liquidation.adl import score
from hashedge.domain.liquidation.waterfall import SHORTFALL_STAGES, TAKEOVER_STAGES
from hashedge.domain.margin import MarginStatus
from hashedge.services.adl_ranks import ranked_queues
from hashedge.services.liquidation import queues_from
from hashedge.services.liquidation_records import get_liquidation
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page
from hashedge.services.penalties import PENALTIES
from hashedge.services.risk import sweep as risk_sweep

TAKEOVER_ORDER = tuple(stage.name for stage in TAKEOVER_STAGES)  # book, backstop_offers, backstop_pool, adl
SHORTFALL_ORDER = tuple(stage.name for stage in SHORTFALL_STAGES)


# --- the queue -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueLine:
    account_id: int
    name: str
    status: str  # margin_call | liquidatable
    equity_sats: int
    initial_margin_sats: int
    maintenance_margin_sats: int
    to_maintenance_sats: int  # what equity lacks to reach maintenance margin (0 in a margin call)
    to_initial_sats: int  # what it lacks to meet the call
    cover: float | None  # equity / maintenance margin (below 1: liquidatable); None without a requirement


@dataclass(frozen=True)
class LiquidationQueue:
    as_of: datetime
    lines: list[QueueLine]
    counts: dict[str, int]

    @property
    def liquidatable(self) -> int:
        return self.counts.get(MarginStatus.LIQUIDATABLE.value, 0)


def liquidation_queue(uow: UnitOfWork, clock: Clock) -> LiquidationQueue:
    """The accounts at risk now, worst first (``RiskSweep.at_risk``); DataUnavailable without marks."""
    result = risk_sweep(uow, clock)
    lines = []
    for account_id, row in result.at_risk().iterrows():
        equity, initial, maintenance = (int(row["equity_sats"]), int(row["initial_margin_sats"]),
                                        int(row["maintenance_margin_sats"]))
        lines.append(QueueLine(int(account_id), row["name"], row["status"], equity, initial, maintenance,
                               max(maintenance - equity, 0), max(initial - equity, 0),
                               equity / maintenance if maintenance else None))
    return LiquidationQueue(result.as_of, lines, result.counts())


# --- one record ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageFills:
    stage: str
    fills: list[dict]  # the stored fills (price, quantity, counterparty, fees_sats, ...)

    @property
    def quantity(self) -> int:
        return sum(f["quantity"] for f in self.fills)


@dataclass(frozen=True)
class StepDetail:
    step: dict  # the stored step: number, instrument_id, side, quantity, closed, equity, maintenance, target
    stages: list[StageFills]  # in the waterfall's order, only the stages that filled something

    @property
    def rows(self) -> list[tuple[str, dict]]:
        """(stage, fill) in the waterfall's order: one table row each."""
        return [(s.stage, f) for s in self.stages for f in s.fills]


@dataclass(frozen=True)
class RecordDetail:
    record: StoredLiquidation
    steps: list[StepDetail]
    covers: list[dict]  # {stage, amount_sats} in the waterfall's order, every stage listed
    cancelled_orders: list[dict]
    trigger: dict
    after: dict
    inputs: dict  # the stored inputs, as recorded
    names: dict[int, str]  # account names, for the account and its counterparties

    @property
    def book_orders(self) -> dict[str, int]:
        """How many resting orders of others the liquidation could reach, per instrument."""
        return {symbol: len(orders) for symbol, orders in self.inputs.get("books", {}).items()}


def record_detail(uow: UnitOfWork, liquidation_id: str) -> RecordDetail:
    """The record's outcome as the procedure's steps; NotFound for an unknown id."""
    record = get_liquidation(uow, liquidation_id)
    with uow.read_only():
        names = uow.accounts.names()
    outcome = record.outcome
    steps = []
    for step in outcome["steps"]:
        fills = [f for f in outcome["fills"] if f["step"] == step["number"]]
        stages = [StageFills(name, [f for f in fills if f["stage"] == name]) for name in TAKEOVER_ORDER]
        steps.append(StepDetail(step, [s for s in stages if s.fills]))
    stored_covers = {c["stage"]: c["amount_sats"] for c in outcome["covers"]}
    covers = [{"stage": name, "amount_sats": stored_covers.get(name, 0)} for name in SHORTFALL_ORDER]
    covers += [{"stage": name, "amount_sats": amount} for name, amount in stored_covers.items()
               if name not in SHORTFALL_ORDER]
    return RecordDetail(record, steps, covers, outcome["cancelled_orders"], outcome["trigger"], outcome["after"],
                        record.inputs, names)


# --- auto-deleveraging queues -------------------------------------------------------------------


@dataclass(frozen=True)
class AdlLine:
    rank: int  # 1 = first to be deleveraged
    account_id: int
    name: str
    quantity: int
    entry_price: Decimal
    equity_sats: int
    score: float  # PnL% x effective leverage (domain.liquidation.adl.score), for reading only
    quintile: int


@dataclass(frozen=True)
class AdlQueue:
    instrument_id: str
    side: str  # long | short: the positions in this queue
    mark: Decimal
    lines: list[AdlLine]


def adl_queues(uow: UnitOfWork, clock: Clock, *, instrument: str | None = None) -> list[AdlQueue]:
    """Every instrument's (or one's) long and short queues, as the engine would rank them now;
    capped contracts are never deleveraged and have none. DataUnavailable without marks."""
    result = risk_sweep(uow, clock)
    snapshot = result.snapshot
    with uow.read_only():
        protected = uow.protection.protected_positions(clock.now().date())
    queues = queues_from(result, protected)
    out = []
    for symbol, side, ranked, fifths in ranked_queues(queues, snapshot, instrument):
        mark = snapshot.marks[symbol]
        lines = [AdlLine(i + 1, int(c.account_id), snapshot.names.get(int(c.account_id), ""), c.quantity,
                         Decimal(c.open_value) / c.quantity, c.equity_sats, float(score(c, mark)),
                         fifths[c.account_id])
                 for i, c in enumerate(ranked)]
        out.append(AdlQueue(symbol, side, mark, lines))
    return out


# --- penalty distributions ---------------------------------------------------------------------


@dataclass(frozen=True)
class PenaltyDistribution:
    business_date: date
    distributed_at: datetime
    total_sats: int
    recipients: list[tuple[int, str, int]]  # (account id, name, sats), most first
    insurance_fund_sats: int
    community_fund_sats: int
    remainder_sats: int
    liquidations: list[str]


def penalty_distributions(uow: UnitOfWork, *, page: int = 1,
                          page_size: int = DEFAULT_PAGE_SIZE) -> Page[PenaltyDistribution]:
    """The nightly distributions, newest date first."""
    offset = check_page(page, page_size)
    with uow.read_only():
        runs = uow.settlement_runs.recent(limit=page_size, offset=offset, kind=PENALTIES)
        total = uow.settlement_runs.count(kind=PENALTIES)
        names = uow.accounts.names()
    items = []
    for run in runs:
        summary = run.summary
        recipients = sorted(((int(a), names.get(int(a), ""), int(v)) for a, v in summary["recipients_sats"].items()),
                            key=lambda r: (-r[2], r[0]))
        items.append(PenaltyDistribution(run.business_date, run.finished_at, summary["total_sats"], recipients,
                                         summary["insurance_fund_sats"], summary["community_fund_sats"],
                                         summary["remainder_sats"], summary["liquidations"]))
    return Page(items, total, page, page_size)

"""The risk sweep: equity, margin and status of every account at once, at the latest marks.

Loads every open position and every collateral balance in two queries and hands them to
``domain.margin_batch`` (vectorized, equal to the per-account ``domain.margin`` to the sat). It
reads without locks: a sweep is a consistent snapshot of one transaction, for monitoring and for
the liquidation engine to pick candidates that it then re-checks under the account's lock.
Open orders are not in the sweep (see ``margin_batch``); resting orders only raise the
requirement of the pre-trade and withdrawal checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import MarginStatus
from hashedge.domain.margin_batch import margin_batch
from hashedge.errors import DataUnavailable, InvalidInput
from hashedge.services.margin import risk_parameters


@dataclass(frozen=True)
class RiskSnapshot:
    """What the sweep read, in one transaction: every open position, collateral balance and mark."""

    positions: pd.DataFrame  # margin_batch's position columns, account ids as text
    collateral_sats: dict[str, int]
    marks: dict[str, Decimal]
    specs: dict[str, ContractSpec]
    names: dict[int, str]


@dataclass(frozen=True)
class RiskSweep:
    as_of: datetime
    accounts: pd.DataFrame  # one row per account (index ``account_id``, text), margin_batch's columns + name
    snapshot: RiskSnapshot | None = None

    def at_risk(self) -> pd.DataFrame:
        """The accounts in a margin call or liquidatable, the worst (lowest equity over maintenance) first."""
        frame = self.accounts[self.accounts["status"] != MarginStatus.HEALTHY.value]
        cover = [e / m if m else 0 for e, m in zip(frame["equity_sats"], frame["maintenance_margin_sats"])]
        return frame.assign(_cover=cover).sort_values("_cover", kind="stable").drop(columns="_cover")

    def counts(self) -> dict[str, int]:
        counts = self.accounts["status"].value_counts()
        return {status.value: int(counts.get(status.value, 0)) for status in MarginStatus}


def load_snapshot(uow: UnitOfWork) -> RiskSnapshot:
    with uow.read_only():
        positions = uow.positions.open_frame()
        collateral = uow.ledger.collateral_balances()
        symbols = set(positions["instrument_id"])
        marks = {symbol: record.price for symbol, record in uow.marks.latest(symbols).items()}
        missing = sorted(symbols - set(marks))
        if missing:
            raise DataUnavailable(f"no mark yet for {', '.join(missing)}: run `hashedge instruments refresh`",
                                  fields={"instrument": [f"{symbol} has no mark" for symbol in missing]})
        specs = uow.instruments.specs(symbols)
        names = uow.accounts.names()
    return RiskSnapshot(positions, collateral, marks, specs, names)


def sweep(uow: UnitOfWork, clock: Clock) -> RiskSweep:
    snapshot = load_snapshot(uow)
    result = margin_batch(snapshot.positions, snapshot.collateral_sats, snapshot.marks, risk_parameters(uow),
                          specs=snapshot.specs)
    result.insert(0, "name", [snapshot.names.get(int(account_id), "") for account_id in result.index])
    return RiskSweep(clock.now(), result, snapshot)


@dataclass(frozen=True)
class MonitorLine:
    account_id: int
    name: str
    status: str
    equity_sats: int
    initial_margin_sats: int
    maintenance_margin_sats: int
    free_collateral_sats: int
    margin_usage: float | None  # initial margin / equity; None when equity is not positive


def margin_monitor(uow: UnitOfWork, clock: Clock, *, status: str | None = None) -> tuple[RiskSweep, list[MonitorLine]]:
    """Accounts with margin, the most used first (no positive equity first of all), optionally only
    one status; the sweep's figures (equal to the margin engine's)."""
    if status and status not in {s.value for s in MarginStatus}:
        raise InvalidInput(f"unknown status {status!r}", fields={"status": ["healthy, margin_call or liquidatable"]})
    result = sweep(uow, clock)
    lines = []
    for account_id, row in result.accounts.iterrows():
        if status and row["status"] != status:
            continue
        equity, initial = int(row["equity_sats"]), int(row["initial_margin_sats"])
        if initial == 0 and not status:
            continue  # no positions: nothing to monitor
        lines.append(MonitorLine(int(account_id), row["name"], row["status"], equity, initial,
                                 int(row["maintenance_margin_sats"]), int(row["free_collateral_sats"]),
                                 initial / equity if equity > 0 else None))
    lines.sort(key=lambda line: (line.margin_usage is not None, -(line.margin_usage or 0), line.account_id))
    return result, lines

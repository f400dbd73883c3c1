"""Repository for liquidation records: the stored JSON in and out, with the summary columns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from hashedge.adapters.orm.liquidation import AdlRankRow, LiquidationRow


@dataclass(frozen=True)
class StoredLiquidation:
    id: str
    account_id: int
    sequence: int
    occurred_at: datetime
    business_date: date
    notional_closed_sats: int
    penalty_sats: int
    shortfall_sats: int
    insurance_fund_sats: int
    adl_contracts: int
    uncovered_sats: int
    inputs: dict
    outcome: dict
    parameters_version_id: int | None = None  # the governed parameters' version it used


def _stored(row: LiquidationRow) -> StoredLiquidation:
    return StoredLiquidation(row.id, row.account_id, row.sequence, row.occurred_at, row.business_date,
                             row.notional_closed_sats, row.penalty_sats, row.shortfall_sats, row.insurance_fund_sats,
                             row.adl_contracts, row.uncovered_sats, json.loads(row.inputs), json.loads(row.outcome),
                             row.parameters_version_id)


WATERFALL_LOCK = 0x48454C57  # "HELW": pg_advisory_xact_lock key of the liquidation waterfall


class LiquidationRepository:
    def __init__(self, session: Session):
        self.session = session

    def lock_waterfall(self) -> None:
        """Serialize the decisions on what the shared funds pay (one liquidation at a time reads the
        insurance fund and draws from it), until the transaction ends. PostgreSQL: a
        transaction-scoped advisory lock, taken after the collateral rows and before the commit's
        platform rows (``hashedge/domain/JOURNAL.md``); only liquidations take it, and they never
        wait for it while holding a platform row. SQLite serializes writers already."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WATERFALL_LOCK})

    def count_for(self, account_id: int) -> int:
        return self.session.scalar(select(func.count()).select_from(LiquidationRow)
                                   .where(LiquidationRow.account_id == account_id)) or 0

    def add(self, record: StoredLiquidation, *, inputs_text: str, outcome_text: str) -> None:
        self.session.execute(insert(LiquidationRow), [{
            "id": record.id, "account_id": record.account_id, "sequence": record.sequence,
            "occurred_at": record.occurred_at, "business_date": record.business_date,
            "notional_closed_sats": record.notional_closed_sats, "penalty_sats": record.penalty_sats,
            "shortfall_sats": record.shortfall_sats, "insurance_fund_sats": record.insurance_fund_sats,
            "adl_contracts": record.adl_contracts, "uncovered_sats": record.uncovered_sats,
            "inputs": inputs_text, "outcome": outcome_text, "parameters_version_id": record.parameters_version_id,
        }])

    def get(self, liquidation_id: str) -> StoredLiquidation | None:
        row = self.session.get(LiquidationRow, liquidation_id)
        return _stored(row) if row else None

    @staticmethod
    def _conditions(account_id: int | None, start: datetime | None, end: datetime | None) -> list:
        conditions = []
        if account_id is not None:
            conditions.append(LiquidationRow.account_id == account_id)
        if start is not None:
            conditions.append(LiquidationRow.occurred_at >= start)
        if end is not None:
            conditions.append(LiquidationRow.occurred_at <= end)
        return conditions

    def listing(self, *, account_id: int | None = None, start: datetime | None = None, end: datetime | None = None,
                limit: int = 100, offset: int = 0) -> list[StoredLiquidation]:
        """Newest first (by time, then id)."""
        query = select(LiquidationRow).where(*self._conditions(account_id, start, end))
        query = query.order_by(LiquidationRow.occurred_at.desc(), LiquidationRow.id.desc()).limit(limit).offset(offset)
        return [_stored(row) for row in self.session.scalars(query).all()]

    def count(self, *, account_id: int | None = None, start: datetime | None = None,
              end: datetime | None = None) -> int:
        return self.session.scalar(select(func.count()).select_from(LiquidationRow)
                                   .where(*self._conditions(account_id, start, end))) or 0

    def on_date(self, business_date: date) -> list[StoredLiquidation]:
        query = (select(LiquidationRow).where(LiquidationRow.business_date == business_date)
                 .order_by(LiquidationRow.occurred_at, LiquidationRow.id))
        return [_stored(row) for row in self.session.scalars(query).all()]

    def dates_with_penalties(self, up_to: date) -> list[date]:
        query = (select(LiquidationRow.business_date).where(LiquidationRow.business_date <= up_to,
                                                            LiquidationRow.penalty_sats > 0)
                 .group_by(LiquidationRow.business_date).order_by(LiquidationRow.business_date))
        return list(self.session.scalars(query).all())

    def totals(self) -> dict[str, int]:
        row = self.session.execute(select(
            func.count(), func.coalesce(func.sum(LiquidationRow.penalty_sats), 0),
            func.coalesce(func.sum(LiquidationRow.insurance_fund_sats), 0),
            func.coalesce(func.sum(LiquidationRow.uncovered_sats), 0))).one()
        return {"liquidations": int(row[0]), "penalties_sats": int(row[1]), "insurance_fund_sats": int(row[2]),
                "uncovered_sats": int(row[3])}


@dataclass(frozen=True)
class AdlRank:
    instrument_id: str
    account_id: int
    side: str  # long | short
    rank: int
    queue_length: int
    quintile: int
    ranked_at: datetime


class AdlRankRepository:
    """The positions' places in their deleveraging queues as of the last sweep (``services.adl_ranks``)."""

    def __init__(self, session: Session):
        self.session = session

    def replace_all(self, ranks: list[AdlRank], at: datetime) -> int:
        """Make the stored ranks exactly ``ranks``, writing only the rows that changed (most
        positions keep their place from one sweep to the next), then stamp every row ranked
        ``at`` in one statement; returns the rows that changed."""
        table = AdlRankRow.__table__
        c = table.c
        stored = {(r.instrument, r.account_id): (r.side, r.rank, r.queue_length, r.quintile)
                  for r in self.session.execute(select(c.instrument, c.account_id, c.side, c.rank, c.queue_length,
                                                       c.quintile))}
        wanted = {(r.instrument_id, r.account_id): r for r in ranks}
        gone = [{"b_instrument": i, "b_account": a} for i, a in stored.keys() - wanted.keys()]
        changed = [r for key, r in wanted.items() if key in stored
                   and stored[key] != (r.side, r.rank, r.queue_length, r.quintile)]
        new = [r for key, r in wanted.items() if key not in stored]
        key_matches = (c.instrument == bindparam("b_instrument")) & (c.account_id == bindparam("b_account"))
        if gone:
            self.session.execute(delete(table).where(key_matches), gone)
        if changed:
            self.session.execute(update(table).where(key_matches).values(
                side=bindparam("b_side"), rank=bindparam("b_rank"), queue_length=bindparam("b_length"),
                quintile=bindparam("b_quintile")), [
                {"b_instrument": r.instrument_id, "b_account": r.account_id, "b_side": r.side, "b_rank": r.rank,
                 "b_length": r.queue_length, "b_quintile": r.quintile} for r in changed])
        if new:
            self.session.execute(insert(table), [
                {"instrument": r.instrument_id, "account_id": r.account_id, "side": r.side, "rank": r.rank,
                 "queue_length": r.queue_length, "quintile": r.quintile, "ranked_at": r.ranked_at} for r in new])
        self.session.execute(update(table).values(ranked_at=at))
        return len(gone) + len(changed) + len(new)

    def of_account(self, account_id: int) -> dict[str, AdlRank]:
        """The account's ranks, by instrument."""
        c = AdlRankRow.__table__.c
        rows = self.session.execute(select(AdlRankRow.__table__).where(c.account_id == account_id))
        return {r.instrument: AdlRank(r.instrument, r.account_id, r.side, r.rank, r.queue_length, r.quintile,
                                      r.ranked_at) for r in rows}

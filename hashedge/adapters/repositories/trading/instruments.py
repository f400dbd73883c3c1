"""Instruments (listing, status and their order sequences, locked by the order path), their marks
and the settlement runs."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from hashedge.adapters.append_order import MARKS_LOCK, appending_in_id_order
from hashedge.adapters.bulk_rows import update_rows
from hashedge.adapters.orm.trading import InstrumentRow, InstrumentSequenceRow, MarkRow, SettlementRunRow
from hashedge.adapters.repositories.trading.records import (InstrumentRecord, MarkRecord, SettlementRunRecord,
                                                            contract_spec, decimal_or_none, decimal_text,
                                                            instrument_record)
from hashedge.adapters.write_pipeline import pipeline_of
from hashedge.domain.instruments import ContractSpec

# PostgreSQL, in a write pipeline: the instruments' rows locked in symbol order
_LOCK_SEQUENCES = text("SELECT instrument, last_sequence FROM instrument_sequences "
                       "WHERE instrument = ANY(CAST(:symbols AS text[])) ORDER BY instrument FOR UPDATE")


class InstrumentRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, spec: ContractSpec, listed_at: datetime) -> None:
        self.session.add(InstrumentRow(
            symbol=spec.symbol, product=spec.product.value, underlying=spec.underlying,
            multiplier=decimal_text(spec.multiplier), multiplier_unit=spec.multiplier_unit, quote_unit=spec.quote_unit,
            tick_size=decimal_text(spec.tick_size), lot_size=spec.lot_size, last_trading_time=spec.last_trading_time,
            settlement_rule=spec.settlement_rule.value, floor=decimal_text(spec.floor), cap=decimal_text(spec.cap),
            status="listed", listed_at=listed_at,
        ))
        self.session.add(InstrumentSequenceRow(instrument=spec.symbol, last_sequence=0))
        self.session.flush()

    def get(self, symbol: str) -> InstrumentRecord | None:
        table = InstrumentRow.__table__  # a plain row: read on every order
        row = self.session.execute(select(table).where(table.c.symbol == symbol)).first()
        return instrument_record(row) if row else None

    def get_many(self, symbols) -> dict[str, InstrumentRecord]:
        """``get`` for several symbols in one statement: those that exist, by symbol."""
        wanted = sorted(set(symbols))
        if not wanted:
            return {}
        table = InstrumentRow.__table__
        return {row.symbol: instrument_record(row) for row in self.session.execute(
            select(table).where(table.c.symbol.in_(wanted)))}

    def all(self, statuses: tuple[str, ...] | None = None) -> list[InstrumentRecord]:
        table = InstrumentRow.__table__  # plain rows: listed on every GET /instruments
        query = select(table).order_by(table.c.last_trading_time, table.c.symbol)
        if statuses:
            query = query.where(table.c.status.in_(statuses))
        return [instrument_record(row) for row in self.session.execute(query)]

    def specs(self, symbols) -> dict[str, ContractSpec]:
        """The specs of the instruments among ``symbols`` that exist, in one statement."""
        wanted = sorted(set(symbols))
        if not wanted:
            return {}
        table = InstrumentRow.__table__
        rows = self.session.execute(select(table.c.symbol, table.c.last_trading_time, table.c.floor, table.c.cap)
                                    .where(table.c.symbol.in_(wanted)))
        return {row.symbol: contract_spec(row.symbol, row.last_trading_time, row.floor, row.cap) for row in rows}

    def symbols(self) -> set[str]:
        return set(self.session.scalars(select(InstrumentRow.symbol)).all())

    def first_listed_at(self) -> datetime | None:
        """When the platform listed its first contract (settled ones included); None before."""
        return self.session.scalar(select(func.min(InstrumentRow.listed_at)))

    def set_status(self, symbol: str, status: str, *, final_price: Decimal | None = None,
                   settled_at: datetime | None = None) -> None:
        values = {"status": status}
        if final_price is not None:
            values |= {"final_price": decimal_text(final_price), "settled_at": settled_at}
        self.session.execute(update(InstrumentRow).where(InstrumentRow.symbol == symbol).values(**values))

    def lock_sequence(self, symbol: str) -> int | None:
        """The instrument's last order sequence, its row locked until the transaction ends."""
        return self.session.scalar(
            select(InstrumentSequenceRow.last_sequence).where(InstrumentSequenceRow.instrument == symbol)
            .with_for_update()
        )

    def lock_sequences(self, symbols) -> dict[str, int]:
        """Lock several instruments' rows, in symbol order (no deadlock between lockers); returns
        their last order sequences."""
        return self.lock_sequences_later(symbols)()

    def lock_sequences_later(self, symbols) -> Callable[[], dict[str, int]]:
        """``lock_sequences``, answered by the function returned: inside a write pipeline the
        locks are queued in their turn and read with the next answer wanted
        (``adapters.write_pipeline``), else taken at once."""
        symbols = sorted(set(symbols))
        if not symbols:
            return dict
        if (pipeline := pipeline_of(self.session)) is not None:
            rows = pipeline.later(_LOCK_SEQUENCES, {"symbols": symbols})
            return lambda: {symbol: last for symbol, last in rows()}
        rows = self.session.execute(
            select(InstrumentSequenceRow.instrument, InstrumentSequenceRow.last_sequence)
            .where(InstrumentSequenceRow.instrument.in_(symbols))
            .order_by(InstrumentSequenceRow.instrument).with_for_update()
        ).all()
        locked = {symbol: last for symbol, last in rows}
        return lambda: locked

    def set_sequence(self, symbol: str, last_sequence: int) -> None:
        self.session.execute(update(InstrumentSequenceRow).where(InstrumentSequenceRow.instrument == symbol)
                             .values(last_sequence=last_sequence))

    def set_sequences(self, last_sequences: dict[str, int]) -> None:
        """``set_sequence`` for several instruments in one statement, in symbol order."""
        update_rows(self.session, InstrumentSequenceRow.__table__, ["instrument"],
                    [{"instrument": s, "last_sequence": n} for s, n in sorted(last_sequences.items())])


class MarkRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, instrument: str, as_of: datetime, price: Decimal, source: str,
            model_price: Decimal | None) -> None:
        appending_in_id_order(self.session, MARKS_LOCK)  # the newest id versions the kept list
        self.session.add(MarkRow(instrument=instrument, as_of=as_of, price=decimal_text(price), source=source,
                                 model_price=decimal_text(model_price)))
        self.session.flush()

    def latest(self, instruments=None, *, at_or_before: datetime | None = None) -> dict[str, MarkRecord]:
        """The latest mark of each instrument (optionally as of a moment): one statement reading
        the newest entry of ``ix_marks_instrument_id`` per instrument, however many marks are
        stored."""
        params = {}
        if instruments is not None:
            params["symbols"] = sorted(set(instruments))
            if not params["symbols"]:
                return {}
        if at_or_before is not None:
            params["at_or_before"] = at_or_before
        statement = _latest_marks(instruments is not None, at_or_before is not None)
        return {row.instrument: MarkRecord(row.instrument, row.as_of, Decimal(row.price), row.source,
                                           decimal_or_none(row.model_price))
                for row in self.session.execute(statement, params)}


@functools.cache
def _latest_marks(some_instruments: bool, as_of_bound: bool):
    """``SELECT marks WHERE id IN (newest mark id of each instrument)``, the newest found by a
    subquery correlated to the instruments table: one statement shape for any set of symbols."""
    marks, instruments = MarkRow.__table__, InstrumentRow.__table__
    newer = marks.alias("newer")
    newest = select(newer.c.id).where(newer.c.instrument == instruments.c.symbol)
    if as_of_bound:
        newest = newest.where(newer.c.as_of <= bindparam("at_or_before"))
    newest = newest.order_by(newer.c.id.desc()).limit(1).correlate(instruments).scalar_subquery()
    ids = select(newest).select_from(instruments)
    if some_instruments:
        ids = ids.where(instruments.c.symbol.in_(bindparam("symbols", expanding=True)))
    return select(marks).where(marks.c.id.in_(ids))


class SettlementRunRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, business_date: date, kind: str) -> SettlementRunRecord | None:
        row = self.session.scalar(select(SettlementRunRow).where(
            SettlementRunRow.business_date == business_date, SettlementRunRow.kind == kind))
        if row is None:
            return None
        return SettlementRunRecord(row.business_date, row.kind, row.status, json.loads(row.summary),
                                   row.started_at, row.finished_at)

    def recent(self, *, limit: int, offset: int = 0, kind: str | None = None) -> list[SettlementRunRecord]:
        query = select(SettlementRunRow).order_by(SettlementRunRow.business_date.desc(), SettlementRunRow.kind)
        if kind is not None:
            query = query.where(SettlementRunRow.kind == kind)
        return [SettlementRunRecord(row.business_date, row.kind, row.status, json.loads(row.summary),
                                    row.started_at, row.finished_at)
                for row in self.session.scalars(query.limit(limit).offset(offset))]

    def count(self, *, kind: str | None = None) -> int:
        query = select(func.count()).select_from(SettlementRunRow)
        if kind is not None:
            query = query.where(SettlementRunRow.kind == kind)
        return int(self.session.scalar(query) or 0)

    def latest_date(self, kind: str) -> date | None:
        return self.session.scalar(select(func.max(SettlementRunRow.business_date)).where(
            SettlementRunRow.kind == kind))

    def add_completed(self, business_date: date, kind: str, summary: dict, started_at: datetime,
                      finished_at: datetime) -> None:
        self.session.add(SettlementRunRow(business_date=business_date, kind=kind, status="completed",
                                          summary=json.dumps(summary, default=str), started_at=started_at,
                                          finished_at=finished_at))
        self.session.flush()

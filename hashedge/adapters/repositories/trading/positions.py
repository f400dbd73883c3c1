"""Positions per (account, instrument): read one, an account's, several accounts' or an
instrument's; stored in bulk as a batch moved them; holders and net quantity."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashedge.adapters.bulk_rows import insert_rows, update_rows
from hashedge.adapters.orm.trading import InstrumentRow, PositionRow
from hashedge.adapters.repositories.trading.records import BULK_BATCH_ROWS, POSITION_KEY, decimal_text, position_values
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.positions import Position


class PositionRepository:
    def __init__(self, session: Session):
        self.session = session

    @staticmethod
    def _position(row: PositionRow, multiplier: Decimal) -> Position:
        return Position(account_id=str(row.account_id), instrument_id=row.instrument, multiplier=multiplier,
                        quantity=row.quantity, open_value=Decimal(row.open_value),
                        realized_pnl_sats=row.realized_pnl_sats)

    def _multipliers(self) -> dict[str, Decimal]:
        return {s: Decimal(m) for s, m in self.session.execute(
            select(InstrumentRow.symbol, InstrumentRow.multiplier)).all()}

    def get(self, account_id: int, spec: ContractSpec) -> Position:
        """The stored position, or a flat one."""
        row = self.session.get(PositionRow, (account_id, spec.symbol))
        if row is None:
            return Position(account_id=str(account_id), instrument_id=spec.symbol, multiplier=spec.multiplier)
        return self._position(row, spec.multiplier)

    def of_account(self, account_id: int, *, include_flat: bool = False, instrument: str | None = None) -> list[Position]:
        query = select(PositionRow).where(PositionRow.account_id == account_id)
        if instrument:
            query = query.where(PositionRow.instrument == instrument)
        if not include_flat:
            query = query.where(PositionRow.quantity != 0)
        # each row with its contract's multiplier, in the one statement
        rows = self.session.execute(query.add_columns(InstrumentRow.multiplier)
                                    .join(InstrumentRow, InstrumentRow.symbol == PositionRow.instrument)
                                    .order_by(PositionRow.instrument)).all()
        return [self._position(row, Decimal(multiplier)) for row, multiplier in rows]

    def of_accounts(self, account_ids: list[int]) -> dict[str, list[Position]]:
        """Open positions of several accounts, by account id as text, each sorted by instrument."""
        table = PositionRow.__table__
        rows = self.session.execute(select(table).where(table.c.account_id.in_(account_ids), table.c.quantity != 0)
                                    .order_by(table.c.account_id, table.c.instrument)).all()
        multipliers = self._multipliers()
        found: dict[str, list[Position]] = {}
        for row in rows:
            found.setdefault(str(row.account_id), []).append(self._position(row, multipliers[row.instrument]))
        return found

    def open_in(self, instrument: str, multiplier: Decimal) -> list[Position]:
        table = PositionRow.__table__  # plain rows: settlement reads every open position
        rows = self.session.execute(select(table).where(
            table.c.instrument == instrument, table.c.quantity != 0).order_by(table.c.account_id)).all()
        return [self._position(row, multiplier) for row in rows]

    def open_frame(self) -> pd.DataFrame:
        """Every open position as ``domain.margin_batch`` takes them (account ids as text)."""
        table = PositionRow.__table__
        rows = self.session.execute(select(table.c.account_id, table.c.instrument, table.c.quantity,
                                           table.c.open_value).where(table.c.quantity != 0)).all()
        return pd.DataFrame({"account_id": [str(r[0]) for r in rows], "instrument_id": [r[1] for r in rows],
                             "quantity": [r[2] for r in rows], "open_value": [Decimal(r[3]) for r in rows]},
                            columns=["account_id", "instrument_id", "quantity", "open_value"])

    def instruments_with_positions(self) -> set[str]:
        return set(self.session.scalars(select(PositionRow.instrument).where(PositionRow.quantity != 0)).all())

    def in_instrument(self, account_ids, spec: ContractSpec) -> tuple[dict[str, Position], set[str]]:
        """The accounts' positions in one instrument (flat ones for accounts without a row), by
        account id as text, and the ids that have a stored row: one plain query."""
        table = PositionRow.__table__
        rows = self.session.execute(select(table).where(table.c.instrument == spec.symbol,
                                                        table.c.account_id.in_(sorted(int(a) for a in account_ids))))
        found = {str(row.account_id): self._position(row, spec.multiplier) for row in rows}
        stored = set(found)
        for account in account_ids:
            found.setdefault(str(account), Position(account_id=str(account), instrument_id=spec.symbol,
                                                    multiplier=spec.multiplier))
        return found, stored

    def in_instruments(self, parties: dict[str, set[str]],
                       specs: dict[str, ContractSpec]) -> dict[str, tuple[dict[str, Position], set[str]]]:
        """``in_instrument`` for several instruments (``parties`` by symbol) in one statement."""
        if not parties:
            return {}
        table = PositionRow.__table__
        accounts = sorted({int(a) for ids in parties.values() for a in ids})
        rows = self.session.execute(select(table).where(table.c.instrument.in_(sorted(parties)),
                                                        table.c.account_id.in_(accounts)))
        found: dict[str, tuple[dict[str, Position], set[str]]] = {s: ({}, set()) for s in parties}
        for row in rows:
            if str(row.account_id) in parties[row.instrument]:
                positions, stored = found[row.instrument]
                positions[str(row.account_id)] = self._position(row, specs[row.instrument].multiplier)
                stored.add(str(row.account_id))
        for symbol, ids in parties.items():
            for account in ids:
                found[symbol][0].setdefault(str(account), Position(account_id=str(account), instrument_id=symbol,
                                                                   multiplier=specs[symbol].multiplier))
        return found

    def save_new_states(self, positions: list[Position], stored: set[str], at: datetime) -> None:
        """Store positions read by ``in_instrument``: one INSERT of the new ones, one UPDATE
        statement for those with a row (``stored``)."""
        self.save_read_states([p for p in positions if p.account_id not in stored],
                              [p for p in positions if p.account_id in stored], at)

    def save_read_states(self, new: list[Position], old: list[Position], at: datetime) -> None:
        """Store positions read by ``in_instrument(s)``, of any instruments: one INSERT of those
        without a row (``new``), one UPDATE statement for those with one (``old``)."""
        insert_rows(self.session, PositionRow.__table__, [position_values(p, at) for p in new])
        update_rows(self.session, PositionRow.__table__, POSITION_KEY, [position_values(p, at) for p in old])

    def save(self, position: Position, at: datetime) -> None:
        key = (int(position.account_id), position.instrument_id)
        row = self.session.get(PositionRow, key)
        values = {"quantity": position.quantity, "open_value": decimal_text(position.open_value),
                  "realized_pnl_sats": position.realized_pnl_sats, "updated_at": at}
        if row is None:
            self.session.add(PositionRow(account_id=key[0], instrument=key[1], **values))
        else:
            for name, value in values.items():
                setattr(row, name, value)
        self.session.flush()

    def save_many(self, positions: list[Position], at: datetime) -> None:
        """Store new states of positions that exist already (settlement): one statement per
        ``BULK_BATCH_ROWS`` positions (bounded parameter arrays on PostgreSQL)."""
        self.session.flush()
        for start in range(0, len(positions), BULK_BATCH_ROWS):
            update_rows(self.session, PositionRow.__table__, POSITION_KEY,
                        [position_values(p, at) for p in positions[start:start + BULK_BATCH_ROWS]])

    def count_holders(self, instrument: str, *, long: bool, excluding: int) -> int:
        """How many accounts other than ``excluding`` hold a long (or short) position in ``instrument``."""
        side = PositionRow.quantity > 0 if long else PositionRow.quantity < 0
        return self.session.scalar(select(func.count()).select_from(PositionRow).where(
            PositionRow.instrument == instrument, side, PositionRow.account_id != excluding)) or 0

    def net_quantity(self, instrument: str) -> int:
        return int(self.session.scalar(select(func.coalesce(func.sum(PositionRow.quantity), 0))
                                       .where(PositionRow.instrument == instrument)) or 0)

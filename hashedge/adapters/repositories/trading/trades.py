"""Trades: stored one by one or in bulk, read by order, account and instrument; block trades;
the book's prices since a time (for marks)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import any_, bindparam, func, insert, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from hashedge.adapters.bulk_rows import insert_rows
from hashedge.adapters.orm.trading import TradeRow
from hashedge.adapters.repositories.trading.records import TradeRecord, decimal_text, trade_record
from hashedge.domain.fills import Fill


class TradeRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, fill: Fill, *, kind: str, fees_sats: dict[str, int]) -> None:
        self.session.execute(insert(TradeRow), [{
            "id": fill.fill_id, "kind": kind, "instrument": fill.instrument_id, "price": decimal_text(fill.price),
            "quantity": fill.quantity, "buyer_account_id": int(fill.buyer_account_id),
            "seller_account_id": int(fill.seller_account_id), "buy_order_id": fill.buy_order_id,
            "sell_order_id": fill.sell_order_id,
            "aggressor": fill.aggressor.value if fill.aggressor else None,
            "buyer_fee_sats": fees_sats.get(fill.buyer_account_id, 0),
            "seller_fee_sats": fees_sats.get(fill.seller_account_id, 0), "occurred_at": fill.occurred_at,
        }])

    def add_many(self, trades: list[tuple[Fill, dict[str, int]]], *, kind: str) -> None:
        """``add`` for several fills, each with its fees per account, in one statement."""
        insert_rows(self.session, TradeRow.__table__, [{
            "id": fill.fill_id, "kind": kind, "instrument": fill.instrument_id, "price": decimal_text(fill.price),
            "quantity": fill.quantity, "buyer_account_id": int(fill.buyer_account_id),
            "seller_account_id": int(fill.seller_account_id), "buy_order_id": fill.buy_order_id,
            "sell_order_id": fill.sell_order_id, "aggressor": fill.aggressor.value if fill.aggressor else None,
            "buyer_fee_sats": fees.get(fill.buyer_account_id, 0),
            "seller_fee_sats": fees.get(fill.seller_account_id, 0), "occurred_at": fill.occurred_at,
        } for fill, fees in trades])

    @staticmethod
    def _of_account(account_id: int, instrument: str | None, start: datetime | None, end: datetime | None):
        conditions = [or_(TradeRow.buyer_account_id == account_id, TradeRow.seller_account_id == account_id)]
        if instrument:
            conditions.append(TradeRow.instrument == instrument)
        if start is not None:
            conditions.append(TradeRow.occurred_at >= start)
        if end is not None:
            conditions.append(TradeRow.occurred_at <= end)
        return conditions

    def of_account(self, account_id: int, *, instrument: str | None = None, start: datetime | None = None,
                   end: datetime | None = None, limit: int = 100, offset: int = 0) -> list[TradeRecord]:
        """The account's trades, newest first (ties by id)."""
        query = select(TradeRow).where(*self._of_account(account_id, instrument, start, end))
        query = query.order_by(TradeRow.occurred_at.desc(), TradeRow.id).limit(limit).offset(offset)
        return [trade_record(row) for row in self.session.scalars(query).all()]

    def count_of_account(self, account_id: int, *, instrument: str | None = None, start: datetime | None = None,
                         end: datetime | None = None) -> int:
        conditions = self._of_account(account_id, instrument, start, end)
        return int(self.session.scalar(select(func.count()).select_from(TradeRow).where(*conditions)) or 0)

    def of_orders(self, order_ids) -> dict[str, list[TradeRecord]]:
        """The fills each order took part in, oldest first, in one query."""
        ids = list(order_ids)
        found: dict[str, list[TradeRecord]] = {order_id: [] for order_id in ids}
        if not ids:
            return found
        table = TradeRow.__table__
        c = table.c
        if self.session.get_bind().dialect.name == "postgresql":
            # one array, not two lists of a parameter per id: psycopg keeps a statement of at most
            # 50 parameters converted, and a page's 100 orders made 200 (parsed on every request)
            wanted = bindparam("order_ids", ids, type_=ARRAY(c.buy_order_id.type))
            matching = or_(c.buy_order_id == any_(wanted), c.sell_order_id == any_(wanted))
        else:
            matching = or_(c.buy_order_id.in_(ids), c.sell_order_id.in_(ids))
        # plain rows, not ORM objects (its callers read in read-only units of work)
        for row in self.session.execute(select(table).where(matching).order_by(c.occurred_at, c.id)).all():
            record = trade_record(row)
            for order_id in {row.buy_order_id, row.sell_order_id} & found.keys():
                found[order_id].append(record)
        return found

    def get(self, trade_id: str) -> TradeRecord | None:
        row = self.session.get(TradeRow, trade_id) if isinstance(trade_id, str) else None
        return trade_record(row) if row else None

    def recent_blocks(self, *, limit: int, offset: int = 0) -> list[TradeRecord]:
        query = select(TradeRow).where(TradeRow.kind == "block").order_by(TradeRow.occurred_at.desc(), TradeRow.id)
        return [trade_record(row) for row in self.session.scalars(query.limit(limit).offset(offset)).all()]

    def count_blocks(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(TradeRow).where(TradeRow.kind == "block")) or 0)

    def of_order(self, order_id: str) -> list[TradeRecord]:
        """The fills an order took part in, as buyer or seller, oldest first."""
        query = select(TradeRow).where(or_(TradeRow.buy_order_id == order_id, TradeRow.sell_order_id == order_id))
        return [trade_record(row) for row in self.session.scalars(query.order_by(TradeRow.occurred_at)).all()]

    def blocks_of(self, account_id: int) -> list[Fill]:
        """The OTC block trades the account is a party to, oldest first."""
        query = select(TradeRow).where(TradeRow.kind == "block", or_(TradeRow.buyer_account_id == account_id,
                                                                     TradeRow.seller_account_id == account_id))
        return [trade_record(row).fill for row in self.session.scalars(query.order_by(TradeRow.occurred_at, TradeRow.id))]

    def book_prices_since(self, instrument: str, since: datetime) -> list[tuple[Decimal, int]]:
        """(price, quantity) of the instrument's book trades at or after ``since`` (the mark rule's
        recent trades: block trades and forced closes are not prices anyone offered on the book)."""
        rows = self.session.execute(select(TradeRow.price, TradeRow.quantity).where(
            TradeRow.instrument == instrument, TradeRow.kind == "book", TradeRow.occurred_at >= since)).all()
        return [(Decimal(price), quantity) for price, quantity in rows]

    def of_instrument(self, instrument: str) -> list[TradeRecord]:
        query = select(TradeRow).where(TradeRow.instrument == instrument).order_by(TradeRow.occurred_at)
        return [trade_record(row) for row in self.session.scalars(query).all()]

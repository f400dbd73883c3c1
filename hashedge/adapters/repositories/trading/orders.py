"""Orders: stored one by one or in bulk, their states and amendments, looked up by id or
idempotency key; a book's resting orders and the prefixes of it in price-time priority that a
batch matches against; an account's resting orders and their sums per instrument and side
(ORDER_PATH.md); a book's depth; pages of an account's orders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, insert, literal_column, select, union_all, update
from sqlalchemy.orm import Session

from hashedge.adapters.bulk_rows import insert_rows, update_rows
from hashedge.adapters.orm.trading import OrderAmendmentRow, OrderRow
from hashedge.adapters.repositories.trading.order_statements import (FIRST_PREFIX_ROWS, NO_SYMBOL, PrefixWant,
                                                                     bound_arrays, bound_ticks, bound_values,
                                                                     depth_statement, first_rows_lateral,
                                                                     first_rows_statement, side_in_priority, slots_for,
                                                                     totals_statements, totals_statements_any,
                                                                     used_keys_of, used_keys_statement)
from hashedge.adapters.repositories.trading.records import (RESTING_CONDITION, RESTING_STATUSES, StoredAmendment,
                                                            StoredOrder, decimal_text, order_of, order_values,
                                                            stored_order, ticks_of)
from hashedge.adapters.write_pipeline import pipeline_of
from hashedge.domain.orders import Order


class OrderRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, order: Order, *, style: str, idempotency_key: str | None, at: datetime,
            tick_size: Decimal) -> None:
        self.session.execute(insert(OrderRow.__table__), [order_values(order, style, idempotency_key, at, tick_size)])

    def add_many(self, orders: list[tuple[Order, str, str | None]], *, at: datetime, tick_size: dict[str, Decimal]
                 ) -> None:
        """``add`` for several ``(order, style, idempotency key)`` in one statement (an exchange
        batch's new orders, in their final states); ``tick_size`` per instrument."""
        insert_rows(self.session, OrderRow.__table__, [
            order_values(order, style, key, at, tick_size[order.instrument_id]) for order, style, key in orders])

    def save_state(self, order: Order, at: datetime) -> None:
        """Store a resting order's new state (fills, cancellation)."""
        self.session.execute(update(OrderRow).where(OrderRow.id == order.order_id).values(
            filled_quantity=order.filled_quantity, status=order.status.value,
            cancel_reason=order.cancel_reason.value if order.cancel_reason else None, updated_at=at,
        ))

    def save_states(self, orders, at: datetime) -> None:
        """``save_state`` for several orders in one statement (the makers of a match)."""
        update_rows(self.session, OrderRow.__table__, ["id"], [
            {"id": o.order_id, "filled_quantity": o.filled_quantity, "status": o.status.value,
             "cancel_reason": o.cancel_reason.value if o.cancel_reason else None, "updated_at": at} for o in orders])

    def save_amended(self, order: Order, at: datetime, tick_size: Decimal) -> None:
        """Store a replaced order's new terms (quantity, price, sequence) and resulting state."""
        self.session.execute(update(OrderRow).where(OrderRow.id == order.order_id).values(
            quantity=order.quantity, price=decimal_text(order.price), price_ticks=ticks_of(order.price, tick_size),
            sequence=order.sequence, filled_quantity=order.filled_quantity, status=order.status.value,
            cancel_reason=order.cancel_reason.value if order.cancel_reason else None, updated_at=at,
        ))

    def add_amendment(self, amendment: StoredAmendment) -> None:
        self.session.execute(insert(OrderAmendmentRow), [{
            "order_id": amendment.order_id, "account_id": amendment.account_id, "sequence": amendment.sequence,
            "previous_quantity": amendment.previous_quantity, "previous_price": decimal_text(amendment.previous_price),
            "quantity": amendment.quantity, "price": decimal_text(amendment.price),
            "idempotency_key": amendment.idempotency_key, "occurred_at": amendment.occurred_at,
        }])

    def amendment_by_idempotency_key(self, account_id: int, key: str) -> StoredAmendment | None:
        row = self.session.scalar(select(OrderAmendmentRow).where(OrderAmendmentRow.account_id == account_id,
                                                                  OrderAmendmentRow.idempotency_key == key))
        if row is None:
            return None
        return StoredAmendment(row.order_id, row.account_id, row.sequence, row.previous_quantity,
                               Decimal(row.previous_price), row.quantity, Decimal(row.price), row.idempotency_key,
                               row.occurred_at)

    def get(self, order_id: str) -> StoredOrder | None:
        """The order as stored now: read again even if this session has read it before, so a
        read after taking the instrument's lock sees what other transactions committed."""
        row = self.session.get(OrderRow, order_id, populate_existing=True)
        return stored_order(row) if row else None

    def by_ids(self, order_ids) -> list[StoredOrder]:
        """The orders among ``order_ids`` that exist, in the order given (one query)."""
        ids = list(order_ids)
        if not ids:
            return []
        found = {row.id: stored_order(row) for row in self.session.scalars(select(OrderRow).where(OrderRow.id.in_(ids)))}
        return [found[order_id] for order_id in ids if order_id in found]

    def by_idempotency_keys(self, keys) -> dict[str, StoredOrder]:
        """The orders placed with any of ``keys`` (stored keys, which name their account), by key."""
        keys = sorted(set(keys))
        if not keys:
            return {}
        table = OrderRow.__table__
        rows = self.session.execute(select(table).where(table.c.idempotency_key.in_(keys))).all()
        return {row.idempotency_key: stored_order(row) for row in rows}

    def used_idempotency_keys(self, keys) -> tuple[set[str], set[str]]:
        """Which of ``keys`` (stored keys) orders were placed with, and which amendments used, in
        one statement (the exchange's batch; ``by_idempotency_keys`` then reads only the orders of
        the first, usually none: retries are rare)."""
        return self.used_idempotency_keys_later(keys)()

    def used_idempotency_keys_later(self, keys) -> Callable[[], tuple[set[str], set[str]]]:
        """``used_idempotency_keys``, answered by the function returned: inside a write pipeline
        the statement is queued in its turn and read with the next answer wanted
        (``adapters.write_pipeline``), else read at once."""
        keys = sorted(set(keys))
        if not keys:
            return lambda: (set(), set())
        if (pipeline := pipeline_of(self.session)) is not None:
            rows = pipeline.later(used_keys_statement(), {"keys": keys})
            return lambda: used_keys_of(rows())
        orders, amendments = OrderRow.__table__.c, OrderAmendmentRow.__table__.c
        used = used_keys_of(self.session.execute(union_all(
            select(literal_column("0").label("amendment"), orders.idempotency_key).where(
                orders.idempotency_key.in_(keys)),
            select(literal_column("1"), amendments.idempotency_key).where(amendments.idempotency_key.in_(keys)))))
        return lambda: used

    def by_idempotency_key(self, account_id: int, key: str) -> StoredOrder | None:
        row = self.session.scalar(select(OrderRow).where(OrderRow.account_id == account_id,
                                                         OrderRow.idempotency_key == key))
        return stored_order(row) if row else None

    def _resting(self, condition) -> list[Order]:
        # Plain rows rather than ORM entities: the book is rebuilt from these on every order.
        table = OrderRow.__table__
        rows = self.session.execute(select(table).where(condition, table.c.status.in_(RESTING_STATUSES))).all()
        return [order_of(row) for row in rows]

    def resting(self, instrument: str) -> list[Order]:
        return self._resting(OrderRow.__table__.c.instrument == instrument)

    def crossed_by(self, order: Order, tick_size: Decimal) -> list[Order]:
        """The resting orders ``order`` would trade with: the opposite side at prices it crosses
        (all of the opposite side for a market order). Enough to match it exactly."""
        c = OrderRow.__table__.c
        condition = (c.instrument == order.instrument_id) & (c.side == order.side.opposite.value)
        if order.price is not None:
            ticks = int(order.price / tick_size)
            condition &= (c.price_ticks <= ticks) if order.side.value == "buy" else (c.price_ticks >= ticks)
        return self._resting(condition)

    def crossing(self, order: Order, tick_size: Decimal) -> list[Order]:
        """The resting orders ``order`` would meet, best first in price-time priority, only as many
        as it can reach: loaded in growing batches until the other accounts' orders among them
        hold its remaining quantity (orders of its own account are cancelled, not filled, by
        self-trade prevention) or the orders at prices it crosses run out. Matching this prefix
        gives what the whole book gives: matching walks the same priority and stops once filled;
        a FOK sees enough or everything; a post-only order is refused by the first."""
        ticks = None if order.price is None else int(order.price / tick_size)
        return self.priority_prefix(order.instrument_id, order.side.opposite.value, ticks,
                                    order.remaining_quantity, {int(order.account_id)})

    def priority_prefix(self, instrument: str, side: str, crossed_by_ticks: int | None, wanted_quantity: int,
                        takers: set[int]) -> list[Order]:
        """The resting orders on ``side`` that orders on the other side priced at
        ``crossed_by_ticks`` (None: any price) can reach, best first in price-time priority,
        loaded in growing batches until those of accounts outside ``takers`` hold
        ``wanted_quantity`` or the crossed orders run out (``crossing``; the exchange's batches
        load one prefix for all their orders on a side: ``priority_prefixes``)."""
        return self._prefix_from(PrefixWant(instrument, side, crossed_by_ticks, wanted_quantity), takers, [],
                                 None, FIRST_PREFIX_ROWS)

    def priority_prefixes(self, wants: list[tuple[str, str, int | None, int, set[int]]]
                          ) -> dict[tuple[str, str], list[Order]]:
        """``priority_prefix`` for several (instrument, side, crossed_by_ticks, wanted_quantity,
        takers): the first rows of every one in one statement (a UNION ALL of each side's first
        rows in priority), then, only for a side whose first rows do not hold what is wanted, the
        following ones as ``priority_prefix`` reads them. By (instrument, side)."""
        return self.priority_prefixes_later(wants)()

    def priority_prefixes_later(self, wants: list[tuple[str, str, int | None, int, set[int]]]
                                ) -> Callable[[], dict[tuple[str, str], list[Order]]]:
        """``priority_prefixes``, answered by the function returned: inside a write pipeline the
        first rows are queued in their turn and read with the next answer wanted
        (``adapters.write_pipeline``; the following rows, rarely wanted, when answered), else read
        at once."""
        takers_of = {(w[0], w[1]): w[4] for w in wants}
        wants = [PrefixWant(*w[:4]) for w in wants]
        if not wants:
            return dict
        statement, values = self._first_rows(wants)
        if (pipeline := pipeline_of(self.session)) is not None:
            first_rows = pipeline.later_named(statement, values)
        else:
            read = self.session.execute(statement, values).all()
            first_rows = lambda: read  # noqa: E731

        def answer() -> dict[tuple[str, str], list[Order]]:
            rows_of: dict[tuple[str, str], list] = {(w.instrument, w.side): [] for w in wants}
            for row in first_rows():
                rows_of[(row.instrument, row.side)].append(row)
            found = {}
            for want in wants:
                rows = sorted(rows_of[(want.instrument, want.side)], key=want.priority_key)  # a union keeps no order
                found[(want.instrument, want.side)] = self._prefix_from(
                    want, takers_of[(want.instrument, want.side)], [], rows, FIRST_PREFIX_ROWS)
            return found

        return answer

    def _first_rows(self, wants: list[PrefixWant]):
        """One statement for the first rows of every want (``first_rows_statement``; on
        PostgreSQL ``first_rows_lateral``) and its parameters."""
        if self.session.get_bind().dialect.name == "postgresql":
            values = {}
            for side in ("sell", "buy"):
                mine = [w for w in wants if w.side == side]
                values[f"{side}_instruments"] = [w.instrument for w in mine]
                values[f"{side}_bounds"] = [bound_ticks(w) for w in mine]
            return first_rows_lateral(), values
        values, counts = {}, {}
        for side in ("sell", "buy"):
            mine = [w for w in wants if w.side == side]
            counts[side] = slots_for(len(mine))
            for k in range(counts[side]):
                if k < len(mine):
                    values |= {f"{side}_i{k}": mine[k].instrument, f"{side}_t{k}": bound_ticks(mine[k])}
                else:  # a spare slot
                    values |= {f"{side}_i{k}": NO_SYMBOL, f"{side}_t{k}": 0}
        return first_rows_statement(counts["sell"], counts["buy"]), values

    def _prefix_query(self, want: PrefixWant, after: tuple[int, int] | None):
        query = side_in_priority(want.instrument, want.side, want.crossed_by_ticks)
        if after is not None:
            c = OrderRow.__table__.c
            last_ticks, last_sequence = after
            beyond = c.price_ticks > last_ticks if want.side == "sell" else c.price_ticks < last_ticks
            query = query.where(beyond | ((c.price_ticks == last_ticks) & (c.sequence > last_sequence)))
        return query

    def _prefix_from(self, want: PrefixWant, takers: set[int], found: list[Order], rows: list | None,
                     batch: int) -> list[Order]:
        """Continue a prefix: ``rows`` are the next ``batch`` rows in priority already read (None:
        read them), then read on in batches eight times larger while needed."""
        wanted, after = want.wanted_quantity, None
        while True:
            if rows is None:
                rows = self.session.execute(self._prefix_query(want, after).limit(batch)).all()
            for row in rows:
                found.append(order_of(row))
                if row.account_id not in takers:
                    wanted -= row.quantity - row.filled_quantity
            if wanted <= 0 or len(rows) < batch:
                return found
            after, batch, rows = (rows[-1].price_ticks, rows[-1].sequence), batch * 8, None

    def resting_of(self, account_id: int) -> list[Order]:
        return self._resting(OrderRow.__table__.c.account_id == account_id)

    def resting_instruments_of(self, account_id: int) -> set[str]:
        c = OrderRow.__table__.c
        return set(self.session.scalars(select(c.instrument).where(c.account_id == account_id, RESTING_CONDITION)
                                        .distinct()))

    def resting_instruments_of_accounts(self, account_ids) -> dict[str, set[str]]:
        """``resting_instruments_of`` for several accounts in one query, by account id as text."""
        c = OrderRow.__table__.c
        found: dict[str, set[str]] = {}
        ids = sorted(int(a) for a in account_ids)
        if ids:
            for account_id, instrument in self.session.execute(
                    select(c.account_id, c.instrument).where(c.account_id.in_(ids), RESTING_CONDITION).distinct()):
                found.setdefault(str(account_id), set()).add(instrument)
        return found

    def _totals(self, bounds: dict[str, tuple[int, int, int, Fraction]], *, accounts: bool):
        """The statements of ``resting_totals_of`` (``accounts``: of several accounts) and the
        bounds' values: on PostgreSQL one shape with arrays, on SQLite one per number of slots."""
        if self.session.get_bind().dialect.name == "postgresql":
            return totals_statements_any(accounts), bound_arrays(bounds)
        return totals_statements(slots_for(len(bounds)), accounts), bound_values(bounds)

    def resting_totals_of(self, account_id: int, bounds: dict[str, tuple[int, int, int, Fraction]], *,
                          except_order: str | None = None) -> tuple[list[tuple[str, str, int, int]], list[Order]]:
        """The account's resting orders summed by the database per (instrument, side), and the
        orders outside the sums one by one (``domain.order_levels``). ``bounds`` gives per
        instrument ``(highest buy, lowest sell, highest price, fee per tick)`` in ticks: an
        order is summed if its price is at most the highest price and not beyond its side's
        bound; the sum rows are ``(instrument, side, remaining, remaining x fee of one contract
        at the order's price)``, that fee ``ceil(ticks x fee per tick)`` in integers. Every other
        resting order (another instrument, priced through the mark) comes back as itself.
        ``except_order`` leaves one order out of both."""
        (summed, each), values = self._totals(bounds, accounts=False)
        values |= {"account_id": account_id, "except_order": except_order or ""}
        totals = [] if not bounds else [
            (instrument, side, int(quantity), int(fee_sats))
            for instrument, side, quantity, fee_sats in self.session.execute(summed, values)]
        return totals, [order_of(row) for row in self.session.execute(each, values)]

    def resting_totals_of_accounts(self, account_ids, bounds: dict[str, tuple[int, int, int, Fraction]]
                                   ) -> dict[str, tuple[list[tuple[str, str, int, int]], list[Order]]]:
        """``resting_totals_of`` for several accounts in two statements, by account id as text
        (the summing bounds are the instrument's, whoever's orders they sum)."""
        ids = sorted({int(a) for a in account_ids})
        found: dict[str, tuple[list, list]] = {str(a): ([], []) for a in ids}
        if not ids:
            return found
        (summed, each), values = self._totals(bounds, accounts=True)
        values |= {"account_ids": ids, "except_order": ""}
        if bounds:
            for account_id, instrument, side, quantity, fee_sats in self.session.execute(summed, values):
                found[str(account_id)][0].append((instrument, side, int(quantity), int(fee_sats)))
        for row in self.session.execute(each, values):
            found[str(row.account_id)][1].append(order_of(row))
        return found

    def resting_of_accounts(self, account_ids: list[int]) -> dict[str, list[Order]]:
        """Resting orders of several accounts, by account id as text."""
        found: dict[str, list[Order]] = {}
        for order in self._resting(OrderRow.__table__.c.account_id.in_(account_ids)):
            found.setdefault(order.account_id, []).append(order)
        return found

    def depth(self, instrument: str, side: str, levels: int) -> list[tuple[Decimal, int]]:
        """Resting quantity per price level on one side, best first, at most ``levels`` levels:
        aggregated by the database walking ``ix_orders_book`` in price order, so the cost is the
        orders at the levels returned, not the whole book."""
        rows = self.session.execute(depth_statement(side), {"instrument": instrument, "levels": levels}).all()
        return [(Decimal(price), int(quantity)) for price, quantity in rows]

    @staticmethod
    def _of_account(account_id: int, instrument: str | None, open_only: bool, start: datetime | None,
                    end: datetime | None):
        c = OrderRow.__table__.c
        conditions = [c.account_id == account_id]
        if instrument:
            conditions.append(c.instrument == instrument)
        if open_only:
            conditions.append(c.status.in_(RESTING_STATUSES))
        if start is not None:
            conditions.append(c.created_at >= start)
        if end is not None:
            conditions.append(c.created_at <= end)
        return conditions

    def of_account(self, account_id: int, *, instrument: str | None = None, open_only: bool = False,
                   start: datetime | None = None, end: datetime | None = None, limit: int = 100,
                   offset: int = 0) -> list[StoredOrder]:
        """The account's orders, newest first (ties by id). Plain rows, not ORM objects: a page
        is up to 500 orders read to be shown, in a read-only unit of work (its callers')."""
        table = OrderRow.__table__
        query = select(table).where(*self._of_account(account_id, instrument, open_only, start, end))
        query = query.order_by(table.c.created_at.desc(), table.c.id).limit(limit).offset(offset)
        return [stored_order(row) for row in self.session.execute(query).all()]

    def count_of_account(self, account_id: int, *, instrument: str | None = None, open_only: bool = False,
                         start: datetime | None = None, end: datetime | None = None) -> int:
        conditions = self._of_account(account_id, instrument, open_only, start, end)
        return int(self.session.scalar(select(func.count()).select_from(OrderRow).where(*conditions)) or 0)

"""What the API lists of an account's trading, one page at a time (``services.pages``): orders
with their fills, trades, positions. Reads only; the writes are in ``services.trading``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hashedge.adapters.repositories.trading import TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.services.accounts import require_account
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page, check_window
from hashedge.services.trading import PlacedOrder, PositionView, own_order, with_fills

ORDER_STATUSES = ("all", "open")


def order_page(uow: UnitOfWork, account_id: int, *, status: str = "all", instrument: str | None = None,
               start: datetime | None = None, end: datetime | None = None, page: int = 1,
               page_size: int = DEFAULT_PAGE_SIZE) -> Page[PlacedOrder]:
    """The account's orders created in [start, end], newest first, each with all its fills."""
    offset = check_page(page, page_size)
    check_window(start, end)
    open_only = status == "open"
    with uow.read_only():
        stored = uow.orders.of_account(account_id, instrument=instrument, open_only=open_only, start=start, end=end,
                                       limit=page_size, offset=offset)
        total = uow.orders.count_of_account(account_id, instrument=instrument, open_only=open_only, start=start,
                                            end=end)
        fills = uow.trades.of_orders(s.order.order_id for s in stored)
    return Page([with_fills(s.order, s.style, fills[s.order.order_id]) for s in stored], total, page, page_size)


def order_with_fills(uow: UnitOfWork, account_id: int, order_id: str) -> PlacedOrder:
    """One of the account's orders as stored now, with its fills; another account's is NotFound."""
    with uow.read_only():
        stored = own_order(uow, account_id, order_id)
        return with_fills(stored.order, stored.style, uow.trades.of_order(stored.order.order_id))


def orders_with_fills(uow: UnitOfWork, account_id: int, order_ids) -> list[PlacedOrder]:
    """The account's orders among ``order_ids`` (another account's are left out), in the order
    given, each with its fills: two queries whatever their number."""
    with uow.read_only():
        stored = [s for s in uow.orders.by_ids(order_ids) if s.order.account_id == str(account_id)]
        fills = uow.trades.of_orders(s.order.order_id for s in stored)
    return [with_fills(s.order, s.style, fills[s.order.order_id]) for s in stored]


def trade_page(uow: UnitOfWork, account_id: int, *, instrument: str | None = None, start: datetime | None = None,
               end: datetime | None = None, page: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> Page[TradeRecord]:
    """The account's trades (book fills and block trades) in [start, end], newest first."""
    offset = check_page(page, page_size)
    check_window(start, end)
    with uow.read_only():
        items = uow.trades.of_account(account_id, instrument=instrument, start=start, end=end, limit=page_size,
                                      offset=offset)
        total = uow.trades.count_of_account(account_id, instrument=instrument, start=start, end=end)
    return Page(items, total, page, page_size)


def position_page(uow: UnitOfWork, account_id: int, *, instrument: str | None = None, page: int = 1,
                  page_size: int = DEFAULT_PAGE_SIZE) -> Page[PositionView]:
    """Open positions by instrument with their mark and unrealized PnL (``None`` without a mark)."""
    offset = check_page(page, page_size)
    with uow.read_only():
        require_account(uow, account_id)
        positions = uow.positions.of_account(account_id, instrument=instrument)
        shown = positions[offset:offset + page_size]
        marks = uow.marks.latest([p.instrument_id for p in shown])
    return Page(position_views(shown, {s: m.price for s, m in marks.items()}), len(positions), page, page_size)


def position_views(positions, marks: dict[str, Decimal]) -> list[PositionView]:
    """Each position with its mark (from ``marks``) and unrealized PnL, ``None`` where it has no mark."""
    views = []
    for position in positions:
        mark = marks.get(position.instrument_id)
        views.append(PositionView(position, mark, None if mark is None else position.unrealized_pnl_sats(mark)))
    return views

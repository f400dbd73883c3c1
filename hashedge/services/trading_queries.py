"""What the API lists of an account's trading, one page at a time (``services.pages``): orders
with their fills, trades, positions. Reads only; the writes are in ``services.trading``."""

from __future__ import annotations

from datetime import datetime

from hashedge.adapters.repositories.trading import TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page, check_window
from hashedge.services.trading import PlacedOrder, own_order, with_fills
from hashedge.services.versioned_reads import WITNESSED

ORDER_STATUSES = ("all", "open")


def order_page(uow: UnitOfWork, account_id: int, *, status: str = "all", instrument: str | None = None,
               start: datetime | None = None, end: datetime | None = None, page: int = 1,
               page_size: int = DEFAULT_PAGE_SIZE) -> Page[PlacedOrder]:
    """The account's orders created in [start, end], newest first, each with all its fills; kept
    per process under a marker of the database's writes (``versioned_reads.WITNESSED``)."""
    offset = check_page(page, page_size)
    check_window(start, end)
    return WITNESSED.current(uow, ("order_page", account_id, status, instrument, start, end, page, page_size),
                             lambda reader: _order_page(reader, account_id, status == "open", instrument, start, end,
                                                        offset, page, page_size))


def _order_page(uow: UnitOfWork, account_id: int, open_only: bool, instrument: str | None, start: datetime | None,
                end: datetime | None, offset: int, page: int, page_size: int) -> Page[PlacedOrder]:
    """The page, read inside ``uow``'s open block."""
    stored = uow.orders.of_account(account_id, instrument=instrument, open_only=open_only, start=start, end=end,
                                   limit=page_size, offset=offset)
    total = uow.orders.count_of_account(account_id, instrument=instrument, open_only=open_only, start=start, end=end)
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

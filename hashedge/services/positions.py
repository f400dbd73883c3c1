"""Positions with their risk: the estimated liquidation price and the auto-deleveraging quintile.

- ``estimated_liquidation_price``: the mark of that contract at which the account would reach
  maintenance margin, its other positions at their marks (``domain.liquidation.prices``);
- ``adl_quintile``: where the position stood in the deleveraging queue of its contract and side
  at the last liquidation sweep (every minute; ``services.adl_ranks``, with ``adl_ranked_at``): 5
  for the first fifth to be deleveraged, 1 for the last. The queue ranks every position on that
  side by the equity of its account, which takes a sweep of every open position, so it is read as
  the sweep published it rather than recomputed per request; positions protected against
  deleveraging (protection in force on the position) rank after every unprotected one, as the
  engine ranks them. ``None`` for a position opened (or turned to the other side) since the last
  sweep. Capped contracts are never liquidated nor deleveraged: both are ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain.liquidation.prices import estimated_liquidation_price
from hashedge.errors import DataUnavailable
from hashedge.services import adl_ranks
from hashedge.services.accounts import require_account
from hashedge.services.margin import account_state, read_account_margin, require_marks, risk_parameters, simulating
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page, check_page
from hashedge.services.trading import PositionView, position_views
from hashedge.services.versioned_reads import WITNESSED


@dataclass(frozen=True)
class PositionRisk:
    view: PositionView
    estimated_liquidation_price: Decimal | None
    adl_quintile: int | None
    adl_ranked_at: datetime | None = None  # the sweep that ranked it


def position_risk_page(uow_factory: Callable[[], UnitOfWork], account_id: int, *,
                       instrument: str | None = None, page: int = 1,
                       page_size: int = DEFAULT_PAGE_SIZE) -> Page[PositionRisk]:
    """A page of the account's open positions by instrument, each with its mark and unrealized PnL
    and its risk figures (``None`` where a contract involved has no mark yet). The page and its
    figures are read in one transaction: one snapshot, each row read once. Kept per process under
    a marker of the database's writes, as ``accounts.account_summary`` is."""
    offset = check_page(page, page_size)
    return WITNESSED.current(uow_factory(), ("position_risk_page", account_id, instrument, page, page_size),
                             lambda uow: _page(uow, account_id, instrument, offset, page, page_size),
                             keep=not simulating())


def _page(uow: UnitOfWork, account_id: int, instrument: str | None, offset: int, page: int,
          page_size: int) -> Page[PositionRisk]:
    """The page, read inside ``uow``'s open block."""
    require_account(uow, account_id)
    # the price depends on equity and maintenance margin, which resting orders do not
    # change: none are read, so the page costs the same however many the account has
    state = account_state(uow, account_id, with_orders=False)
    held = {p.instrument_id for p in state.positions}
    known = {symbol: record.price for symbol, record in uow.marks.latest(held).items()}
    specs = uow.instruments.specs(held)
    params = risk_parameters(uow)
    ranks = adl_ranks.of_account(uow, account_id)
    listed = [p for p in state.positions if instrument is None or p.instrument_id == instrument]
    found = Page(position_views(listed[offset:offset + page_size], known), len(listed), page, page_size)
    if not found.items:
        return replace(found, items=[])
    try:
        marks = require_marks(known, held)
    except DataUnavailable:
        return replace(found, items=[PositionRisk(view, None, None) for view in found.items])
    summary = read_account_margin(state, marks, params, specs)  # the same for every position
    risks = []
    for view in found.items:
        position = view.position
        spec = specs[position.instrument_id]
        price = estimated_liquidation_price(state, position.instrument_id, marks, params, specs=specs,
                                            summary=summary)
        rank = ranks.get(position.instrument_id)
        side = "long" if position.quantity > 0 else "short"
        if spec.is_capped or rank is None or rank.side != side:
            risks.append(PositionRisk(view, price, None))
        else:
            risks.append(PositionRisk(view, price, rank.quintile, rank.ranked_at))
    return replace(found, items=risks)

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
from hashedge.domain.margin import account_margin
from hashedge.errors import DataUnavailable
from hashedge.services import adl_ranks
from hashedge.services.margin import account_state, marks_and_specs, risk_parameters
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page
from hashedge.services.trading import PositionView
from hashedge.services.trading_queries import position_page


@dataclass(frozen=True)
class PositionRisk:
    view: PositionView
    estimated_liquidation_price: Decimal | None
    adl_quintile: int | None
    adl_ranked_at: datetime | None = None  # the sweep that ranked it


def position_risk_page(uow_factory: Callable[[], UnitOfWork], account_id: int, *,
                       instrument: str | None = None, page: int = 1,
                       page_size: int = DEFAULT_PAGE_SIZE) -> Page[PositionRisk]:
    """A page of the account's open positions (``services.trading_queries.position_page``) with
    their risk figures; both are ``None`` while a contract involved has no mark yet."""
    found = position_page(uow_factory(), account_id, instrument=instrument, page=page, page_size=page_size)
    if not found.items:
        return replace(found, items=[])
    uow = uow_factory()
    try:
        with uow.read_only():
            params = risk_parameters(uow)
            # the price depends on equity and maintenance margin, which resting orders do not
            # change: none are read, so the page costs the same however many the account has
            state = account_state(uow, account_id, with_orders=False)
            marks, specs = marks_and_specs(uow, state)
            ranks = adl_ranks.of_account(uow, account_id)
    except DataUnavailable:
        return replace(found, items=[PositionRisk(view, None, None) for view in found.items])
    summary = account_margin(state, marks, params, specs=specs)  # the same for every position
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

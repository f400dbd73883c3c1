"""Positions with their risk: the estimated liquidation price and the auto-deleveraging quintile.

- ``estimated_liquidation_price``: the mark of that contract at which the account would reach
  maintenance margin, its other positions at their marks (``domain.liquidation.prices``);
- ``adl_quintile``: where the position stands in the deleveraging queue of its contract and side
  (``domain.liquidation.adl``): 5 for the first fifth to be deleveraged, 1 for the last. The queue
  ranks every position on that side by the equity of its account, so it is built from the risk
  sweep's snapshot of every open position (the same data the liquidation sweep uses); positions
  protected against deleveraging (protection in force on the position) rank after every unprotected
  one, as the engine ranks them (protection bought on an account counts only when that account is
  liquidated, so it is not shown here). Capped contracts are never liquidated nor deleveraged: both
  are ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.liquidation.adl import quintiles
from hashedge.domain.liquidation.prices import estimated_liquidation_price
from hashedge.errors import DataUnavailable
from hashedge.services.liquidation import queues_from
from hashedge.services.margin import account_state, marks_and_specs, risk_parameters
from hashedge.services.risk import sweep as risk_sweep
from hashedge.services.pages import DEFAULT_PAGE_SIZE, Page
from hashedge.services.trading import PositionView
from hashedge.services.trading_queries import position_page


@dataclass(frozen=True)
class PositionRisk:
    view: PositionView
    estimated_liquidation_price: Decimal | None
    adl_quintile: int | None


def position_risk_page(uow_factory: Callable[[], UnitOfWork], clock: Clock, account_id: int, *,
                       instrument: str | None = None, page: int = 1,
                       page_size: int = DEFAULT_PAGE_SIZE) -> Page[PositionRisk]:
    """A page of the account's open positions (``services.trading_queries.position_page``) with
    their risk figures; both are ``None`` while a contract involved has no mark yet."""
    found = position_page(uow_factory(), account_id, instrument=instrument, page=page, page_size=page_size)
    if not found.items:
        return replace(found, items=[])
    params = risk_parameters(uow_factory())
    try:
        with uow_factory() as uow:
            state = account_state(uow, account_id)
            marks, specs = marks_and_specs(uow, state)
            protected = uow.protection.protected_positions(clock.now().date())
        queues = queues_from(risk_sweep(uow_factory(), clock), protected)
    except DataUnavailable:
        return replace(found, items=[PositionRisk(view, None, None) for view in found.items])
    owner = str(account_id)
    risks = []
    for view in found.items:
        position = view.position
        spec = specs[position.instrument_id]
        price = estimated_liquidation_price(state, position.instrument_id, marks, params, specs=specs)
        quintile = None
        if not spec.is_capped:
            ranked = queues.ranked(position.instrument_id, longs=position.quantity > 0)
            quintile = quintiles(ranked).get(owner)
        risks.append(PositionRisk(view, price, quintile))
    return replace(found, items=risks)

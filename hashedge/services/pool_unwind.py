"""The backstop pool unwinds what it took over through the book, over time (BACKSTOP.md §5): the
``pool_unwind`` job cancels the pool's resting orders, then offers ``pool.unwind_fraction`` of each
position (at least one contract) as a limit order at the mark, on the tick in the pool's favour.
It takes bids at or above the mark (asks at or below) and rests for the rest, inside the book's
band by construction; each run replaces the last run's orders at the new mark. The orders are the
pool's account's own, so they are marked as the pool's wherever orders and trades are shown."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.units import Rounding, exact, round_to_tick
from hashedge.errors import HashEdgeError
from hashedge.services import trading
from hashedge.services.margin import latest_marks, risk_parameters


@dataclass
class UnwindReport:
    orders: list[dict] = field(default_factory=list)  # instrument, side, quantity, price, filled
    refused: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"orders": self.orders, "refused": self.refused}


def unwind(new_uow: Callable[[], UnitOfWork], clock: Clock) -> UnwindReport:
    report = UnwindReport()
    with new_uow().read_only() as uow:
        pool_id = uow.pool.account_id()
        positions = list(uow.positions.of_account(pool_id)) if pool_id is not None else []
        marks = latest_marks(uow, {p.instrument_id for p in positions}) if positions else {}
        specs = uow.instruments.specs({p.instrument_id for p in positions}) if positions else {}
        listed = {s for s in specs if (r := uow.instruments.get(s)) is not None and r.status == "listed"}
    if pool_id is None:
        return report
    trading.cancel_all_orders(new_uow(), clock, pool_id)
    fraction = exact(risk_parameters(new_uow()).pool_unwind_fraction)
    for position in positions:
        symbol = position.instrument_id
        if position.quantity == 0 or symbol not in listed:
            continue
        side = "sell" if position.quantity > 0 else "buy"
        quantity = max(1, math.ceil(abs(position.quantity) * fraction))
        tick = specs[symbol].tick_size
        price = round_to_tick(marks[symbol], tick, Rounding.UP if side == "sell" else Rounding.DOWN)
        try:
            placed = trading.place_order(new_uow(), clock, pool_id, instrument=symbol, side=side, order_type="limit",
                                         quantity=quantity, price=price)
        except HashEdgeError as refused:  # e.g. trading closed meanwhile: the next run tries again
            report.refused[symbol] = refused.message
            continue
        report.orders.append({"instrument": symbol, "side": side, "quantity": quantity, "price": str(price),
                              "filled": sum(f.quantity for f in placed.fills)})
    return report

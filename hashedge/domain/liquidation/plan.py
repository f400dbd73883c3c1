"""The plan of a partial liquidation: how far to go, which position next, how big a step.

- **target**: maintenance margin plus ``liquidation.buffer_ratio`` of the notional of the
  positions that can be liquidated (at the marks, rounded up once): the account is left with
  room, so the next move does not liquidate it again (Drift uses 2%; HashEdge 4%, the smallest
  gap between initial and maintenance margin: LIQUIDATION.md has the stress runs behind it).
- **next position**: among the positions that can be liquidated (not capped: fully
  collateralized contracts are never liquidated; not in a contract whose trading has closed: it
  settles at its fixings within days), the one whose maintenance margin is largest:
  closing it frees the most margin per step. Ties go to the symbol first in sort order.
- **step size**: ``liquidation.step_fraction`` of the position, rounded up, so at least one
  contract and at most all of it (dYdX closes at most 10% of a position per block; Deribit and
  Hyperliquid also liquidate incrementally).

The engine repeats steps until equity covers the target or nothing is left to close; an
account whose equity is at or below zero therefore closes every position.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import AccountState, effective_mark, maintenance_margin_sats
from hashedge.domain.orders import Side
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.units import MARGIN_ROUNDING, exact, to_sats


@dataclass(frozen=True)
class StepChoice:
    instrument_id: str
    side: Side  # the liquidated account's side: SELL closes a long
    quantity: int  # contracts to close in this step


def liquidatable_positions(account: AccountState, specs: Mapping[str, ContractSpec],
                           closed: frozenset[str] = frozenset()):
    return [p for p in account.positions
            if p.quantity != 0 and not specs[p.instrument_id].is_capped and p.instrument_id not in closed]


def target_sats(account: AccountState, maintenance_sats: int, marks: Mapping[str, Decimal],
                specs: Mapping[str, ContractSpec], params: RiskParameters, closed: frozenset[str] = frozenset()) -> int:
    """Maintenance margin + buffer x notional of the liquidatable positions (rounded up)."""
    notional = sum((abs(p.quantity) * exact(effective_mark(specs[p.instrument_id], marks[p.instrument_id]))
                    * exact(specs[p.instrument_id].multiplier) for p in liquidatable_positions(account, specs, closed)),
                   Fraction(0))
    return maintenance_sats + to_sats(notional * exact(params.liquidation_buffer_ratio), MARGIN_ROUNDING)


def step_quantity(position_quantity: int, fraction: Decimal) -> int:
    held = abs(position_quantity)
    return min(held, max(1, math.ceil(held * exact(fraction))))


def choose_step(account: AccountState, marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec],
                params: RiskParameters, closed: frozenset[str] = frozenset()) -> StepChoice | None:
    """The next step (module docstring), or ``None`` with nothing left to liquidate."""
    candidates = liquidatable_positions(account, specs, closed)
    if not candidates:
        return None

    def freed(position) -> tuple[int, str]:
        spec = specs[position.instrument_id]
        requirement = maintenance_margin_sats(spec, position.quantity, marks[position.instrument_id], params)
        return -requirement, position.instrument_id

    position = min(candidates, key=freed)
    side = Side.SELL if position.quantity > 0 else Side.BUY
    return StepChoice(position.instrument_id, side, step_quantity(position.quantity, params.liquidation_step_fraction))

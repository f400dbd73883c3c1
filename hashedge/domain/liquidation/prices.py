"""Prices the liquidation engine and the position view derive from an account's state.

- **bankruptcy price** of a position: the price at which closing all of it leaves the account
  with exactly ``equity`` less: ``M - E / (q x m)`` for q contracts (signed) at mark M with
  multiplier m and equity E (other positions held at their marks). Below the mark for a long of
  a solvent account, above it for a short; on the other side of the mark when E < 0.
- **estimated liquidation price**: the mark of this position at which the account's equity
  would fall to its maintenance margin, the other positions held at their marks:
  equity(p) = E + (p - M) q m and MM(p) = MM_other + |q| p m r, so
  ``p = (MM_other - E + M q m) / (m (q - |q| r))``. ``None`` when no positive price does it (a
  long collateralized beyond its whole value), for a flat position and for capped contracts
  (fully collateralized: never liquidated). Rounded to the tick towards the mark (a long is
  liquidated once the mark is at or below the rounded price).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import (
    AccountMargin, AccountState, account_margin, effective_mark, maintenance_margin_sats, ratios_for,
)
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.units import Rounding, exact, round_to_tick


def bankruptcy_price(quantity: int, mark: Decimal, multiplier: Decimal, equity: Fraction | int) -> Fraction:
    """M - E / (q x m), exactly (module docstring); ``quantity`` must not be zero."""
    if quantity == 0:
        raise ValueError("a flat position has no bankruptcy price")
    return exact(mark) - Fraction(equity) / (quantity * exact(multiplier))


def estimated_liquidation_price(account: AccountState, instrument_id: str, marks: Mapping[str, Decimal],
                                params: RiskParameters, *, specs: Mapping[str, ContractSpec],
                                summary: AccountMargin | None = None) -> Decimal | None:
    """The mark of ``instrument_id`` at which the account reaches maintenance margin (module doc).
    ``summary``: the account's margin at ``marks`` when the caller has worked it out already (it
    does not depend on the instrument: a page of positions works it out once, not per position).
    Only its equity and maintenance margin count, which resting orders do not change."""
    spec = specs[instrument_id]
    quantity = account.position(instrument_id)
    if quantity == 0 or spec.is_capped:
        return None
    if summary is None:
        summary = account_margin(account, marks, params, specs=specs)
    elif summary.account_id != account.account_id:
        raise ValueError(f"the margin of {summary.account_id!r} is not that of {account.account_id!r}")
    mark = effective_mark(spec, marks[instrument_id])
    own = maintenance_margin_sats(spec, quantity, mark, params)
    other = summary.maintenance_margin_sats - own
    ratio = exact(ratios_for(spec, params)[1])
    m = exact(spec.multiplier)
    denominator = m * (quantity - abs(quantity) * ratio)
    if denominator == 0:
        return None
    price = (other - summary.equity_sats + exact(mark) * quantity * m) / denominator
    if price <= 0:
        return None
    rounded = round_to_tick(price, spec.tick_size, Rounding.UP if quantity > 0 else Rounding.DOWN)
    return rounded if rounded > 0 else None

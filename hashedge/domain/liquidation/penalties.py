"""The liquidation penalty: what a liquidated account pays for being closed out.

``liquidation.penalty_ratio`` of the notional closed (each fill's price x quantity x multiplier,
summed exactly, rounded up once), but **never more than the equity left above zero** after
closing, nor more than the collateral: a penalty never makes an account bankrupt (Drift capped
its fee after a fixed one bankrupted accounts; dYdX takes ``min(1.5% of the quote,
quote - bankruptcy value)``). An account closed at or below zero pays none. The penalty goes to
the ``penalty_escrow`` platform account and is shared out each night (``split``).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hashedge.domain.units import FEE_ROUNDING, exact, to_sats


def penalty_sats(notional_closed: Fraction, ratio: Decimal, *, equity_sats: int, collateral_sats: int) -> int:
    """ratio x notional (rounded up), capped at the equity and the collateral above zero."""
    charged = to_sats(notional_closed * exact(ratio), FEE_ROUNDING)
    return max(0, min(charged, equity_sats, collateral_sats))

"""The seller's collateral: a governed ratio of the notional, raised to the mark-to-market.

``required = min(notional, max(ceil(ratio x notional), ceil(mark_to_market)))``, where the
mark-to-market is what the protection is worth to its buyer (the seller's liability: expected
protection leg less the premium still to come, from the pricing library at the reference's default
probability; the service computes it). It never exceeds the notional, the most the seller can owe.
Required amounts round up (the platform's rule for anything it requires).

Each night the seller's posted collateral moves to the requirement: a shortfall is taken from the
seller's collateral account into the ``protection_escrow`` platform account, an excess goes back.
Taking it may leave the seller in a margin call or liquidatable like any position: the risk sweep
and the liquidation engine handle it as for any account.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.errors import InvalidValue
from hashedge.domain.units import exact, require_sats


def collateral_required_sats(notional_sats: int, ratio: Decimal, mark_to_market_sats: int | Fraction = 0) -> int:
    require_sats(notional_sats, "notional_sats")
    share = exact(ratio, "collateral_ratio")
    if not 0 <= share <= 1:
        raise InvalidValue("collateral_ratio", ratio, "must be between 0 and 1")
    floor = math.ceil(notional_sats * share)
    return min(notional_sats, max(floor, math.ceil(Fraction(mark_to_market_sats))))


def collateral_transfer_sats(posted_sats: int, required_sats: int) -> int:
    """Sats to move from the seller into escrow (positive) or back to the seller (negative)."""
    return require_sats(required_sats, "required_sats") - require_sats(posted_sats, "posted_sats")

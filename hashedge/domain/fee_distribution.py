"""The nightly fee split: one business date's trading fees shared out by ``fees.split.*``.

- the makers' share, pro rata to the maker notional each provided that date (price x quantity x
  multiplier of every book fill where it was the maker);
- the community fund's and the backstop pool's shares;
- the insurance fund: its share, the makers' share when nobody made a market that date, and
  every rounding remainder (each amount above is rounded down), stated, never lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hashedge.domain.liquidation.penalties import _pro_rata, _share
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.units import require_sats


@dataclass(frozen=True)
class FeeShares:
    total_sats: int
    makers_sats: dict[str, int]  # account id -> sats
    insurance_fund_sats: int
    community_fund_sats: int
    backstop_pool_sats: int
    remainder_sats: int  # what the insurance fund got beyond its own share


def split_fees(total_sats: int, *, maker_notional_sats: Mapping[str, int], params: RiskParameters) -> FeeShares:
    total = require_sats(total_sats, "total_sats")
    makers = {a: v for a, v in _pro_rata(_share(total, params.fee_split_makers), maker_notional_sats).items() if v}
    community = _share(total, params.fee_split_community_fund)
    pool = _share(total, params.fee_split_backstop_pool)
    insurance = total - sum(makers.values()) - community - pool
    return FeeShares(total, makers, insurance, community, pool,
                     insurance - _share(total, params.fee_split_insurance_fund))

"""Hedge sizing for a miner: how many contracts of one listed contract hedge a hashrate.

- Hashprice products (``HP-YYYY-MM``, ``BME14-E<k>``, ``BME14C-E<k>``): one contract is 1 PH/s over
  the contract's window, so a miner with H PH/s **sells** H contracts (rounded half-even to a
  whole contract): the hedge pays when revenue per PH/s falls.
- Difficulty (``DIFF-E<k>``): revenue over epoch k is R = H x hashprice x 14 days and moves as
  1/D, so a rise of 1 T of difficulty costs R / D_T sats; one contract pays ``multiplier`` sats per
  T, so the miner **buys** R / (D_T x multiplier) contracts (rounded half-even): the hedge pays when
  difficulty rises. ``hashprice_sats_per_phd`` is the hashprice expected at difficulty D_T (the
  service computes it with ``pricing.futures.hashprice_sats_per_phd`` at the contract's mark).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import EPOCH_NOMINAL_DAYS, ContractSpec, Product
from hashedge.domain.orders import Side

MAX_HASHRATE_PHS = Decimal(10_000_000)  # 10 ZH/s: more than the whole network


@dataclass(frozen=True)
class HedgeSize:
    side: Side
    contracts: int
    reason: str


def hedge_size(spec: ContractSpec, hashrate_phs: Decimal, *, mark: Decimal,
               hashprice_sats_per_phd: Decimal | None = None) -> HedgeSize:
    if not isinstance(hashrate_phs, Decimal) or not hashrate_phs.is_finite() or not 0 < hashrate_phs <= MAX_HASHRATE_PHS:
        raise InvalidValue("hashrate_phs", hashrate_phs, f"must be a positive decimal up to {MAX_HASHRATE_PHS}")
    if spec.product is not Product.DIFF_EPOCH:
        contracts = int(hashrate_phs.quantize(Decimal(1), ROUND_HALF_EVEN))
        return HedgeSize(Side.SELL, contracts, f"1 contract = 1 PH/s over the window: sell {contracts}")
    if hashprice_sats_per_phd is None or hashprice_sats_per_phd <= 0:
        raise InvalidValue("hashprice_sats_per_phd", hashprice_sats_per_phd, "is needed to size a DIFF hedge")
    revenue_sats = hashrate_phs * hashprice_sats_per_phd * EPOCH_NOMINAL_DAYS
    per_t_sats = revenue_sats / mark  # revenue lost per T of difficulty rise
    contracts = int((per_t_sats / spec.multiplier).quantize(Decimal(1), ROUND_HALF_EVEN))
    return HedgeSize(Side.BUY, contracts,
                     f"revenue {revenue_sats:,.0f} sats over the epoch loses {per_t_sats:,.0f} sats per T of "
                     f"difficulty; one contract pays {spec.multiplier:f} sats per T: buy {contracts}")

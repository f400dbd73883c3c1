"""The liquidation penalty: what a liquidated account pays for being closed out.

``liquidation.penalty_ratio`` of the notional closed (each fill's price x quantity x multiplier,
summed exactly, rounded up once), but **never more than the equity left above zero** after
closing, nor more than the collateral: a penalty never makes an account bankrupt (Drift capped
its fee after a fixed one bankrupted accounts; dYdX takes ``min(1.5% of the quote,
quote - bankruptcy value)``). An account closed at or below zero pays none. The penalty goes to
the ``penalty_escrow`` platform account and is shared out each night (``split``): to the accounts
that took the other side of the liquidation fills, the defaulted accounts' OTC counterparties
(``otc_exposure``), the insurance fund and the community fund.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.units import FEE_ROUNDING, PAYOUT_ROUNDING, exact, require_sats, to_sats


def penalty_sats(notional_closed: Fraction, ratio: Decimal, *, equity_sats: int, collateral_sats: int) -> int:
    """ratio x notional (rounded up), capped at the equity and the collateral above zero."""
    charged = to_sats(notional_closed * exact(ratio), FEE_ROUNDING)
    return max(0, min(charged, equity_sats, collateral_sats))


# --- the nightly split -------------------------------------------------------------------------

INSURANCE_FUND_KEY = "insurance_fund"
COMMUNITY_FUND_KEY = "community_fund"


@dataclass(frozen=True)
class PenaltyShares:
    """Who gets what of one date's penalties: participants by account id, and the two funds."""

    total_sats: int
    takers_sats: dict[str, int]
    otc_sats: dict[str, int]
    insurance_fund_sats: int  # its share, the shares nobody could take and every rounding remainder
    community_fund_sats: int
    remainder_sats: int  # what the insurance fund got beyond its own share

    def by_recipient(self) -> dict[str, int]:
        """Account id -> sats (a taker that is also an OTC counterparty gets one line with both)."""
        paid: dict[str, int] = {}
        for shares in (self.takers_sats, self.otc_sats):
            for account_id, amount in shares.items():
                paid[account_id] = paid.get(account_id, 0) + amount
        return {a: v for a, v in paid.items() if v}


def split(total_sats: int, *, takers_notional_sats: Mapping[str, int], otc_exposure_sats: Mapping[str, int],
          params: RiskParameters) -> PenaltyShares:
    """One date's penalties split by the governed shares (``penalty.split.*``):

    - the takers' share pro rata to the notional each took from the liquidations' fills;
    - the OTC counterparties' share pro rata to their open exposure to the defaulted accounts;
    - the community fund's share;
    - the insurance fund: its share, plus a share without recipients (no OTC counterparty, say),
      plus every rounding remainder: each amount above is rounded down, so the total is paid out
      exactly and the remainder is stated, never lost.
    """
    total = require_sats(total_sats, "total_sats")
    takers = _pro_rata(_share(total, params.penalty_split_takers), takers_notional_sats)
    otc = _pro_rata(_share(total, params.penalty_split_otc_counterparties), otc_exposure_sats)
    community = _share(total, params.penalty_split_community_fund)
    insurance = total - sum(takers.values()) - sum(otc.values()) - community
    return PenaltyShares(total, takers, otc, insurance, community,
                         insurance - _share(total, params.penalty_split_insurance_fund))


def _share(total: int, ratio: Decimal) -> int:
    return to_sats(total * exact(ratio), PAYOUT_ROUNDING)


def _pro_rata(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    weights = {k: v for k, v in weights.items() if v > 0}
    whole = sum(weights.values())
    if not whole:
        return {}
    return {k: amount * v // whole for k, v in sorted(weights.items())}


def otc_exposure(defaulted: str, block_trades: Iterable[Fill], positions: Mapping[tuple[str, str], int],
                 marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec]) -> dict[str, int]:
    """Each OTC counterparty's open exposure to ``defaulted``, in sats: per instrument, the net
    quantity it traded with ``defaulted`` in block trades, as far as it still holds that position
    (the same sign, at most its whole position), at the mark, rounded down."""
    net: dict[tuple[str, str], int] = {}
    for fill in block_trades:
        if defaulted not in (fill.buyer_account_id, fill.seller_account_id):
            continue
        other = fill.seller_account_id if fill.buyer_account_id == defaulted else fill.buyer_account_id
        key = (other, fill.instrument_id)
        net[key] = net.get(key, 0) + fill.signed_quantity_for(other)
    exposure: dict[str, int] = {}
    for (account_id, symbol), traded in sorted(net.items()):
        held = positions.get((account_id, symbol), 0)
        open_quantity = min(abs(traded), abs(held)) if traded * held > 0 else 0
        if open_quantity and symbol in marks:
            value = open_quantity * exact(marks[symbol]) * exact(specs[symbol].multiplier)
            exposure[account_id] = exposure.get(account_id, 0) + to_sats(value, PAYOUT_ROUNDING)
    return {a: v for a, v in exposure.items() if v}

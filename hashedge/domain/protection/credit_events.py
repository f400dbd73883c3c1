"""Credit events, determined from a liquidation record, and what each settlement pays.

A credit event is never a flag someone sets: it is read from a liquidation's record
(``liquidation.record``: its inputs and outcome), so anyone can replay the record and the
determination with it.

**Determination** (``determine_credit_event``), for a contract covering the liquidation's date
(``ProtectionContract.covers``):

- an **account reference** R: R's liquidation that ends with a shortfall (``shortfall_sats > 0``:
  equity below zero after closing, covered or not), kind ``shortfall``; or R's liquidation
  deleveraging one of the buyer's positions, kind ``adl``;
- a **position reference** (the buyer's position in one instrument): any liquidation that
  auto-deleverages that position, kind ``adl``.

**The buyer's loss from the record**: the profit auto-deleveraging took beyond the mark from the
buyer's affected positions, ``|ADL price - mark| x quantity x multiplier`` for each of its ADL
fills whose price was worse for it than the mark (exact, rounded down as a payout); and for an
account reference, the reference's shortfall (what it could not pay).

**Cash** (``cash_settlement``): the seller pays up to the notional: first the reference's shortfall
(``cover_sats``, paid into the reference's collateral as the first stage of the waterfall, before
the insurance fund), then the buyer's ADL loss (``buyer_sats``, to the buyer).

**Novation** (``novation_takeovers``): the seller steps into the defaulted side of each position of
the buyer's that auto-deleveraging closed: a trade between buyer and seller at the ADL price for the
quantity closed, which reopens the buyer's position at the price it was closed, so the buyer's
hedge continues unchanged and settles as if nothing had happened; the seller holds the defaulted
account's side. The quantity is capped by the notional at that price (``floor(notional / (price x
multiplier))``); what the cap leaves out is settled in cash (its ADL loss, up to what the notional
has left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import TYPE_CHECKING

from hashedge.domain.margin import effective_mark
from hashedge.domain.orders import Side
from hashedge.domain.protection.contract import ProtectionContract
from hashedge.domain.units import exact

if TYPE_CHECKING:  # the liquidation record imports the contract: only types from it here
    from hashedge.domain.liquidation.record import LiquidationFill, LiquidationInputs, LiquidationOutcome


class EventKind(str, Enum):
    SHORTFALL = "shortfall"
    ADL = "adl"


@dataclass(frozen=True)
class AdlHit:
    """One ADL fill of the buyer's, read from the record."""

    fill_id: str
    instrument_id: str
    buyer_side: Side  # the buyer's side in the ADL fill (BUY: it had a short, bought back)
    quantity: int
    price: Decimal
    mark: Decimal
    multiplier: Decimal

    @property
    def loss(self) -> Fraction:
        """Profit taken beyond the mark (zero at or better than the mark)."""
        gap = exact(self.price) - exact(self.mark)
        adverse = gap if self.buyer_side is Side.BUY else -gap
        return max(Fraction(0), adverse) * self.quantity * exact(self.multiplier)


@dataclass(frozen=True)
class CreditEvent:
    contract_id: str
    liquidation_id: str
    kind: EventKind
    occurred_at: datetime
    reference_shortfall_sats: int  # account references: the reference's loss below zero
    adl_hits: tuple[AdlHit, ...]

    @property
    def adl_loss_sats(self) -> int:
        return math.floor(sum((h.loss for h in self.adl_hits), Fraction(0)))


@dataclass(frozen=True)
class CashSettlement:
    cover_sats: int  # into the reference's collateral (its shortfall), before the insurance fund
    buyer_sats: int  # to the buyer (its ADL loss)

    @property
    def total_sats(self) -> int:
        return self.cover_sats + self.buyer_sats


@dataclass(frozen=True)
class NovationTakeover:
    """A trade between the protection's buyer and seller reopening the buyer's position."""

    instrument_id: str
    buyer_side: Side  # the protection buyer's side in the novation trade
    quantity: int
    price: Decimal


def _adl_hits(contract: ProtectionContract, inputs: LiquidationInputs,
              fills: tuple[LiquidationFill, ...]) -> tuple[AdlHit, ...]:
    buyer, hits = contract.buyer_account_id, []
    for item in fills:
        if item.stage != "adl" or item.counterparty != buyer:
            continue
        fill = item.fill
        if contract.references_position and fill.instrument_id != contract.reference_instrument_id:
            continue
        spec = inputs.specs[fill.instrument_id]
        hits.append(AdlHit(fill.fill_id, fill.instrument_id, fill.side_of(buyer), fill.quantity, fill.price,
                           effective_mark(spec, inputs.marks[fill.instrument_id]), spec.multiplier))
    return tuple(hits)


def determine_credit_event(contract: ProtectionContract, inputs: LiquidationInputs,
                           outcome: LiquidationOutcome) -> CreditEvent | None:
    """The credit event this liquidation is for the contract, or ``None`` (module docstring)."""
    if not contract.covers(inputs.occurred_at.date()):
        return None
    hits = _adl_hits(contract, inputs, outcome.fills)
    liquidated = inputs.account.account_id
    shortfall = 0
    if not contract.references_position:
        if contract.reference_account_id != liquidated:
            return None
        shortfall = outcome.shortfall_sats
    if shortfall > 0:
        kind = EventKind.SHORTFALL
    elif hits:
        kind = EventKind.ADL
    else:
        return None
    return CreditEvent(contract.contract_id, outcome.liquidation_id, kind, inputs.occurred_at, shortfall, hits)


def cash_settlement(contract: ProtectionContract, event: CreditEvent, *, cover_sats: int | None = None) -> CashSettlement:
    """What a cash settlement pays, never more than the notional in all. ``cover_sats`` is what the
    waterfall stage already covered of the reference's shortfall (default: all it could)."""
    notional = contract.notional_sats
    cover = min(notional, event.reference_shortfall_sats) if cover_sats is None else cover_sats
    return CashSettlement(cover, min(notional - cover, event.adl_loss_sats))


def novation_takeovers(contract: ProtectionContract, event: CreditEvent,
                       limit: int | None = None) -> tuple[tuple[NovationTakeover, ...], int]:
    """The trades that reopen the buyer's deleveraged positions with the seller, and the cash owed
    for what the notional (or ``limit`` contracts in all: what the seller's margin can carry) could
    not take over (module docstring)."""
    left, takeovers, rest = Fraction(contract.notional_sats), [], Fraction(0)
    allowed = math.inf if limit is None else limit
    for hit in event.adl_hits:
        per_contract = exact(hit.price) * exact(hit.multiplier)
        quantity = min(hit.quantity, math.floor(left / per_contract)) if per_contract > 0 else 0
        quantity = int(min(quantity, allowed))
        allowed -= quantity
        if quantity:
            side = Side.SELL if hit.buyer_side is Side.BUY else Side.BUY  # reopen what was closed
            takeovers.append(NovationTakeover(hit.instrument_id, side, quantity, hit.price))
            left -= quantity * per_contract
        rest += hit.loss * (hit.quantity - quantity) / hit.quantity
    cash = min(math.floor(left), math.floor(rest))
    return tuple(takeovers), cash


def allocate_cover(capacities_sats: dict[str, int], covered_sats: int) -> dict[str, int]:
    """What each cash contract on the liquidated account pays of the ``protection`` stage's cover:
    in contract id order, each up to what its seller can pay (the record's capacities)."""
    left, paid = covered_sats, {}
    for contract_id in sorted(capacities_sats):
        amount = min(left, capacities_sats[contract_id])
        if amount > 0:
            paid[contract_id] = amount
            left -= amount
    return paid

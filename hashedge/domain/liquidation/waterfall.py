"""The waterfall: stages as data, in order, each an object with a name and one method.

**Takeover stages** receive what is left of a step (contracts of one position the account must
close) and close what they can through ``LiquidationRun.fill``; they return the contracts they
closed. In order:

1. ``book``: one IOC order against the resting book at the less aggressive of the liquidation band
   edge around the mark (``liquidation.book_band_ratio``) and the account's bankruptcy price after
   the cover reserved for it, so the book never takes the account further than the waterfall can
   pay for. Matched by the ordinary matching core (``domain.book.OrderBook``) at the makers' prices;
   makers pay their maker fee, the liquidated account no taker fee (its penalty is its fee);
2. ``backstop_offers``: registered backstoppers' offers, best price for the account first, then
   time priority, each at its own price, skipped if its owner would breach initial margin
   (``domain.backstop.stages.OffersStage``, BACKSTOP.md);
3. ``backstop_pool``: the backstop pool at the mark less the governed discount, within its caps
   (``domain.backstop.stages.PoolStage``);
4. ``adl``: auto-deleveraging of the opposite positions in queue order (``adl``), at the
   bankruptcy price after the cover (the mark while that is not negative), no fees.

**Shortfall stages** cover what the account owes below zero once it is closed; each covers what
it can of what is left and says so (``cover``); those that ``reserve`` commit their capacity up
front, so the bankruptcy price the book and ADL use already counts them. In order:

1. ``protection``: cash default protection written on the account, up to what its sellers can pay
   (``protection/PROTECTION.md``); positions covered by protection in force are also deleveraged
   after every unprotected one (``adl.rank``);
2. ``insurance_fund``: the ``insurance_fund`` platform account, up to its balance;
3. ``backstop_pool``: the backstop pool, up to ``pool.max_loss_ratio`` x its NAV and its free
   collateral (``domain.backstop.stages.PoolCover``);
4. ``adl``: what auto-deleveraging absorbed by trading beyond the mark (it acted during the
   takeover; here it is accounted for). What is left after it is the uncovered loss.

Later issues plug in by replacing a placeholder in ``TAKEOVER_STAGES`` / ``SHORTFALL_STAGES``
(and adding what the stage reads to ``record.LiquidationInputs``): no ``if`` chain changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from hashedge.domain.backstop.stages import OffersStage, PoolCover, PoolStage
from hashedge.domain.errors import DomainError
from hashedge.domain.fills import Fill
from hashedge.domain.liquidation.adl import adl_price
from hashedge.domain.orders import Order, OrderType, TimeInForce

if TYPE_CHECKING:
    from hashedge.domain.liquidation.engine import LiquidationRun, StepRequest


class NeedMoreCandidates(DomainError):
    """The ADL queue handed in ran out while more opposite positions exist: the caller must load
    (and lock) more candidates and run again."""

    def __init__(self, instrument_id: str):
        super().__init__(f"the auto-deleveraging queue for {instrument_id} ran out; load more candidates")
        self.instrument_id = instrument_id


class TakeoverStage(Protocol):
    name: str

    def take(self, run: LiquidationRun, request: StepRequest) -> int: ...


class ShortfallStage(Protocol):
    name: str
    reserves: bool

    def cover(self, run: LiquidationRun, shortfall_sats: int) -> int: ...


@dataclass(frozen=True)
class BookStage:
    name: str = "book"

    def take(self, run: LiquidationRun, request: StepRequest) -> int:
        book = run.book(request.instrument_id)
        order = Order(order_id=run.order_id(request), account_id=run.account_id, instrument_id=request.instrument_id,
                      side=request.side, quantity=request.remaining, sequence=book.last_sequence + 1,
                      created_at=run.occurred_at, order_type=OrderType.LIMIT, price=run.book_limit(request),
                      time_in_force=TimeInForce.IOC)
        result = book.submit(order)
        if result.rejected is not None:  # pragma: no cover - the engine builds valid orders
            raise DomainError(f"liquidation order refused by the book: {result.rejected.message}")
        run.record_order(result.order, result.maker_updates)
        for fill in result.fills:
            maker = fill.maker_account_id
            run.fill(self.name, fill, fees={maker: run.maker_fee(fill)}, counterparty=maker)
        return result.filled_quantity


@dataclass(frozen=True)
class Unfilled:
    """A takeover stage a later issue fills in; it takes nothing yet."""

    name: str

    def take(self, run: LiquidationRun, request: StepRequest) -> int:
        return 0


@dataclass(frozen=True)
class AdlStage:
    name: str = "adl"

    def take(self, run: LiquidationRun, request: StepRequest) -> int:
        spec, closed = run.spec(request.instrument_id), 0
        for candidate in run.adl_queue(request.instrument_id, request.side):
            remaining = request.remaining - closed
            if remaining == 0:
                break
            if candidate.protected and not run.adl_queue_complete(request.instrument_id):
                raise NeedMoreCandidates(request.instrument_id)  # an unprotected position may be unloaded
            quantity = min(remaining, abs(candidate.quantity))
            price = adl_price(request.side, mark=run.mark(request.instrument_id),
                              bankruptcy=run.uncovered_bankruptcy_price(request.instrument_id),
                              counterparty=candidate, tick_size=spec.tick_size)
            ours, theirs = run.account_id, candidate.account_id
            buyer, seller = (theirs, ours) if request.side.value == "sell" else (ours, theirs)
            fill = Fill(fill_id=run.adl_fill_id(), instrument_id=request.instrument_id, price=price, quantity=quantity,
                        occurred_at=run.occurred_at, buyer_account_id=buyer, seller_account_id=seller)
            run.fill(self.name, fill, fees={}, counterparty=theirs)
            closed += quantity
        if closed < request.remaining and not run.adl_queue_complete(request.instrument_id):
            raise NeedMoreCandidates(request.instrument_id)
        return closed


@dataclass(frozen=True)
class NoCover:
    """A shortfall stage a later issue fills in; it covers nothing yet."""

    name: str
    reserves: bool = True

    def cover(self, run: LiquidationRun, shortfall_sats: int) -> int:
        return 0


@dataclass(frozen=True)
class ProtectionCover:
    """Default protection written on the account (cash settlement, protection/PROTECTION.md): its
    sellers pay the shortfall up to what each can (the record's ``protection_capacity_sats``: the
    collateral posted in escrow and the seller's own collateral, each up to the notional)."""

    name: str = "protection"
    reserves: bool = True

    def cover(self, run: LiquidationRun, shortfall_sats: int) -> int:
        return min(max(shortfall_sats, 0), run.protection_capacity())


@dataclass(frozen=True)
class FundCover:
    """A platform fund that pays up to its balance (the insurance fund)."""

    name: str
    reserves: bool = True

    def cover(self, run: LiquidationRun, shortfall_sats: int) -> int:
        return min(max(shortfall_sats, 0), run.available(self.name))


@dataclass(frozen=True)
class AdlAbsorbed:
    name: str = "adl"
    reserves: bool = False

    def cover(self, run: LiquidationRun, shortfall_sats: int) -> int:
        return min(max(shortfall_sats, 0), run.adl_absorbed_sats)


TAKEOVER_STAGES: tuple[TakeoverStage, ...] = (BookStage(), OffersStage(), PoolStage(), AdlStage())
SHORTFALL_STAGES: tuple[ShortfallStage, ...] = (ProtectionCover(), FundCover("insurance_fund"), PoolCover(),
                                                AdlAbsorbed())

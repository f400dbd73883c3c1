"""The waterfall's backstop stages (BACKSTOP.md §4-5): ``OffersStage`` and ``PoolStage`` take over
what the book left of a step; ``PoolCover`` pays part of a shortfall. They read only the run
(``liquidation.engine.LiquidationRun``), whose inputs record everything they look at: the offers
considered, their owners' and the pool's accounts, the marks, the parameters (discount and caps).

Prices are never worse for the liquidated account than ``run.book_limit`` (the less aggressive of
the book band's edge and the bankruptcy price after the reserved cover): a backstop never takes the
account further than the book would have been allowed to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from hashedge.domain.backstop.offers import offer_price, pool_price
from hashedge.domain.fills import Fill
from hashedge.domain.orders import Side
from hashedge.domain.units import exact

if TYPE_CHECKING:
    from hashedge.domain.liquidation.engine import LiquidationRun, StepRequest


def _acceptable(account_side: Side, price: Decimal, limit: Decimal) -> bool:
    """Whether ``price`` is no worse for the liquidated account than ``limit``."""
    return price >= limit if account_side is Side.SELL else price <= limit


def _fill(run: LiquidationRun, request: StepRequest, taker: str, price: Decimal, quantity: int, fill_id: str) -> Fill:
    """The backstop (an offer's owner or the pool) is the taker of the fill, the account the maker."""
    ours = run.account_id
    buyer, seller = (taker, ours) if request.side is Side.SELL else (ours, taker)
    return Fill(fill_id=fill_id, instrument_id=request.instrument_id, price=price, quantity=quantity,
                occurred_at=run.occurred_at, buyer_account_id=buyer, seller_account_id=seller,
                aggressor=Side.BUY if request.side is Side.SELL else Side.SELL)


@dataclass(frozen=True)
class OffersStage:
    """Registered backstoppers' offers: best price for the liquidated account first, then time
    priority; each filled at its own price, up to what it has left; an offer whose owner would end
    below initial margin is skipped (and recorded so)."""

    name: str = "backstop_offers"

    def take(self, run: LiquidationRun, request: StepRequest) -> int:
        symbol, spec = request.instrument_id, run.spec(request.instrument_id)
        mark, limit = run.mark(symbol), run.book_limit(request)
        wanted = Side.BUY if request.side is Side.SELL else Side.SELL
        offers = [o for o in run.inputs.backstop_offers.get(symbol, ()) if o.side is wanted]
        priced = sorted(((offer_price(o, mark, spec.tick_size), o) for o in offers),
                        key=lambda p: (-p[0] if request.side is Side.SELL else p[0], p[1].offer_id))
        closed = 0
        for price, offer in priced:
            remaining = request.remaining - closed
            left = offer.remaining - run.offer_filled(offer.offer_id)
            if remaining == 0:
                break
            if left <= 0 or offer.account_id == run.account_id:
                continue
            if not _acceptable(request.side, price, limit):
                run.skip_offer(offer.offer_id, "price")
                continue
            quantity = min(remaining, left)
            fill = _fill(run, request, offer.account_id, price, quantity, run.backstop_fill_id("offer"))
            if not run.keeps_initial_margin(offer.account_id, fill):
                run.skip_offer(offer.offer_id, "initial_margin")
                continue
            run.fill(self.name, fill, fees={}, counterparty=offer.account_id)
            run.offer_filled_add(offer.offer_id, quantity)
            closed += quantity
        return closed


@dataclass(frozen=True)
class PoolStage:
    """The backstop pool: at the mark less ``pool.takeover_discount_ratio`` (or the account's limit
    when that is closer to the mark), never at a loss at the mark, within its caps: the notional it
    takes in one liquidation at most ``pool.max_takeover_ratio`` x its NAV at the start, its exposure
    in the instrument at most ``pool.max_instrument_ratio`` x that NAV, and never below its own
    initial margin."""

    name: str = "backstop_pool"

    def take(self, run: LiquidationRun, request: StepRequest) -> int:
        pool = run.inputs.pool_account_id
        if pool is None or pool == run.account_id or not run.tracks(pool):
            return 0
        nav = run.pool_nav_at_start()
        if nav <= 0:
            return 0
        symbol, spec, params = request.instrument_id, run.spec(request.instrument_id), run.params
        mark, limit = run.mark(symbol), run.book_limit(request)
        side = Side.BUY if request.side is Side.SELL else Side.SELL
        price = pool_price(side, mark, params.pool_takeover_discount_ratio, spec.tick_size)
        price = max(price, limit) if request.side is Side.SELL else min(price, limit)
        if (side is Side.BUY and price > mark) or (side is Side.SELL and price < mark):
            return 0  # the account's limit is beyond the mark: the pool would buy a loss; ADL's turn
        size = exact(spec.multiplier)
        left_notional = exact(params.pool_max_takeover_ratio) * nav - run.pool_taken_notional
        by_takeover = int(left_notional // (exact(price) * size)) if left_notional > 0 else 0
        held = run.position_of(pool, symbol)
        largest = int(exact(params.pool_max_instrument_ratio) * nav // (exact(mark) * size))
        by_instrument = largest - held if side is Side.BUY else largest + held
        quantity = max(0, min(request.remaining, by_takeover, by_instrument))
        quantity = self._within_margin(run, request, pool, price, quantity)
        if quantity == 0:
            return 0
        fill = _fill(run, request, pool, price, quantity, run.backstop_fill_id("pool"))
        run.fill(self.name, fill, fees={}, counterparty=pool)
        run.pool_taken_notional += quantity * exact(price) * size
        return quantity

    @staticmethod
    def _within_margin(run: LiquidationRun, request: StepRequest, pool: str, price: Decimal, quantity: int) -> int:
        """The most contracts up to ``quantity`` the pool can take and keep its initial margin."""
        def ok(q: int) -> bool:
            return q == 0 or run.keeps_initial_margin(pool, _fill(run, request, pool, price, q, "probe"))

        if ok(quantity):
            return quantity
        low, high = 0, quantity  # ok(low), not ok(high)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if ok(middle) else (low, middle)
        return low


@dataclass(frozen=True)
class PoolCover:
    """The pool pays a shortfall up to ``pool.max_loss_ratio`` x its NAV at the start of the
    liquidation, and never more than its free collateral (``available_sats['backstop_pool']``)."""

    name: str = "backstop_pool"
    reserves: bool = True

    def cover(self, run: LiquidationRun, shortfall_sats: int) -> int:
        if run.inputs.pool_account_id is None or shortfall_sats <= 0:
            return 0
        cap = exact(run.params.pool_max_loss_ratio) * max(run.pool_nav_at_start(), 0)
        return max(0, min(shortfall_sats, int(cap), run.available(self.name)))



"""``liquidate(inputs) -> outcome``: the published procedure (LIQUIDATION.md), pure and deterministic.

1. Cancel the account's resting orders.
2. Reserve the cover of the shortfall stages that reserve (protection, insurance fund, backstop
   pool) for the shortfall at the marks, if any: the bankruptcy price the book and ADL respect is
   computed on the equity plus that reserve.
3. Steps (``plan``): while equity, less the penalty owed on what is closed so far, is below the
   target, take the next step and offer it to the takeover stages in order
   (``waterfall.TAKEOVER_STAGES``); each closes what it can. A step no stage can finish ends the
   closing (``unabsorbed``). (Without the penalty in the test, an account closed just to its target
   would fall back below maintenance when the penalty is charged: the property test found it.)
4. Penalty (``penalties``), capped at the equity left above zero.
5. What is still below zero runs down the shortfall stages (``waterfall.SHORTFALL_STAGES``).

Fills are applied exactly as the services book them (``Position.apply``, fees from collateral):
the service then posts the same fills through ``services.trading.record_fill`` and finds the
same collateral. Ids come from the inputs: the liquidation's IOC orders are ``<id>-<step>``, its
book fills ``<instrument>-<sequence>-<n>`` (as every book fill), its ADL fills ``<id>-adl-<n>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.account_events import Standing
from hashedge.domain.backstop.offers import OfferFill, SkippedOffer
from hashedge.domain.book import OrderBook
from hashedge.domain.errors import DomainError
from hashedge.domain.fees import fee_sats
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.liquidation.adl import AdlCandidate, rank
from hashedge.domain.liquidation.penalties import penalty_sats
from hashedge.domain.liquidation.plan import choose_step, target_sats
from hashedge.domain.liquidation.prices import bankruptcy_price
from hashedge.domain.liquidation.record import (
    AdlEvent,
    Cover,
    LiquidationFill,
    LiquidationInputs,
    LiquidationOutcome,
    LiquidationStep,
)
from hashedge.domain.liquidation.waterfall import SHORTFALL_STAGES, TAKEOVER_STAGES
from hashedge.domain.margin import AccountMargin, AccountState, MarginStatus, account_margin, effective_mark
from hashedge.domain.orders import CancelReason, Order, Side
from hashedge.domain.positions import Position
from hashedge.domain.protection.contract import protected_positions
from hashedge.domain.units import Rounding, exact, round_to_tick

MAX_STEPS = 10_000  # a million contracts take about 130 steps at 10%: this only stops a bug


class NotLiquidatable(DomainError):
    """The account's equity covers its maintenance margin: there is nothing to liquidate."""

    def __init__(self, account_id: str, standing: Standing):
        super().__init__(f"account {account_id} is {standing.status.value}, not liquidatable")
        self.account_id, self.standing = account_id, standing


@dataclass
class StepRequest:
    number: int
    instrument_id: str
    side: Side
    quantity: int
    remaining: int


class LiquidationRun:
    """The state of one liquidation while it runs: every account it touches, the books, the fills.
    The stages read and change it only through these methods."""

    def __init__(self, inputs: LiquidationInputs):
        self.inputs = inputs
        self.account_id = inputs.account.account_id
        self.occurred_at = inputs.occurred_at
        self.params = inputs.params
        self.reserve_sats = 0
        self.fills: list[LiquidationFill] = []
        self.step = 0
        self._collateral: dict[str, int] = {}
        self._positions: dict[str, dict[str, Position]] = {}
        for state in (inputs.account, *inputs.counterparties.values()):
            self._collateral[state.account_id] = state.collateral_sats
            self._positions[state.account_id] = {p.instrument_id: p for p in state.positions}
        self._books: dict[str, OrderBook] = {}
        self._orders: list[Order] = []
        self._makers: dict[str, Order] = {}
        self._adl_fills = 0
        self._absorbed = Fraction(0)
        self.notional = Fraction(0)
        self._margins: dict[str, AccountMargin] = {}  # until a fill or a charge changes the account
        self._backstop_fills = 0
        self._offer_filled: dict[int, int] = {}
        self._skipped: dict[tuple[int, int], SkippedOffer] = {}
        self._pool_nav: int | None = None
        self.pool_taken_notional = Fraction(0)
        self._protected = protected_positions(inputs.protection, self.account_id, inputs.occurred_at.date())

    # --- accounts -------------------------------------------------------------------------

    def state(self, account_id: str) -> AccountState:
        positions = tuple(p for _, p in sorted(self._positions[account_id].items()) if p.quantity != 0)
        return AccountState(account_id=account_id, collateral_sats=self._collateral[account_id], positions=positions)

    def margin(self, account_id: str) -> AccountMargin:
        if account_id not in self._margins:
            self._margins[account_id] = account_margin(self.state(account_id), self.inputs.marks, self.params,
                                                       specs=self.inputs.specs)
        return self._margins[account_id]

    def standing(self, account_id: str, extra_sats: int = 0) -> Standing:
        summary = self.margin(account_id)
        return Standing(equity_sats=summary.equity_sats + extra_sats, initial_margin_sats=summary.initial_margin_sats,
                        maintenance_margin_sats=summary.maintenance_margin_sats)

    def collateral(self, account_id: str) -> int:
        return self._collateral[account_id]

    def charge(self, account_id: str, amount_sats: int) -> None:
        self._collateral[account_id] -= amount_sats
        self._margins.pop(account_id, None)

    # --- what the stages use ----------------------------------------------------------------

    def spec(self, symbol: str) -> ContractSpec:
        return self.inputs.specs[symbol]

    def mark(self, symbol: str) -> Decimal:
        return effective_mark(self.spec(symbol), self.inputs.marks[symbol])

    def position(self, symbol: str) -> int:
        held = self._positions[self.account_id].get(symbol)
        return held.quantity if held else 0

    def book(self, symbol: str) -> OrderBook:
        if symbol not in self._books:
            self._books[symbol] = OrderBook.from_resting(
                self.spec(symbol).trading_rules(), self.inputs.books.get(symbol, ()),
                last_sequence=self.inputs.last_sequences.get(symbol, 0))
        return self._books[symbol]

    def order_id(self, request: StepRequest) -> str:
        return f"{self.inputs.liquidation_id}-{request.number}"

    def covered_equity(self) -> int:
        return self.margin(self.account_id).equity_sats + self.reserve_sats

    def book_limit(self, request: StepRequest) -> Decimal:
        """The less aggressive of the band edge and the bankruptcy price after the reserve, on the tick."""
        spec, mark = self.spec(request.instrument_id), self.mark(request.instrument_id)
        band, tick = exact(self.params.liquidation_book_band_ratio), spec.tick_size
        bankrupt = bankruptcy_price(self.position(request.instrument_id), mark, spec.multiplier, self.covered_equity())
        if request.side is Side.SELL:
            edge = round_to_tick(exact(mark) * (1 - band), tick, Rounding.UP)
            return max(edge, round_to_tick(bankrupt, tick, Rounding.UP), tick)
        edge = round_to_tick(exact(mark) * (1 + band), tick, Rounding.DOWN)
        return max(min(edge, round_to_tick(bankrupt, tick, Rounding.DOWN)), tick)

    def uncovered_bankruptcy_price(self, symbol: str) -> Fraction | None:
        """The bankruptcy price while the covered equity is negative; ``None`` otherwise."""
        covered = self.covered_equity()
        if covered >= 0:
            return None
        return bankruptcy_price(self.position(symbol), self.mark(symbol), self.spec(symbol).multiplier, covered)

    def record_order(self, order: Order, makers: tuple[Order, ...]) -> None:
        self._orders.append(order)
        for maker in makers:
            self._makers[maker.order_id] = maker

    def maker_fee(self, fill: Fill) -> int:
        return fee_sats(self.spec(fill.instrument_id), fill.quantity, fill.price, self.params.maker_fee_bps)

    def adl_queue(self, symbol: str, side: Side) -> list[AdlCandidate]:
        """The opposite positions of ``symbol`` in deleveraging order, at their current state."""
        wanted_short = side is Side.SELL  # the account sells to close a long: shorts take it
        candidates = []
        for account_id, held in self._positions.items():
            position = held.get(symbol)
            if account_id == self.account_id or position is None or position.quantity == 0:
                continue
            if (position.quantity < 0) == wanted_short:
                candidates.append(AdlCandidate(account_id=account_id, quantity=position.quantity,
                                               open_value=position.open_value, multiplier=position.multiplier,
                                               equity_sats=self.margin(account_id).equity_sats,
                                               protected=self.is_protected(account_id, symbol)))
        return rank(candidates, self.mark(symbol))

    def is_protected(self, account_id: str, symbol: str) -> bool:
        """Whether default protection in force covers deleveraging this position."""
        return (account_id, symbol) in self._protected or (account_id, None) in self._protected

    def protection_capacity(self) -> int:
        """What the sellers of cash protection on the account can pay of its shortfall."""
        return sum(self.inputs.protection_capacity_sats.values())

    def adl_queue_complete(self, symbol: str) -> bool:
        return symbol in self.inputs.complete_queues

    def adl_fill_id(self) -> str:
        self._adl_fills += 1
        return f"{self.inputs.liquidation_id}-adl-{self._adl_fills}"

    # --- backstop offers and the pool (domain.backstop.stages) ---------------------------------

    def tracks(self, account_id: str) -> bool:
        return account_id in self._positions

    def position_of(self, account_id: str, symbol: str) -> int:
        held = self._positions[account_id].get(symbol)
        return held.quantity if held else 0

    def keeps_initial_margin(self, account_id: str, fill: Fill) -> bool:
        """Whether ``account_id`` (a party to ``fill``) would keep equity >= initial margin after it."""
        if account_id not in self._positions:
            return False
        held = dict(self._positions[account_id])
        before = held.get(fill.instrument_id) or Position(
            account_id=account_id, instrument_id=fill.instrument_id, multiplier=self.spec(fill.instrument_id).multiplier)
        after = before.apply(fill)
        held[fill.instrument_id] = after
        collateral = self._collateral[account_id] + after.realized_pnl_sats - before.realized_pnl_sats
        state = AccountState(account_id=account_id, collateral_sats=collateral,
                             positions=tuple(p for _, p in sorted(held.items()) if p.quantity != 0))
        summary = account_margin(state, self.inputs.marks, self.params, specs=self.inputs.specs)
        return summary.equity_sats >= summary.initial_margin_sats

    def offer_filled(self, offer_id: int) -> int:
        return self._offer_filled.get(offer_id, 0)

    def offer_filled_add(self, offer_id: int, quantity: int) -> None:
        self._offer_filled[offer_id] = self._offer_filled.get(offer_id, 0) + quantity

    def skip_offer(self, offer_id: int, reason: str) -> None:
        self._skipped.setdefault((self.step, offer_id), SkippedOffer(offer_id, self.step, reason))

    def backstop_fill_id(self, kind: str) -> str:
        self._backstop_fills += 1
        return f"{self.inputs.liquidation_id}-{kind}-{self._backstop_fills}"

    def pool_nav_at_start(self) -> int:
        """The pool's equity at the marks before this liquidation touched it (its caps' base)."""
        if self._pool_nav is None:
            pool = self.inputs.counterparties.get(self.inputs.pool_account_id or "")
            self._pool_nav = 0 if pool is None else account_margin(
                pool, self.inputs.marks, self.params, specs=self.inputs.specs).equity_sats
        return self._pool_nav

    def offer_fills(self) -> tuple[OfferFill, ...]:
        return tuple(OfferFill(o, q) for o, q in sorted(self._offer_filled.items()))

    def skipped_offers(self) -> tuple[SkippedOffer, ...]:
        return tuple(self._skipped[k] for k in sorted(self._skipped))

    def available(self, stage: str) -> int:
        return self.inputs.available_sats.get(stage, 0)

    @property
    def adl_absorbed_sats(self) -> int:
        return int(self._absorbed) if self._absorbed >= 0 else 0

    def fill(self, stage: str, fill: Fill, *, fees: Mapping[str, int], counterparty: str) -> None:
        """Apply a fill to every party this run tracks, as the services book it."""
        for owner in (fill.buyer_account_id, fill.seller_account_id):
            held = self._positions.get(owner)
            if held is None:  # a maker the liquidation does not otherwise touch: the service books it
                continue
            before = held.get(fill.instrument_id) or Position(
                account_id=owner, instrument_id=fill.instrument_id, multiplier=self.spec(fill.instrument_id).multiplier)
            after = before.apply(fill)
            held[fill.instrument_id] = after
            self._collateral[owner] += after.realized_pnl_sats - before.realized_pnl_sats - fees.get(owner, 0)
            self._margins.pop(owner, None)
        size = exact(self.spec(fill.instrument_id).multiplier)
        self.notional += fill.quantity * exact(fill.price) * size
        if stage == "adl":
            sign = 1 if fill.seller_account_id == self.account_id else -1
            self._absorbed += sign * (exact(fill.price) - exact(self.mark(fill.instrument_id))) * fill.quantity * size
        self.fills.append(LiquidationFill(stage, self.step, fill, counterparty, dict(fees)))

    # --- results ---------------------------------------------------------------------------

    def orders(self) -> tuple[Order, ...]:
        return tuple(self._orders)

    def maker_updates(self) -> tuple[Order, ...]:
        return tuple(self._makers.values())


def liquidate(inputs: LiquidationInputs) -> LiquidationOutcome:
    """Run the procedure (module docstring) on ``inputs``; ``NotLiquidatable`` if equity covers
    maintenance margin, ``waterfall.NeedMoreCandidates`` if the ADL queue handed in ran out."""
    run, account = LiquidationRun(inputs), inputs.account.account_id
    marks, specs, params = inputs.marks, inputs.specs, inputs.params
    trigger = run.standing(account)
    if trigger.status is not MarginStatus.LIQUIDATABLE:
        raise NotLiquidatable(account, trigger)
    cancelled = tuple(o.cancelled(CancelReason.LIQUIDATION) for o in inputs.account.open_orders if o.is_resting)

    shortfall = max(0, -trigger.equity_sats)
    for stage in SHORTFALL_STAGES:
        if stage.reserves and shortfall > run.reserve_sats:
            run.reserve_sats += stage.cover(run, shortfall - run.reserve_sats)

    closed_instruments = inputs.closed_instruments
    first_target = target_sats(run.state(account), trigger.maintenance_margin_sats, marks, specs, params,
                               closed_instruments)
    steps, unabsorbed = [], False
    while True:
        summary = run.margin(account)
        target = target_sats(run.state(account), summary.maintenance_margin_sats, marks, specs, params,
                             closed_instruments)
        choice = choose_step(run.state(account), marks, specs, params, closed_instruments)
        owed = penalty_sats(run.notional, params.liquidation_penalty_ratio, equity_sats=summary.equity_sats,
                            collateral_sats=run.collateral(account))
        if summary.equity_sats - owed >= target or choice is None:  # the target holds after the penalty
            break
        run.step += 1
        if run.step > MAX_STEPS:  # pragma: no cover - every step closes a contract or ends the loop
            raise DomainError(f"liquidation of {account} did not finish in {MAX_STEPS} steps")
        request = StepRequest(run.step, choice.instrument_id, choice.side, choice.quantity, choice.quantity)
        for stage in TAKEOVER_STAGES:
            if request.remaining == 0:
                break
            request.remaining -= stage.take(run, request)
        steps.append(LiquidationStep(run.step, choice.instrument_id, choice.side, choice.quantity,
                                     choice.quantity - request.remaining, summary.equity_sats,
                                     summary.maintenance_margin_sats, target))
        if request.remaining:
            unabsorbed = True
            break

    closed = run.margin(account)
    penalty = penalty_sats(run.notional, params.liquidation_penalty_ratio, equity_sats=closed.equity_sats,
                           collateral_sats=run.collateral(account))
    run.charge(account, penalty)
    short = max(0, -(closed.equity_sats - penalty))
    covers, paid = [], 0
    for stage in SHORTFALL_STAGES:
        amount = stage.cover(run, short - paid) if stage.reserves else stage.cover(run, run.adl_absorbed_sats)
        paid += amount if stage.reserves else 0
        covers.append(Cover(stage.name, amount))
    return LiquidationOutcome(
        liquidation_id=inputs.liquidation_id, trigger=trigger, target_sats=first_target, cancelled_orders=cancelled,
        orders=run.orders(), maker_updates=run.maker_updates(), steps=tuple(steps), fills=tuple(run.fills),
        notional_closed_sats=-((-run.notional.numerator) // run.notional.denominator), penalty_sats=penalty,
        shortfall_sats=short + run.adl_absorbed_sats, covers=tuple(covers), uncovered_sats=short - paid,
        collateral_after_sats=run.collateral(account) + paid, after=run.standing(account, paid),
        adl_events=_adl_events(run), unabsorbed=unabsorbed, offer_fills=run.offer_fills(),
        skipped_offers=run.skipped_offers(),
    )


def _adl_events(run: LiquidationRun) -> tuple[AdlEvent, ...]:
    totals: dict[tuple[str, str], tuple[int, Fraction]] = {}
    for item in run.fills:
        if item.stage != "adl":
            continue
        key = (item.counterparty, item.fill.instrument_id)
        quantity, value = totals.get(key, (0, Fraction(0)))
        size = exact(run.spec(item.fill.instrument_id).multiplier)
        totals[key] = (quantity + item.fill.quantity, value + item.fill.quantity * exact(item.fill.price) * size)
    return tuple(AdlEvent(account_id, symbol, quantity, value.numerator // value.denominator,
                          run.standing(account_id)) for (account_id, symbol), (quantity, value) in totals.items())

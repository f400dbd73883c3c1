"""Margin: requirements, equity, status, and the pre-trade and withdrawal checks.

Pure functions of positions, marks (``instrument_id -> Decimal``, the instrument id being the
contract symbol), contract specs and ``RiskParameters``. Marks are passed in, never fetched.

Definitions (all in integer sats)
---------------------------------
- notional of q contracts at mark M: ``|q| x M x multiplier``.
- requirement per position, computed exactly and **rounded up once per position**:
  futures: ``|q| x M x multiplier x ratio`` (initial or maintenance ratio of the product);
  capped/floored (fully collateralized): the whole loss to the end of the range, for the long
  ``q x (M - floor) x multiplier``, for the short ``|q| x (cap - M) x multiplier``, the same for
  initial and maintenance. With M clamped to [floor, cap], equity minus this requirement is
  ``collateral - (entry - floor) x m x q`` whatever the mark: what the long posted at entry, so
  a capped position never becomes liquidatable by moving (``liquidation`` must not close it).
- unrealized PnL: ``Position.unrealized_pnl_sats`` at the mark (rounded down per position).
- equity = collateral + unrealized PnL (accruals are posted to collateral by the services).
- status (DESIGN section 6): equity < maintenance -> ``liquidatable``; else equity < initial
  -> ``margin_call`` (no risk-increasing orders); else ``healthy``. Open orders do not count.
- order margin: what open orders would add if they all filled at their limit prices: per
  instrument the worst of "all buys fill" and "all sells fill" (requirement of
  ``q + buys`` vs ``q - sells``) minus the position's own requirement, plus for each order the
  loss it would book at once against the mark (a buy above the mark, a sell below it) and the
  most its fills can be charged in taker fees: the taker fee of one contract, rounded up, times
  the quantity. ``domain.fees`` rounds each fill's fee up on its own, so the fee of the whole
  quantity rounded up once would not do: an order filled in pieces, or partly filled with the
  rest still resting (and counted again here), pays up to a sat more per piece, and an order
  accepted at the edge of its margin would leave the account short. A market order is taken at
  the mark moved by ``market_order_band_ratio`` against it, rounded outward to the tick; the
  service should send it as a limit IOC at that price so the check holds.
- free collateral = equity - initial margin - order margin.

Checks
------
- ``pre_trade_check``: an order that only reduces a position (opposite side, and with the
  account's other orders on that side no larger than the position) always passes, even in a
  margin call. Any other order passes if free collateral, counting it as an open order, stays
  >= 0; otherwise ``Rejected(INSUFFICIENT_FREE_COLLATERAL, shortfall_sats=...)``.
- ``withdrawal_check``: the amount must be positive and at most the free collateral counted
  with unrealized *losses* but without unrealized *gains* (gains are paid by variation margin,
  not before); so free collateral stays >= 0 after any withdrawal.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import DomainError, InvalidValue
from hashedge.domain.fees import fee_sats
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.ledger import withdrawal_denial
from hashedge.domain.orders import Order, OrderType, Side
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from hashedge.domain.units import MARGIN_ROUNDING, Rounding, exact, require_price, require_sats, round_to_tick, to_sats


class MarginStatus(str, Enum):
    HEALTHY = "healthy"
    MARGIN_CALL = "margin_call"
    LIQUIDATABLE = "liquidatable"


class MissingMark(DomainError):
    """A position or order on an instrument without a mark or a spec (a service bug)."""

    def __init__(self, instrument_id: str, what: str = "mark"):
        super().__init__(f"no {what} for instrument {instrument_id!r}")
        self.instrument_id, self.what = instrument_id, what


@dataclass(frozen=True, kw_only=True)
class OrderTotal:
    """Resting limit orders of one account on one side of one instrument, none of them priced
    through the mark, summed (``domain.order_levels`` builds it): margin counts them as their
    orders, exactly. ``fee_bound_sats`` is the sum over the orders of remaining quantity x the
    taker fee of one contract at the order's price (rounded up per contract, as for an order);
    their loss against the mark is zero, so that is their whole per-order cost."""

    account_id: str
    instrument_id: str
    side: Side
    remaining_quantity: int
    fee_bound_sats: int
    is_terminal = False

    @property
    def order_id(self) -> str:
        return f"total:{self.instrument_id}:{self.side.value}"


@dataclass(frozen=True, kw_only=True)
class AccountState:
    """What margin needs to know about one account: collateral, positions, resting orders."""

    account_id: str
    collateral_sats: int
    positions: tuple[Position, ...] = ()
    open_orders: tuple[Order | OrderTotal, ...] = ()  # an OrderTotal stands for its orders, at the marks used

    def __post_init__(self) -> None:
        require_sats(self.collateral_sats, "collateral_sats")
        object.__setattr__(self, "positions", tuple(self.positions))
        object.__setattr__(self, "open_orders", tuple(self.open_orders))
        seen = set()
        for position in self.positions:
            if position.account_id != self.account_id:
                raise InvalidValue("positions", position.account_id, f"is not account {self.account_id!r}")
            if position.instrument_id in seen:
                raise InvalidValue("positions", position.instrument_id, "appears twice")
            seen.add(position.instrument_id)
        for order in self.open_orders:
            if order.account_id != self.account_id:
                raise InvalidValue("open_orders", order.order_id, f"is not an order of {self.account_id!r}")

    def position(self, instrument_id: str) -> int:
        return next((p.quantity for p in self.positions if p.instrument_id == instrument_id), 0)


@dataclass(frozen=True)
class AccountMargin:
    """One account's margin picture at the given marks."""

    account_id: str
    collateral_sats: int
    unrealized_pnl_sats: int
    equity_sats: int
    initial_margin_sats: int
    maintenance_margin_sats: int
    order_margin_sats: int
    free_collateral_sats: int
    status: MarginStatus


# --- one position -------------------------------------------------------------------------------


def effective_mark(spec: ContractSpec, mark: Decimal) -> Decimal:
    """The mark margin uses: positive, and clamped to [floor, cap] for a capped contract."""
    price = require_price(mark, "mark_price")
    if price <= 0:
        raise InvalidValue("mark_price", price, f"must be positive for {spec.symbol}")
    if spec.is_capped:
        assert spec.floor is not None and spec.cap is not None
        return min(max(price, spec.floor), spec.cap)
    return price


def requirement_per_contract(spec: ContractSpec, mark: Decimal, ratio: Decimal | None, *, long: bool) -> Fraction:
    """Exact sats one contract needs: mark x multiplier x ratio, or the range left if capped."""
    return _per_contract(spec, effective_mark(spec, mark), ratio, long)  # the mark checked first


@functools.lru_cache(maxsize=4096)
def _per_contract(spec: ContractSpec, price: Decimal, ratio: Decimal | None, long: bool) -> Fraction:
    # A pure function of values, asked again and again for the same contract and mark: kept.
    size = exact(spec.multiplier)
    if spec.is_capped:
        assert spec.floor is not None and spec.cap is not None
        return (exact(price) - exact(spec.floor)) * size if long else (exact(spec.cap) - exact(price)) * size
    assert ratio is not None
    return exact(price) * size * exact(ratio)


def ratios_for(spec: ContractSpec, params: RiskParameters) -> tuple[Decimal | None, Decimal | None]:
    """(initial, maintenance) ratios of the contract's product; ``None`` for a capped contract."""
    if spec.is_capped:
        return None, None
    ratios = params.ratios(spec.product)
    return ratios.initial, ratios.maintenance


def _requirement(spec: ContractSpec, quantity: int, mark: Decimal, ratio: Decimal | None) -> int:
    if quantity == 0:
        return 0
    per_contract = requirement_per_contract(spec, mark, ratio, long=quantity > 0)
    return to_sats(abs(quantity) * per_contract, MARGIN_ROUNDING)


def notional_sats(spec: ContractSpec, quantity: int, mark: Decimal) -> int:
    """|q| x mark x multiplier, rounded up (a base for requirements and penalties)."""
    return to_sats(abs(quantity) * exact(effective_mark(spec, mark)) * exact(spec.multiplier), MARGIN_ROUNDING)


def initial_margin_sats(spec: ContractSpec, quantity: int, mark: Decimal, params: RiskParameters) -> int:
    return _requirement(spec, quantity, mark, ratios_for(spec, params)[0])


def maintenance_margin_sats(spec: ContractSpec, quantity: int, mark: Decimal, params: RiskParameters) -> int:
    return _requirement(spec, quantity, mark, ratios_for(spec, params)[1])


def margin_status(equity_sats: int, initial_margin_sats: int, maintenance_margin_sats: int) -> MarginStatus:
    if equity_sats < maintenance_margin_sats:
        return MarginStatus.LIQUIDATABLE
    if equity_sats < initial_margin_sats:
        return MarginStatus.MARGIN_CALL
    return MarginStatus.HEALTHY


# --- one account --------------------------------------------------------------------------------


def _lookup(instrument_id: str, marks: Mapping[str, Decimal],
            specs: Mapping[str, ContractSpec]) -> tuple[ContractSpec, Decimal]:
    if instrument_id not in specs:
        raise MissingMark(instrument_id, "contract spec")
    if instrument_id not in marks:
        raise MissingMark(instrument_id)
    return specs[instrument_id], marks[instrument_id]


def _position_figures(position: Position, spec: ContractSpec, mark: Decimal,
                      params: RiskParameters) -> tuple[int, int, int]:
    """(unrealized PnL, initial, maintenance) of one position."""
    if position.multiplier != spec.multiplier:
        raise InvalidValue("multiplier", position.multiplier, f"differs from {spec.symbol}'s {spec.multiplier}")
    price = effective_mark(spec, mark)
    initial, maintenance = ratios_for(spec, params)
    return (position.unrealized_pnl_sats(price), _requirement(spec, position.quantity, price, initial),
            _requirement(spec, position.quantity, price, maintenance))


class MarginMemo:
    """Instrument terms (``InstrumentMargin``) already worked out with one set of risk
    parameters, keyed by every other value they depend on: the position held in the instrument,
    its working orders, its mark and its contract. A memo is tied to the parameters it was made
    for and never reset: ``using`` returns it while it serves those parameters and has room, else
    a fresh memo, so a batch still holding the old one (another thread, other parameters) keeps
    reading and writing terms of its own parameters only. The matching engine keeps one across
    its batches and the account reads keep another (``services.margin.SharedMarginMemo``)."""

    def __init__(self, params: RiskParameters | None = None, *, max_entries: int = 200_000):
        self.max_entries = max_entries
        self.params = params
        self.instruments: dict[tuple, InstrumentMargin] = {}

    def using(self, params: RiskParameters) -> MarginMemo:
        """This memo for ``params`` if it serves them and is not past ``max_entries``, else a new
        empty one for them."""
        if params is self.params and len(self.instruments) <= self.max_entries:
            return self
        return MarginMemo(params, max_entries=self.max_entries)

    def serves(self, params: RiskParameters) -> bool:
        return params is self.params


def unrealized_pnl_sats(account: AccountState, marks: Mapping[str, Decimal],
                        specs: Mapping[str, ContractSpec]) -> int:
    """Sum of the positions' unrealized PnL at the (effective) marks."""
    total = 0
    for position in account.positions:
        spec, mark = _lookup(position.instrument_id, marks, specs)
        total += position.unrealized_pnl_sats(effective_mark(spec, mark))
    return total


def order_price(spec: ContractSpec, order: Order, mark: Decimal, params: RiskParameters) -> Decimal:
    """The price an order is checked at: its limit, or for a market order the band edge."""
    if order.order_type is OrderType.LIMIT:
        assert order.price is not None
        return order.price
    price, band = effective_mark(spec, mark), params.market_order_band_ratio
    if order.side is Side.BUY:
        edge = round_to_tick(price * (1 + band), spec.tick_size, Rounding.UP)
    else:
        edge = max(round_to_tick(price * (1 - band), spec.tick_size, Rounding.DOWN), spec.tick_size)
    return effective_mark(spec, edge) if spec.is_capped else edge


def _order_cost(spec: ContractSpec, order: Order, mark: Decimal, params: RiskParameters) -> int:
    """Loss booked at once against the mark if the order fills at its price, plus the most its
    fills can pay in taker fees (module docstring: per contract, rounded up)."""
    if isinstance(order, OrderTotal):
        return order.fee_bound_sats  # priced through the mark by none of its orders: no loss at once
    at, quantity = order_price(spec, order, mark, params), order.remaining_quantity
    price, size = exact(at), quantity * exact(spec.multiplier)
    adverse = max(Fraction(0), (price - exact(effective_mark(spec, mark))) * order.side.sign * size)
    return to_sats(adverse, MARGIN_ROUNDING) + quantity * fee_sats(spec, 1, at, params.taker_fee_bps)


def _working(orders: tuple[Order, ...]) -> list[Order]:
    return [o for o in orders if not o.is_terminal and o.remaining_quantity > 0]


def order_margin_sats(account: AccountState, marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec],
                      params: RiskParameters, orders: tuple[Order, ...] | None = None) -> int:
    """What ``orders`` (default: the account's open orders) add to initial margin (module doc):
    per instrument, each order's cost plus the worst of the position with every buy or every sell
    filled, less the position's own requirement."""
    by_instrument: dict[str, list[Order]] = {}
    for order in _working(account.open_orders if orders is None else orders):
        by_instrument.setdefault(order.instrument_id, []).append(order)
    total = 0
    for instrument_id, working in by_instrument.items():
        spec, mark = _lookup(instrument_id, marks, specs)
        total += _instrument_order_margin(spec, working, account.position(instrument_id), mark, params)
    return total


def _order_id(order: Order | OrderTotal) -> str:
    return order.order_id


def _instrument_order_margin(spec: ContractSpec, working: list[Order], held: int, mark: Decimal,
                             params: RiskParameters) -> int:
    term = sum(_order_cost(spec, order, mark, params) for order in working)
    buys = sum(o.remaining_quantity for o in working if o.side is Side.BUY)
    sells = sum(o.remaining_quantity for o in working if o.side is not Side.BUY)
    ratio = ratios_for(spec, params)[0]
    worst = max(_requirement(spec, held + buys, mark, ratio), _requirement(spec, held - sells, mark, ratio))
    return term + worst - _requirement(spec, held, mark, ratio)


@dataclass(frozen=True)
class InstrumentMargin:
    """One instrument's share of an account's margin: the position's unrealized PnL and initial
    and maintenance requirements, and what the account's working orders in it add (the order
    margin of the module docstring, per instrument). ``account_margin`` is their sum."""

    unrealized_pnl_sats: int = 0
    initial_margin_sats: int = 0
    maintenance_margin_sats: int = 0
    order_margin_sats: int = 0


def margin_instruments(account: AccountState) -> list[str]:
    """The instruments of the account's margin: those it holds a position in (in their order),
    then those it has working orders in."""
    held = [p.instrument_id for p in account.positions]
    seen = set(held)
    for order in _working(account.open_orders):
        if order.instrument_id not in seen:
            seen.add(order.instrument_id)
            held.append(order.instrument_id)
    return held


def instrument_margins(account: AccountState, marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec],
                       params: RiskParameters, *, memo: MarginMemo | None = None,
                       only: Iterable[str] | None = None) -> dict[str, InstrumentMargin]:
    """The account's ``InstrumentMargin`` in each of its ``margin_instruments`` (or in those of
    ``only``; an instrument it neither holds nor works orders in has all-zero terms)."""
    positions = {p.instrument_id: p for p in account.positions}
    working: dict[str, list[Order]] = {}
    for order in _working(account.open_orders):
        working.setdefault(order.instrument_id, []).append(order)
    use_memo = memo is not None and memo.serves(params)
    terms: dict[str, InstrumentMargin] = {}
    for instrument_id in (margin_instruments(account) if only is None else only):
        position, orders = positions.get(instrument_id), working.get(instrument_id, [])
        if position is None and not orders:
            terms[instrument_id] = InstrumentMargin()
            continue
        spec, mark = _lookup(instrument_id, marks, specs)
        key = (position, mark, spec, tuple(sorted(orders, key=_order_id))) if use_memo else None
        if key is not None and (found := memo.instruments.get(key)) is not None:
            terms[instrument_id] = found
            continue
        pnl, initial, maintenance = (0, 0, 0) if position is None else _position_figures(position, spec, mark, params)
        held = 0 if position is None else position.quantity
        ordered = _instrument_order_margin(spec, orders, held, mark, params) if orders else 0
        terms[instrument_id] = InstrumentMargin(pnl, initial, maintenance, ordered)
        if key is not None:
            memo.instruments[key] = terms[instrument_id]
    return terms


def margin_of_terms(account: AccountState, terms: Iterable[InstrumentMargin]) -> AccountMargin:
    """The account's margin from its instrument terms (``instrument_margins``)."""
    pnl = initial = maintenance = orders = 0
    for term in terms:
        pnl += term.unrealized_pnl_sats
        initial += term.initial_margin_sats
        maintenance += term.maintenance_margin_sats
        orders += term.order_margin_sats
    equity = account.collateral_sats + pnl
    return AccountMargin(
        account_id=account.account_id, collateral_sats=account.collateral_sats, unrealized_pnl_sats=pnl,
        equity_sats=equity, initial_margin_sats=initial, maintenance_margin_sats=maintenance,
        order_margin_sats=orders, free_collateral_sats=equity - initial - orders,
        status=margin_status(equity, initial, maintenance),
    )


def account_margin(account: AccountState, marks: Mapping[str, Decimal], params: RiskParameters, *,
                   specs: Mapping[str, ContractSpec], memo: MarginMemo | None = None) -> AccountMargin:
    """Equity, requirements, free collateral and status of one account."""
    return margin_of_terms(account, instrument_margins(account, marks, specs, params, memo=memo).values())


# --- checks -------------------------------------------------------------------------------------


def _reduces_only(account: AccountState, order: Order) -> bool:
    held = account.position(order.instrument_id)
    if held == 0 or (held > 0) == (order.side is Side.BUY):
        return False
    same_side = sum(o.remaining_quantity for o in _working(account.open_orders)
                    if o.instrument_id == order.instrument_id and o.side is order.side
                    and o.order_id != order.order_id)
    return same_side + order.remaining_quantity <= abs(held)


def pre_trade_check(account: AccountState, order: Order, marks: Mapping[str, Decimal], params: RiskParameters,
                    *, specs: Mapping[str, ContractSpec], memo: MarginMemo | None = None,
                    terms: Mapping[str, InstrumentMargin] | None = None) -> Rejected | None:
    """``None`` if ``order`` may go to the book, else the denial with the shortfall in sats.
    ``memo`` gives the same answer from terms worked out before; ``terms``, the account's
    ``instrument_margins`` as the caller already holds them (every one of its
    ``margin_instruments``), gives it without working any out."""
    if order.account_id != account.account_id:
        raise InvalidValue("order", order.order_id, f"is not an order of {account.account_id!r}")
    spec, mark = _lookup(order.instrument_id, marks, specs)
    if _reduces_only(account, order):
        return None
    if terms is None:
        terms = instrument_margins(account, marks, specs, params, memo=memo)
    summary = margin_of_terms(account, (terms[i] for i in margin_instruments(account)))
    # With the order: its instrument's order term counts it beside the account's other working
    # orders there; every other instrument's term is unchanged.
    here = _working(tuple(o for o in account.open_orders if o.instrument_id == order.instrument_id
                          and o.order_id != order.order_id) + (order,))
    with_order = (summary.order_margin_sats - terms.get(order.instrument_id, InstrumentMargin()).order_margin_sats
                  + (_instrument_order_margin(spec, here, account.position(order.instrument_id), mark, params)
                     if here else 0))
    required = summary.initial_margin_sats + with_order
    shortfall = required - summary.equity_sats
    if shortfall <= 0:
        return None
    message = (f"order needs {required} sats of initial margin with the account's positions and open"
               f" orders, equity is {summary.equity_sats} sats: short by {shortfall} sats")
    return Rejected(RejectReason.INSUFFICIENT_FREE_COLLATERAL, "quantity", message, shortfall_sats=shortfall)


def withdrawable_sats(account: AccountState, marks: Mapping[str, Decimal], params: RiskParameters, *,
                      specs: Mapping[str, ContractSpec]) -> int:
    """Collateral that may leave: free collateral without unrealized gains, never below 0."""
    summary = account_margin(account, marks, params, specs=specs)
    equity = summary.collateral_sats + min(summary.unrealized_pnl_sats, 0)
    return max(equity - summary.initial_margin_sats - summary.order_margin_sats, 0)


def withdrawal_check(account: AccountState, amount_sats: int, marks: Mapping[str, Decimal],
                     params: RiskParameters, *, specs: Mapping[str, ContractSpec]) -> Rejected | None:
    """``None`` if ``amount_sats`` may be withdrawn, else the denial with the shortfall."""
    return withdrawal_denial(amount_sats, withdrawable_sats(account, marks, params, specs=specs))

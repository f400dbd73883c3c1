"""Trading use cases: place, replace and cancel orders, and read orders, trades and positions.

``place_order`` does everything in ONE transaction, in this lock order (the same everywhere, so
writers queue instead of deadlocking): the instrument's sequence row (matching is serialized per
instrument), then the collateral rows of every account the match touches, in key order. Under
those locks it rebuilds the book from the stored resting orders, matches (``domain.book``),
checks the taker's margin (``domain.margin.pre_trade_check``), and stores the order, the makers'
new states, the trades, the positions, the fees (``ledger.fee`` to the fees account) and the PnL
the fills realized (``ledger.variation_margin`` against settlement clearing). Nothing is stored
for a refused order. The platform accounts those entries move (``fees``, ``settlement_clearing``)
are not locked fill by fill: the ledger sums their increments and applies them at commit, in key
order, then links the entries into the journal's hash chain (``services.ledger``: whichever order
the fills realize PnL and pay fees in, every order takes the platform rows in the same order).

``replace_order`` (cancel/replace) follows the same discipline: the instrument's sequence row,
the book rebuilt from storage, ``OrderBook.replace``, the collateral rows of every account the
match touches, the margin check of the amended order, then the order's new terms, the makers,
trades, positions, fees and PnL, and an amendment record (``order_amendments``) that holds the
request's idempotency key. A refusal stores nothing: the order stays as it was.

Market orders are sent to the book as limit IOC orders at the edge of the market-order band
around the mark (``domain.margin.order_price``), the price the margin check assumed. A limit
price (new, or changed by a replace) outside the governed price band around the mark
(``domain.marks.limit_price_check``, ``orders.price_band_ratio``) is refused with the allowed
range, before anything is matched.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hashedge import faults
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.trading import InstrumentRecord, StoredAmendment, StoredOrder, TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.book import MatchResult, OrderBook
from hashedge.domain.denials import Rejected
from hashedge.domain.fees import fill_fees_sats
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import order_price, pre_trade_check
from hashedge.domain.marks import limit_price_check
from hashedge.domain.orders import CancelReason, Order, OrderType, Side, TimeInForce, order_style, validate_order
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from hashedge.errors import Conflict, HashEdgeError, IdempotencyKeyReused, InvalidInput, NotFound
from hashedge.services.accounts import require_account
from hashedge.services.instruments import get_instrument
from hashedge.services.ledger import post, post_new, request_key
from hashedge.services.margin import latest_marks, order_check_state, risk_parameters

MAX_QUANTITY = 1_000_000
MAX_PRICE = 10**12  # far above any quote of any product; keeps prices in 64-bit ticks
MAX_PAGE_SIZE = 1000


class OrderRejected(HashEdgeError):
    """The book or the margin check refused an order; ``reason`` is the domain's reason."""

    code = "order_rejected"
    http_status = 422

    def __init__(self, denial: Rejected):
        fields = {denial.field or "order": [denial.message]}
        super().__init__(denial.message, fields=fields)
        self.reason = denial.reason.value
        self.shortfall_sats = denial.shortfall_sats


class InsufficientMargin(OrderRejected):
    code = "insufficient_margin"


class TradingClosed(Conflict):
    code = "trading_closed"


@dataclass(frozen=True)
class PlacedOrder:
    """An order as placed or amended, with the fills that request made (all of the order's on a replay)."""

    order: Order
    style: str
    fills: tuple[Fill, ...]
    replayed: bool = False
    fees_sats: tuple[int, ...] = ()  # what the order's account paid on each fill, in order


@dataclass(frozen=True)
class PositionView:
    position: Position
    mark_price: Decimal | None
    unrealized_pnl_sats: int | None


# --- inputs -----------------------------------------------------------------------------


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def parse_side(side: object) -> Side:
    if side not in ("buy", "sell"):
        raise _invalid("side", f"side must be 'buy' or 'sell', got {side!r}")
    return Side(side)


def parse_quantity(quantity: object, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise _invalid(field, f"{field} must be a whole number of contracts")
    if not 1 <= quantity <= MAX_QUANTITY:
        raise _invalid(field, f"{field} must be between 1 and {MAX_QUANTITY}, got {quantity}")
    return quantity


def parse_price(price: object, field: str = "price") -> Decimal | None:
    if price is None:
        return None
    if isinstance(price, bool) or not isinstance(price, (int, Decimal, str)):
        raise _invalid(field, f"{field} must be a decimal number")
    try:
        value = Decimal(price) if not isinstance(price, Decimal) else price
    except ArithmeticError:
        raise _invalid(field, f"{field} must be a decimal number, got {price!r}") from None
    if not value.is_finite() or value <= 0:
        raise _invalid(field, f"{field} must be a positive finite number, got {price}")
    if value > MAX_PRICE:
        raise _invalid(field, f"{field} must be at most {MAX_PRICE}, got {value}")
    return _without_trailing_zeros(value)


def _without_trailing_zeros(value: Decimal) -> Decimal:
    """The same number without trailing fractional zeros (exact, unlike ``normalize``, which
    rounds to the context's precision): 50000.000 is stored as 50000."""
    sign, digits, exponent = value.as_tuple()
    while exponent < 0 and len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return Decimal((sign, digits, exponent))


def refuse_denied(denial: Rejected | None) -> None:
    if denial is not None:
        raise OrderRejected(denial)


def _require_price_in_band(uow: UnitOfWork, spec: ContractSpec, price: Decimal, params: RiskParameters) -> None:
    mark = latest_marks(uow, (spec.symbol,))[spec.symbol]
    refuse_denied(limit_price_check(spec, price, mark, params))


def require_trading_open(uow: UnitOfWork | None, record: InstrumentRecord, now: datetime, *,
                         tip_height: int | None = None) -> None:
    """Listed and open at ``now``; the chain tip read through ``uow`` unless given."""
    tip = uow.blocks.tip_height() if uow is not None else tip_height
    if record.status != "listed" or not record.spec.is_trading_open(now, tip):
        raise TradingClosed(f"trading in {record.symbol} is closed ({record.status})",
                            fields={"instrument": ["trading is closed"]})


# --- fills: positions, fees, realized PnL ---------------------------------------------------


def record_fill(uow: UnitOfWork, spec: ContractSpec, fill: Fill, *, kind: str, params: RiskParameters,
                now: datetime, charge_fees: bool = True,
                fees_sats: Mapping[str, int] | None = None) -> dict[str, int]:
    """Store a fill (book, block, liquidation or ADL) with its consequences; returns the fees charged
    per account: the fee schedule's (``domain.fees``), or ``fees_sats`` when the caller's rule sets
    them (a liquidation: the maker's fee, none for the liquidated account or an ADL counterparty).

    The caller holds the instrument lock and the collateral locks of both parties. Only the
    reversal of a block trade is booked without fees (``charge_fees=False``).
    """
    if not charge_fees:
        fees = {}
    else:
        fees = fill_fees_sats(fill, spec, params) if fees_sats is None else dict(fees_sats)
    uow.trades.add(fill, kind=kind, fees_sats=fees)
    realized = {}
    for owner in (fill.buyer_account_id, fill.seller_account_id):
        before = uow.positions.get(int(owner), spec)
        after = before.apply(fill)
        uow.positions.save(after, now)
        realized[owner] = after.realized_pnl_sats - before.realized_pnl_sats
    entry = ledger.variation_margin(realized, idempotency_key=f"trade:{fill.fill_id}:pnl", occurred_at=now,
                                    memo=f"PnL realized by trade {fill.fill_id}")
    if entry is not None:
        post(uow, entry, now)
    for owner, amount in sorted(fees.items()):
        if amount > 0:
            post(uow, ledger.fee(owner, amount, idempotency_key=f"trade:{fill.fill_id}:fee:{owner}",
                                 occurred_at=now, memo=f"{kind} trade {fill.fill_id} in {spec.symbol}"), now)
    return fees


def _lock_parties(uow: UnitOfWork, account_id: int, result: MatchResult) -> int:
    """Lock the collateral rows of every account the match touches (in key order); returns the
    order's account's collateral, read under its lock."""
    touched = {str(account_id)} | {m.account_id for m in result.maker_updates}
    balances = uow.ledger.lock_balances([collateral_of(int(owner)) for owner in touched])
    return balances.get(collateral_of(account_id), 0)


def _check_margin(uow: UnitOfWork, account_id: int, order: Order, spec: ContractSpec,
                  params: RiskParameters, collateral_sats: int, *, amending: str | None = None) -> None:
    # Read under the account's lock; the resting orders summed by the database, exactly.
    state, marks, specs = order_check_state(uow, account_id, spec.symbol, params, collateral_sats,
                                            except_order=amending)
    denial = pre_trade_check(state, order, marks, params, specs=specs)
    if denial is not None:
        raise InsufficientMargin(denial)


def _store_match(uow: UnitOfWork, spec: ContractSpec, result: MatchResult, *, params: RiskParameters,
                 now: datetime) -> tuple[int, ...]:
    """Store what a match did to the book besides the incoming order: the makers and the fills,
    with what ``record_fill`` stores for each (trade, positions, fees, realized PnL), in a fixed
    number of statements however many fills: the makers in one, the trades in one, the parties'
    positions read in one and written in two, the ledger entries in one batch (``post_new``: the
    fills' keys are new under the instrument's lock). The entries are the same, in the same
    order, as fill by fill. Returns the fee the incoming order's account paid on each fill."""
    uow.orders.save_states(result.maker_updates, now)
    if not result.fills:
        return ()
    parties = {f.buyer_account_id for f in result.fills} | {f.seller_account_id for f in result.fills}
    positions, stored = uow.positions.in_instrument(parties, spec)
    trades, entries, paid = [], [], []
    for fill in result.fills:
        fees = fill_fees_sats(fill, spec, params)
        trades.append((fill, fees))
        realized = {}
        for owner in (fill.buyer_account_id, fill.seller_account_id):
            before = positions[owner]
            positions[owner] = before.apply(fill)
            realized[owner] = positions[owner].realized_pnl_sats - before.realized_pnl_sats
        entries.extend(book_fill_entries(fill, realized, fees, now))
        paid.append(fees.get(result.order.account_id, 0))
    uow.trades.add_many(trades, kind="book")
    uow.positions.save_new_states([positions[p] for p in sorted(parties, key=int)], stored, now)
    post_new(uow, entries, now)
    return tuple(paid)


def book_fill_entries(fill: Fill, realized_sats: Mapping[str, int], fees_sats: Mapping[str, int],
                      now: datetime) -> list[ledger.JournalEntry]:
    """A book fill's ledger entries, in order: the PnL it realized (none if nothing), then each
    positive fee by account; their keys carry the fill id (``services.ledger.post_new``)."""
    pnl = ledger.variation_margin(realized_sats, idempotency_key=f"trade:{fill.fill_id}:pnl", occurred_at=now,
                                  memo=f"PnL realized by trade {fill.fill_id}")
    fees = [ledger.fee(owner, amount, idempotency_key=f"trade:{fill.fill_id}:fee:{owner}", occurred_at=now,
                       memo=f"book trade {fill.fill_id} in {fill.instrument_id}")
            for owner, amount in sorted(fees_sats.items()) if amount > 0]
    return fees if pnl is None else [pnl, *fees]


# --- orders ----------------------------------------------------------------------------------


def new_order(account_id: int, spec: ContractSpec, side: Side, style_name: str, quantity: int,
               price: Decimal | None, sequence: int, now: datetime) -> Order:
    style = order_style(style_name)
    if isinstance(style, Rejected):
        raise InvalidInput(style.message, fields={"type": [style.message]})
    return Order(order_id=uuid.uuid4().hex, account_id=str(account_id), instrument_id=spec.symbol, side=side,
                 quantity=quantity, sequence=sequence, created_at=now, order_type=style.order_type,
                 price=price, time_in_force=style.time_in_force, post_only=style.post_only)


def protected_market_order(order: Order, spec: ContractSpec, mark: Decimal, params: RiskParameters) -> Order:
    if order.order_type is not OrderType.MARKET:
        return order
    edge = order_price(spec, order, mark, params)
    return dataclasses.replace(order, order_type=OrderType.LIMIT, price=edge, time_in_force=TimeInForce.IOC
                               if order.time_in_force is TimeInForce.GTC else order.time_in_force)


def _replay(stored: StoredOrder, symbol: str, side: Side, style: str, quantity: int, price: Decimal | None,
            client_key: str, uow: UnitOfWork) -> PlacedOrder:
    if not same_request(stored.order, stored.style, symbol, side, style, quantity, price):
        raise IdempotencyKeyReused(client_key)
    return _stored_answer(uow, stored.order, stored.style)


def same_request(order: Order, stored_style: str, symbol: str, side: Side, style: str, quantity: int,
                 price: Decimal | None) -> bool:
    """Whether a retried request (its idempotency key already placed ``order``) asks for the same order."""
    return (order.instrument_id == symbol and order.side is side and stored_style == style
            and order.quantity == quantity and (style == "market" or order.price == price))


def with_fills(order: Order, style: str, trades: list[TradeRecord], *, replayed: bool = False) -> PlacedOrder:
    """An order with every fill it took part in and what its account paid on each."""
    fees = tuple(t.buyer_fee_sats if t.fill.buy_order_id == order.order_id else t.seller_fee_sats for t in trades)
    return PlacedOrder(order, style, tuple(t.fill for t in trades), replayed=replayed, fees_sats=fees)


def _stored_answer(uow: UnitOfWork, order: Order, style: str) -> PlacedOrder:
    """A replay: the order as stored now (it may have traded or been cancelled since the first
    answer), with every fill it took part in and its fees."""
    return with_fills(order, style, uow.trades.of_order(order.order_id), replayed=True)


def place_order(uow: UnitOfWork, clock: Clock, account_id: int, *, instrument: str, side: str, order_type: str,
                quantity: int, price: Decimal | int | str | None = None,
                idempotency_key: str | None = None) -> PlacedOrder:
    """Validate, margin-check, match and store an order (module docstring)."""
    side_value, quantity = parse_side(side), parse_quantity(quantity)
    limit_price = parse_price(price)
    if order_type == "market":
        limit_price = None  # a market order's price is the band edge, set below
    key = request_key(account_id, idempotency_key) if idempotency_key is not None else None
    now = clock.now()
    with uow:
        params = risk_parameters(uow, now)
        require_account(uow, account_id)
        record = get_instrument(uow, instrument)
        spec = record.spec
        if key is not None:
            stored = uow.orders.by_idempotency_key(account_id, key)
            if stored is not None:
                return _replay(stored, spec.symbol, side_value, order_type, quantity, limit_price,
                               idempotency_key, uow)
            if uow.orders.amendment_by_idempotency_key(account_id, key) is not None:
                raise IdempotencyKeyReused(idempotency_key)
        require_trading_open(uow, record, now)
        last_sequence = uow.instruments.lock_sequence(spec.symbol)
        order = new_order(account_id, spec, side_value, order_type, quantity, limit_price, last_sequence + 1, now)
        refuse_denied(validate_order(order, spec.trading_rules()))
        if order.order_type is OrderType.LIMIT:
            _require_price_in_band(uow, spec, order.price, params)
        if order.order_type is OrderType.MARKET:
            mark = latest_marks(uow, (spec.symbol,))[spec.symbol]
            order = protected_market_order(order, spec, mark, params)
        # Only the resting orders it can reach, in priority, until they hold its quantity:
        # matching against them gives the same result as the whole book (``crossing``).
        book = OrderBook.from_resting(spec.trading_rules(), uow.orders.crossing(order, spec.tick_size),
                                      last_sequence=last_sequence)
        result = book.submit(order)
        refuse_denied(result.rejected)
        collateral_sats = _lock_parties(uow, account_id, result)
        _check_margin(uow, account_id, order, spec, params, collateral_sats)
        uow.instruments.set_sequence(spec.symbol, order.sequence)
        uow.orders.add(result.order, style=order_type, idempotency_key=key, at=now, tick_size=spec.tick_size)
        fees = _store_match(uow, spec, result, params=params, now=now)
        faults.checkpoint("place_order.before_commit")
        uow.commit()
    return PlacedOrder(result.order, order_type, result.fills, fees_sats=fees)


def own_order(uow: UnitOfWork, account_id: int, order_id: str) -> StoredOrder:
    """The account's order; another account's (or no) order is NotFound, never a hint it exists."""
    stored = uow.orders.get(order_id) if isinstance(order_id, str) else None
    if stored is None or stored.order.account_id != str(account_id):
        raise NotFound(f"no order {order_id!r}", fields={"order_id": ["unknown order"]})
    return stored


def _require_resting(order: Order) -> None:
    if not order.is_resting:
        raise Conflict(f"order {order.order_id} is {order.status.value}, not resting",
                       fields={"order_id": [f"order is {order.status.value}"]})


def _replayed_amendment(uow: UnitOfWork, account_id: int, key: str, client_key: str, order_id: str,
                        quantity: int | None, price: Decimal | None) -> PlacedOrder | None:
    """The stored answer to a retried amendment, ``None`` for a new key; a key already used for
    anything else (another amendment, placing an order) is ``IdempotencyKeyReused``."""
    if uow.orders.by_idempotency_key(account_id, key) is not None:
        raise IdempotencyKeyReused(client_key)
    amendment = uow.orders.amendment_by_idempotency_key(account_id, key)
    if amendment is None:
        return None
    same = (amendment.order_id == order_id
            and amendment.quantity == (amendment.previous_quantity if quantity is None else quantity)
            and amendment.price == (amendment.previous_price if price is None else price))
    if not same:
        raise IdempotencyKeyReused(client_key)
    stored = uow.orders.get(order_id)
    return _stored_answer(uow, stored.order, stored.style)


def replace_order(uow: UnitOfWork, clock: Clock, account_id: int, order_id: str, *, quantity: int | None = None,
                  price: Decimal | int | str | None = None, idempotency_key: str | None = None) -> PlacedOrder:
    """Cancel/replace one of the account's resting orders atomically (module docstring).

    ``quantity`` is the new total, filled included, and must exceed what is filled; ``None``
    keeps the quantity, and ``price=None`` the price. A lower quantity at the same price keeps
    the order's place in the queue (and, adding no risk, skips the margin check); any other
    change takes a new place and may trade at once. Another account's order is NotFound, an
    order no longer resting a Conflict.
    """
    if quantity is None and price is None:
        message = "give a new quantity, a new price or both"
        raise InvalidInput(message, fields={"quantity": [message], "price": [message]})
    new_quantity = None if quantity is None else parse_quantity(quantity)
    new_price = parse_price(price)
    key = request_key(account_id, idempotency_key) if idempotency_key is not None else None
    now = clock.now()
    with uow:
        params = risk_parameters(uow, now)
        require_account(uow, account_id)
        symbol = own_order(uow, account_id, order_id).order.instrument_id
        last_sequence = uow.instruments.lock_sequence(symbol)
        if key is not None:  # looked up under the lock: a concurrent retry sees the first one's record
            replayed = _replayed_amendment(uow, account_id, key, idempotency_key, order_id, new_quantity, new_price)
            if replayed is not None:
                return replayed
        stored = uow.orders.get(order_id)  # read again under the instrument's lock
        before = stored.order
        _require_resting(before)
        record = get_instrument(uow, symbol)
        spec = record.spec
        require_trading_open(uow, record, now)
        quantity_after = before.quantity if new_quantity is None else new_quantity
        price_after = before.price if new_price is None else new_price
        if price_after != before.price or quantity_after > before.quantity:
            _require_price_in_band(uow, spec, price_after, params)
        # The order itself and the opposite orders its new price crosses: enough to replace it
        # exactly as the whole book would (see place_order).
        taker = dataclasses.replace(before, price=price_after, quantity=max(quantity_after, before.filled_quantity + 1))
        crossed = uow.orders.crossing(taker, spec.tick_size)
        book = OrderBook.from_resting(spec.trading_rules(), [before, *crossed], last_sequence=last_sequence)
        sequence = last_sequence + 1
        result = book.replace(order_id, quantity=quantity_after, price=price_after, sequence=sequence,
                              occurred_at=now)
        if isinstance(result, Rejected):
            raise OrderRejected(result)
        collateral_sats = _lock_parties(uow, account_id, result)
        if price_after != before.price or quantity_after > before.quantity:  # a lower quantity adds no risk
            amended = before.amended(quantity=quantity_after, price=price_after, sequence=sequence)
            _check_margin(uow, account_id, amended, spec, params, collateral_sats, amending=order_id)
        uow.instruments.set_sequence(symbol, sequence)
        uow.orders.save_amended(result.order, now, spec.tick_size)
        uow.orders.add_amendment(StoredAmendment(
            order_id=order_id, account_id=account_id, sequence=sequence, previous_quantity=before.quantity,
            previous_price=before.price, quantity=quantity_after, price=price_after, idempotency_key=key,
            occurred_at=now))
        fees = _store_match(uow, spec, result, params=params, now=now)
        uow.commit()
    return PlacedOrder(result.order, stored.style, result.fills, fees_sats=fees)


def cancel_order(uow: UnitOfWork, clock: Clock, account_id: int, order_id: str) -> Order:
    """Cancel one of the account's resting orders; another account's order is NotFound."""
    now = clock.now()
    with uow:
        symbol = own_order(uow, account_id, order_id).order.instrument_id
        uow.instruments.lock_sequence(symbol)
        current = uow.orders.get(order_id).order
        _require_resting(current)
        record = get_instrument(uow, symbol)
        # Cancelling touches only the order itself: a book of that one order (read again under the
        # instrument's lock) cancels it as the whole book would, whatever the book's depth.
        book = OrderBook.from_resting(record.spec.trading_rules(), [current])
        cancelled = book.cancel(order_id)
        if isinstance(cancelled, Rejected):  # pragma: no cover - checked just above
            raise OrderRejected(cancelled)
        uow.orders.save_state(cancelled, now)
        uow.commit()
    return cancelled


def cancel_all_orders(uow: UnitOfWork, clock: Clock, account_id: int, instrument: str | None = None, *,
                      reason: CancelReason = CancelReason.USER) -> list[Order]:
    """Cancel every resting order of the account (in one instrument when given), in one
    transaction: the instruments' sequence rows are locked in symbol order (as every writer takes
    them), the orders read again under the locks. Returns the orders cancelled, by instrument;
    none resting is an empty list, not an error. The liquidation engine's first step."""
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        if instrument is not None:
            symbols = [get_instrument(uow, instrument).symbol]
        else:
            symbols = sorted({o.instrument_id for o in uow.orders.resting_of(account_id)})
        uow.instruments.lock_sequences(symbols)
        resting = uow.orders.resting_of(account_id)  # again, under the locks
        cancelled: list[Order] = []
        for symbol in symbols:
            record = uow.instruments.get(symbol)
            own = [o for o in resting if o.instrument_id == symbol]
            book = OrderBook.from_resting(record.spec.trading_rules(), own)
            for order in book.cancel_all(str(account_id), reason=reason):
                uow.orders.save_state(order, now)
                cancelled.append(order)
        uow.commit()
    return cancelled


# --- reading ----------------------------------------------------------------------------------


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE or not 0 <= offset <= 10_000_000:
        raise _invalid("limit", f"limit must be 1 to {MAX_PAGE_SIZE} and offset 0 to 10,000,000")


def list_orders(uow: UnitOfWork, account_id: int, *, open_only: bool = False, instrument: str | None = None,
                limit: int = 100, offset: int = 0) -> list[StoredOrder]:
    _page(limit, offset)
    with uow.read_only():
        return uow.orders.of_account(account_id, instrument=instrument, open_only=open_only, limit=limit,
                                     offset=offset)


def get_order(uow: UnitOfWork, account_id: int, order_id: str) -> StoredOrder:
    with uow.read_only():
        return own_order(uow, account_id, order_id)


def list_trades(uow: UnitOfWork, account_id: int, *, instrument: str | None = None, limit: int = 100,
                offset: int = 0) -> list[TradeRecord]:
    _page(limit, offset)
    with uow.read_only():
        return uow.trades.of_account(account_id, instrument=instrument, limit=limit, offset=offset)


def list_positions(uow: UnitOfWork, account_id: int) -> list[PositionView]:
    """Open positions with their mark and unrealized PnL (``None`` without a mark)."""
    with uow.read_only():
        positions = uow.positions.of_account(account_id)
        marks = uow.marks.latest([p.instrument_id for p in positions])
    return position_views(positions, {symbol: mark.price for symbol, mark in marks.items()})


def position_views(positions, marks: dict[str, Decimal]) -> list[PositionView]:
    """Each position with its mark (from ``marks``) and unrealized PnL, ``None`` where it has no mark."""
    return [PositionView(p, marks.get(p.instrument_id),
                         None if p.instrument_id not in marks else p.unrealized_pnl_sats(marks[p.instrument_id]))
            for p in positions]

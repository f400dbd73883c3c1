"""The exchange's batch: many order requests executed in ONE transaction (group commit), each
with the outcome ``services.trading.place_order`` would give it, called once per request in the
same order, and the same stored state at the end (ORDER_PATH.md, "The exchange's batches").

A batch takes the locks ``place_order`` takes, once and in the same order: the sequence rows of
its instruments (symbol order), then the collateral rows of the accounts placing orders (key
order); the makers' rows before the writes, the platform rows and the journal chain at commit.
Under those locks it reads once what its orders need, and keeps it exact in memory while it
executes them one by one:

- per instrument and side, one prefix of the book in price-time priority that holds the whole
  batch's quantity on the other side from accounts other than those of these orders (``OrderBook``
  over that prefix matches every order of the batch exactly as over the whole book: see
  ``OrderRepository.crossing``; orders of the batch that rest join it in memory);
- per account placing orders, its margin state as ``services.margin.order_check_state`` reads
  it (collateral, positions, resting orders summed per instrument and side by the database),
  then moved by every order, fill, fee and realized PnL of the batch that touches it: a maker
  order counted in a sum leaves the sum (its quantity and its fee bound, the same integers the
  database added) and, while it still rests, counts one by one;
- the positions in the batch's instruments of every account that may trade, the marks, specs,
  governed parameters and chain tip at the batch's time.

What a batch read (all but the books' prefixes, the sequences and the idempotency keys, and on
PostgreSQL the placing accounts' balances, which it locks) may instead come from what the
engine's last batch committed, when nothing else has written since (``services.exchange_reads``;
ORDER_PATH.md, "What a batch keeps for the next").

A request refused (bad input, a rule, the book, margin) changes nothing of that state and stores
nothing. At the end everything is written in a fixed number of statements: the new orders in
their final states, the makers, the trades, the positions, every ledger entry in one batch
(``post_new``: the fills' keys carry the instruments' sequences, held locked), the sequences; then
``finish`` (the engine marks its inbox rows done in the same commit) and the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from hashedge import faults
from hashedge.adapters.repositories.journal_chain import lost_the_race
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.trading import InstrumentRecord, StoredOrder
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.ledger import AccountKind
from hashedge.domain.book import MatchResult, OrderBook
from hashedge.domain.fees import fill_fees_sats
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import (
    AccountState, InstrumentMargin, OrderTotal, instrument_margins, margin_instruments, pre_trade_check,
)
from hashedge.domain.marks import limit_price_check
from hashedge.domain.order_levels import fee_per_contract_sats, order_total
from hashedge.domain.orders import Order, OrderType, Side, validate_order
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from hashedge.errors import HashEdgeError, IdempotencyKeyReused, NotFound
from hashedge.services.accounts import refused_api_key
from hashedge.services.exchange_reads import KEPT, Bounds, Holding, Kept, KeptReads, Locked, reads_for, verifying
from hashedge.services.ledger import post_new, request_key
from hashedge.services.margin import SharedMarginMemo, require_marks, risk_parameters, risk_parameters_window
from hashedge.services.trading import (
    InsufficientMargin, OrderRejected, PlacedOrder, book_fill_entries, new_order, parse_price, parse_quantity,
    parse_side, protected_market_order, refuse_denied, require_trading_open, same_request, with_fills,
)


@dataclass(frozen=True)
class OrderRequest:
    """One order request as the client sent it (the batch validates it as ``place_order`` does)."""

    request_id: int
    account_id: int
    instrument: object
    side: object
    order_type: object
    quantity: object
    price: object = None
    idempotency_key: str | None = None
    # the prefix of the API key the request came with, when its submitter recognised the key
    # without reading it (``accounts.identify_api_key``): the batch refuses the request unless
    # that key is the account's and unrevoked, read in this transaction
    api_key_prefix: str | None = None


log = logging.getLogger(__name__)

Outcome = PlacedOrder | HashEdgeError
Finish = Callable[[UnitOfWork, list[tuple[OrderRequest, Outcome]]], None]


class ChainMoved(Exception):
    """Another transaction linked journal entries after the chain head the batch assumed from its
    engine's kept state (``JournalChainRepository.assume_head``): the batch rolled back whole,
    nothing was stored and nothing is kept. Running it again reads the head."""


def execute_batch(uow: UnitOfWork, clock: Clock, requests: Sequence[OrderRequest], *,
                  finish: Finish | None = None,
                  admit: Callable[[UnitOfWork], Sequence[OrderRequest]] | None = None) -> list[Outcome]:
    """Execute ``requests`` in order in one transaction (module docstring) and commit; returns
    each request's outcome: its ``PlacedOrder``, or the ``HashEdgeError`` ``place_order`` would
    have raised (nothing of it stored). Any other exception rolls the whole batch back.
    ``admit``, when given, is called first inside the transaction and returns the requests to
    execute instead (the engine claims its socket requests there)."""
    now = clock.now()
    # On PostgreSQL the statements that need no answer at once go out together with the next
    # one that does: the claim and the locks with the write marker, the writes with
    # the few reads they wait on (adapters/write_pipeline.py)
    try:
        with uow, uow.pipelined():
            # SQLite's write marker before anything of this batch is written; PostgreSQL's after
            # the batch's row locks (``_Batch``; UnitOfWork.write_marker)
            marker = uow.write_marker() if uow.marks_before_locks else None
            if admit is not None:
                requests = list(admit(uow))
            batch = _Batch(uow, now, requests, marker)
            outcomes: list[Outcome] = []
            for request in requests:
                try:
                    outcomes.append(batch.place(request))
                except HashEdgeError as error:
                    outcomes.append(error)
            batch.store()
            if finish is not None:
                finish(uow, list(zip(requests, outcomes)))
            faults.checkpoint("exchange.before_commit")
            marker = uow.commit_marked()
    except IntegrityError as error:
        if lost_the_race(error):  # nothing stored, nothing kept: run again, reading the head
            raise ChainMoved("another transaction linked journal entries after the head this batch assumed") from error
        raise
    try:
        KEPT.keep(batch.kept(marker))
    except Exception:  # the batch is committed whatever happens here: the next one reads everything
        log.exception("the state of a committed batch could not be kept")
        KEPT.forget()
    return outcomes


# --- the batch's inputs ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    side: Side
    quantity: int
    price: Decimal | None
    key: str | None


def _parse(request: OrderRequest) -> _Parsed | HashEdgeError:
    """What ``place_order`` checks before opening its unit of work, in the same order."""
    try:
        side, quantity = parse_side(request.side), parse_quantity(request.quantity)
        price = None if request.order_type == "market" else parse_price(request.price)
        key = None if request.idempotency_key is None else request_key(request.account_id, request.idempotency_key)
    except HashEdgeError as error:
        return error
    return _Parsed(side, quantity, price, key)


@dataclass
class _Account:
    """A placing account's margin state, kept exact through the batch (module docstring)."""

    account_id: str
    collateral_sats: int
    symbols: tuple[str, ...]  # the batch's instruments whose positions of it the batch holds
    positions_elsewhere: tuple[Position, ...]  # in the other instruments
    totals: dict[tuple[str, Side], OrderTotal]
    orders: dict[str, Order]  # resting orders counted one by one
    bounds: Bounds  # the batch's summing bounds per instrument (``domain.order_levels``)
    tick_size: dict[str, Decimal]
    # Its margin terms per instrument (``domain.margin.instrument_margins``) at the batch's marks,
    # specs and parameters, each worked out once and forgotten whenever the batch changes the
    # account's position or orders in that instrument (``forget``).
    terms: dict[str, InstrumentMargin] = field(default_factory=dict)

    @classmethod
    def of(cls, account_id: str, holding: Holding, symbols: tuple[str, ...], bounds: Bounds,
           tick_size: dict[str, Decimal]) -> _Account:
        return cls(account_id=account_id, collateral_sats=holding.collateral_sats, symbols=symbols,
                   positions_elsewhere=tuple(p for s, p in sorted(holding.positions.items())
                                             if s not in symbols and p.quantity),
                   totals=dict(holding.totals), orders=dict(holding.orders), bounds=bounds, tick_size=tick_size,
                   terms=dict(holding.terms))

    def holding(self, positions: dict[tuple[str, str], Position]) -> Holding:
        """Its state as a fresh read of the database after the batch's commit would find it."""
        here = {s: p for s in self.symbols if (p := positions[(self.account_id, s)]).quantity != 0}
        return Holding(self.collateral_sats, {p.instrument_id: p for p in self.positions_elsewhere} | here,
                       self.totals, self.orders, self.terms)

    def state(self, positions: dict[tuple[str, str], Position]) -> AccountState:
        here = tuple(p for s in self.symbols if (p := positions[(self.account_id, s)]).quantity != 0)
        orders = tuple(t for t in self.totals.values() if t.remaining_quantity) + tuple(self.orders.values())
        return AccountState(account_id=self.account_id, collateral_sats=self.collateral_sats,
                            positions=self.positions_elsewhere + here, open_orders=orders)

    def _fee(self, order: Order) -> int:
        """The fee of one contract the database adds to its side's sum for ``order``."""
        ticks = int(order.price / self.tick_size[order.instrument_id])
        return fee_per_contract_sats(ticks, self.bounds[order.instrument_id][3])

    def _summed(self, order: Order) -> bool:
        """Whether the database sums ``order`` (``OrderRepository.resting_totals_of``)."""
        bound = self.bounds.get(order.instrument_id)
        if bound is None or order.price is None:
            return False
        ticks = int(order.price / self.tick_size[order.instrument_id])
        highest_buy, lowest_sell, highest, _ = bound
        return ticks <= highest and (ticks <= highest_buy if order.side is Side.BUY else ticks >= lowest_sell)

    def forget(self, instrument_id: str) -> None:
        self.terms.pop(instrument_id, None)

    def rests(self, order: Order) -> None:
        """A new order of it joined the book."""
        self.forget(order.instrument_id)
        self._add(order)

    def order_changed(self, before: Order, after: Order) -> None:
        """One of its resting orders filled or cancelled by another order of the batch."""
        self.forget(before.instrument_id)
        self._remove(before)
        if after.is_resting and after.remaining_quantity > 0:
            self._add(after)

    def _add(self, order: Order) -> None:
        """Into its side's sum if the database would sum it (the same integers), else one by one."""
        if not self._summed(order):
            self.orders[order.order_id] = order
            return
        self._move_sum(order, +1)

    def _remove(self, order: Order) -> None:
        if self.orders.pop(order.order_id, None) is None:  # counted in its side's sum
            self._move_sum(order, -1)

    def _move_sum(self, order: Order, sign: int) -> None:
        key = (order.instrument_id, order.side)
        total = self.totals.get(key) or order_total(self.account_id, order.instrument_id, order.side, 0, 0)
        self.totals[key] = moved = order_total(
            self.account_id, order.instrument_id, order.side,
            total.remaining_quantity + sign * order.remaining_quantity,
            total.fee_bound_sats + sign * order.remaining_quantity * self._fee(order))
        if moved.remaining_quantity < 0 or moved.fee_bound_sats < 0:
            raise AssertionError(f"order {order.order_id} was not in account {self.account_id}'s sums")


_MARGIN_MEMO = SharedMarginMemo()
# Every contract's tick size this process has read: fixed at its listing (nothing updates it), so
# the books' first rows a batch wants can be queued with its locks, before its instruments are
# read (``_Batch``; any other contract's are read after them)
_TICK_SIZES: dict[str, Decimal] = {}


class _Batch:
    def __init__(self, uow: UnitOfWork, now: datetime, requests: Sequence[OrderRequest],
                 marker: tuple | None = None):
        """``marker``: the write marker read at the transaction's start (SQLite), under which
        the engine's kept state is taken; on PostgreSQL the batch takes its row locks first, then
        reads the marker (what the locks guard cannot change before it commits)."""
        self.uow, self.now = uow, now
        self.parsed = {r.request_id: _parse(r) for r in requests}
        valid = [r for r in requests if isinstance(self.parsed[r.request_id], _Parsed)]
        symbols = {r.instrument for r in valid if isinstance(r.instrument, str)}
        keys = [p.key for p in self.parsed.values() if isinstance(p, _Parsed) and p.key is not None]
        locked = used_keys = guessed_prefixes = None
        if not uow.marks_before_locks:
            accounts = sorted({r.account_id for r in valid if isinstance(r.account_id, int)})
            sequences = uow.instruments.lock_sequences_later(symbols)
            balances = uow.ledger.lock_balances_later([collateral_of(a) for a in accounts])
            # Under the locks, in the same round trip as them and the marker (a write pipeline): the
            # idempotency keys, and the books' first rows for the wants that the tick sizes already
            # seen give (a contract's tick size is fixed at its listing), used below if they are
            # the wants of the instruments read then
            used_keys = uow.orders.used_idempotency_keys_later(keys)
            guessed_wants = self._prefix_wants(valid, {s: _TICK_SIZES[s] for s in sorted(symbols)
                                                       if s in _TICK_SIZES})
            guessed_prefixes = (guessed_wants, uow.orders.priority_prefixes_later(guessed_wants))
            marker = uow.write_marker()  # read with the locks' answers, after them
            locked = Locked(sequences(), balances())
        kept = KEPT.take(marker)
        # the governed parameters the last batch read while they are in force and nothing was
        # written (a version is written when it takes effect), else read
        self.params_window = risk_parameters_window(uow, now, kept.params_window if kept is not None else None)
        self.params: RiskParameters = self.params_window[0]
        if kept is not None and self.params_window is kept.params_window and verifying() and (
                risk_parameters(uow, now) != self.params):
            raise AssertionError("kept governed parameters differ from the database's")
        reads = self.reads = reads_for(uow, kept, self.params, locked)
        if (chain_head := reads.chain_head()) is not None:  # the journal's links need not read it
            uow.ledger.chain.assume_head(chain_head)
        self.known_accounts = reads.existing({r.account_id for r in valid})
        self.key_holders = reads.key_holders({(r.api_key_prefix, r.account_id) for r in requests
                                              if isinstance(r.api_key_prefix, str) and isinstance(r.account_id, int)})
        self.records: dict[str, InstrumentRecord] = dict(sorted(reads.records(symbols).items()))
        _TICK_SIZES.update((s, r.spec.tick_size) for s, r in self.records.items())
        placed_with, self.amendment_keys = (used_keys or uow.orders.used_idempotency_keys_later(keys))()
        self.stored_keys = uow.orders.by_idempotency_keys(placed_with)  # (no statement when none)
        self.tip_height = reads.tip_height()
        self.last_sequence = reads.sequences(self.records)
        takers = sorted(self.known_accounts)
        holdings, self.marks, self.specs, self.bounds = reads.holdings(takers, self.records, self.params)
        self.margin_memo = _MARGIN_MEMO.using(self.params)
        self.tick_size = {s: spec.tick_size for s, spec in self.specs.items()}
        # the placing accounts, then any maker whose holding the kept state has (``_tracked``)
        self.accounts: dict[str, _Account] = {
            str(a): _Account.of(str(a), holdings[str(a)], tuple(self.records), self.bounds, self.tick_size)
            for a in takers}
        self.touched: set[str] = set()  # accounts whose orders, position or collateral the batch changed
        self.books: dict[str, OrderBook] = {}
        self.positions: dict[tuple[str, str], Position] = {}
        self.stored_positions: dict[str, set[str]] = {}
        self.current: dict[str, Order] = {}  # every order of the batch's books, as it is now
        self.loaded: dict[str, Order] = {}
        wants = self._prefix_wants(valid, {s: r.spec.tick_size for s, r in self.records.items()})
        if guessed_prefixes is not None and guessed_prefixes[0] == wants:
            prefixes = guessed_prefixes[1]()
        else:
            prefixes = uow.orders.priority_prefixes(wants)
        parties: dict[str, set[str]] = {}
        for symbol, record in self.records.items():
            prefix = [o for side in Side for o in prefixes.get((symbol, side.value), ())]
            self.loaded |= {o.order_id: o for o in prefix}
            self.books[symbol] = OrderBook.from_resting(record.spec.trading_rules(), prefix,
                                                        last_sequence=self.last_sequence[symbol])
            parties[symbol] = {str(a) for a in takers} | {o.account_id for o in prefix}
        for symbol, (found, stored) in reads.positions(parties, {s: r.spec for s, r in self.records.items()}).items():
            self.positions |= {(a, symbol): p for a, p in found.items()}
            self.stored_positions[symbol] = stored
        self.current = dict(self.loaded)
        self.new_orders: dict[str, tuple[str, str | None]] = {}
        self.placed_keys: dict[str, str] = {}  # idempotency key -> order id, this batch
        self.fills_of: dict[str, list[tuple[Fill, int]]] = {}
        self.trades: list[tuple[Fill, dict[str, int]]] = []
        self.entries: list = []
        self.traded: dict[str, set[str]] = {}

    def _prefix_wants(self, valid: list[OrderRequest], tick_sizes: dict[str, Decimal]
                      ) -> list[tuple[str, str, int | None, int, set[int]]]:
        """The resting orders the batch's orders can reach (module docstring), as
        ``OrderRepository.priority_prefixes`` reads them: per instrument and side, what the other
        side's requests, at their most aggressive price (any price if one is a market order),
        could fill from accounts other than theirs. Only the accounts of those requests count as
        takers there: self-trade prevention cancels a resting order only when an order of its own
        account meets it, so a resting order of another account of the batch is filled like any
        other (and the batch's orders on its own side do not take from it). ``tick_sizes``: of the
        instruments read, in symbol order."""
        wants = []
        for symbol, tick_size in tick_sizes.items():
            for side in Side:
                mine = [(r, self.parsed[r.request_id]) for r in valid if r.instrument == symbol
                        and self.parsed[r.request_id].side is side]
                if not mine:
                    continue
                prices = [p.price for r, p in mine if r.order_type != "market"]
                any_price = len(prices) < len(mine) or any(p is None for p in prices)
                ticks = None
                if not any_price:
                    best = max(prices) if side is Side.BUY else min(prices)
                    ticks = int(best / tick_size)
                wants.append((symbol, side.opposite.value, ticks, sum(p.quantity for _, p in mine),
                              {r.account_id for r, _ in mine}))
        return wants

    # --- one request ----------------------------------------------------------------------

    def place(self, request: OrderRequest) -> PlacedOrder:
        """``place_order``'s steps, in its order, against the batch's state (after the API key's
        check, which comes before anything else as it does in the web request)."""
        if request.api_key_prefix is not None and (request.api_key_prefix, request.account_id) not in self.key_holders:
            raise refused_api_key()
        parsed = self.parsed[request.request_id]
        if isinstance(parsed, HashEdgeError):
            raise parsed
        account_id = request.account_id
        if account_id not in self.known_accounts:
            raise NotFound(f"no account with id {account_id}", fields={"account": ["unknown account"]})
        record = self.records.get(request.instrument) if isinstance(request.instrument, str) else None
        if record is None:
            raise NotFound(f"no instrument {request.instrument!r}", fields={"instrument": ["unknown instrument"]})
        spec, style = record.spec, request.order_type
        if parsed.key is not None:
            replayed = self._replayed(parsed, request, spec)
            if replayed is not None:
                return replayed
        require_trading_open(None, record, self.now, tip_height=self.tip_height)
        book = self.books[spec.symbol]
        order = new_order(account_id, spec, parsed.side, style, parsed.quantity, parsed.price,
                           book.last_sequence + 1, self.now)
        refuse_denied(validate_order(order, spec.trading_rules()))
        mark = require_marks(self.marks, (spec.symbol,))[spec.symbol]
        if order.order_type is OrderType.LIMIT:
            refuse_denied(limit_price_check(spec, order.price, mark, self.params))
        else:
            order = protected_market_order(order, spec, mark, self.params)
        refuse_denied(book.admission_denial(order))
        self._check_margin(order)
        result = book.submit(order)
        if result.rejected is not None:  # pragma: no cover - admission_denial said it would not be
            raise OrderRejected(result.rejected)
        paid = self._apply(spec, result, style, parsed.key)
        return PlacedOrder(result.order, style, result.fills, fees_sats=paid)

    def _replayed(self, parsed: _Parsed, request: OrderRequest, spec: ContractSpec) -> PlacedOrder | None:
        order_id = self.placed_keys.get(parsed.key)
        stored = self.stored_keys.get(parsed.key)
        if order_id is None and stored is None:
            if parsed.key in self.amendment_keys:
                raise IdempotencyKeyReused(request.idempotency_key)
            return None
        if order_id is not None:
            order, style = self.current[order_id], self.new_orders[order_id][0]
        else:
            order, style = stored.order, stored.style
        if not same_request(order, style, spec.symbol, parsed.side, request.order_type, parsed.quantity,
                            parsed.price):
            raise IdempotencyKeyReused(request.idempotency_key)
        return self._answer(order_id, stored, style)

    def _answer(self, order_id: str | None, stored: StoredOrder | None, style: str) -> PlacedOrder:
        """A replay: the order as it is now, with every fill it took part in (stored and this batch's)."""
        if stored is not None:
            earlier = with_fills(stored.order, style, self.uow.trades.of_order(stored.order.order_id))
            order_id, fills, fees = stored.order.order_id, list(earlier.fills), list(earlier.fees_sats)
        else:
            fills, fees = [], []
        fills += [f for f, _ in self.fills_of.get(order_id, ())]
        fees += [paid for _, paid in self.fills_of.get(order_id, ())]
        order = self.current.get(order_id, stored.order if stored is not None else None)
        return PlacedOrder(order, style, tuple(fills), replayed=True, fees_sats=tuple(fees))

    def _check_margin(self, order: Order) -> None:
        account = self.accounts[order.account_id]
        state = account.state(self.positions)
        symbols = ({p.instrument_id for p in state.positions} | {o.instrument_id for o in state.open_orders}
                   | {order.instrument_id})
        marks = require_marks(self.marks, symbols)
        held = margin_instruments(state)
        if missing := [s for s in held if s not in account.terms]:
            account.terms |= instrument_margins(state, marks, self.specs, self.params, memo=self.margin_memo,
                                                only=missing)
        if verifying():
            fresh = instrument_margins(state, marks, self.specs, self.params)
            if fresh != {s: account.terms[s] for s in held}:
                raise AssertionError(f"kept margin terms of account {account.account_id} differ: "
                                     f"{account.terms} != {fresh}")
        denial = pre_trade_check(state, order, marks, self.params, specs=self.specs,
                                 terms={s: account.terms[s] for s in held})
        if denial is not None:
            raise InsufficientMargin(denial)

    def _apply(self, spec: ContractSpec, result: MatchResult, style: str, key: str | None) -> tuple[int, ...]:
        """The batch's state after a match: the book's orders, the accounts' orders, positions and
        collateral, and what to store (as ``trading._store_match`` stores it)."""
        for maker in result.maker_updates:
            before = self.current[maker.order_id]
            self.current[maker.order_id] = maker
            self.touched.add(maker.account_id)
            if (account := self._tracked(maker.account_id)) is not None:
                account.order_changed(before, maker)
        taker = result.order
        self.current[taker.order_id] = taker
        self.new_orders[taker.order_id] = (style, key)
        if key is not None:
            self.placed_keys[key] = taker.order_id
        if taker.is_resting and taker.remaining_quantity > 0:
            self.accounts[taker.account_id].rests(taker)
        paid = []
        traded = self.traded.setdefault(spec.symbol, set())
        for fill in result.fills:
            fees = fill_fees_sats(fill, spec, self.params)
            self.trades.append((fill, fees))
            realized = {}
            for owner in (fill.buyer_account_id, fill.seller_account_id):
                before = self.positions[(owner, spec.symbol)]
                after = self.positions[(owner, spec.symbol)] = before.apply(fill)
                realized[owner] = after.realized_pnl_sats - before.realized_pnl_sats
                traded.add(owner)
                self.touched.add(owner)
                if (account := self._tracked(owner)) is not None:
                    account.forget(spec.symbol)
            for entry in book_fill_entries(fill, realized, fees, self.now):
                self.entries.append(entry)
                self._move_collateral(entry)
            for order_id, owner in ((fill.buy_order_id, fill.buyer_account_id),
                                    (fill.sell_order_id, fill.seller_account_id)):
                self.fills_of.setdefault(order_id, []).append((fill, fees.get(owner, 0)))
            paid.append(fees.get(taker.account_id, 0))
        return tuple(paid)

    def _tracked(self, account_id: str) -> _Account | None:
        """The batch's ``_Account`` of ``account_id``: a placing account's, or, for a maker that
        places nothing in the batch, one made from the holding the kept state has of it (exact: the
        database is as the last batch left it), so that the next batch need not read it again.
        None when there is no such holding: the batch then drops it from what it keeps."""
        account = self.accounts.get(account_id)
        if account is None and isinstance(self.reads, KeptReads):
            holding = self.reads.kept.holdings.get(account_id)
            if holding is not None:  # its positions in the batch's instruments are the batch's own reads
                symbols = tuple(s for s in self.records if (account_id, s) in self.positions)
                account = self.accounts[account_id] = _Account.of(account_id, holding, symbols, self.bounds,
                                                                  self.tick_size)
        return account

    def _move_collateral(self, entry) -> None:
        for posting in entry.postings:
            if posting.account.kind is AccountKind.COLLATERAL:
                owner = posting.account.owner_id
                if (account := self._tracked(owner)) is not None:
                    account.collateral_sats += posting.amount_sats

    # --- the writes ------------------------------------------------------------------------

    def store(self) -> None:
        uow, now = self.uow, self.now
        ticks = {s: r.spec.tick_size for s, r in self.records.items()}
        uow.orders.add_many([(self.current[i], style, key) for i, (style, key) in self.new_orders.items()],
                            at=now, tick_size=ticks)
        uow.orders.save_states([o for i, o in self.current.items() if i in self.loaded and o != self.loaded[i]], now)
        if self.trades:
            parties = {a for owners in self.traded.values() for a in owners}
            uow.ledger.lock_balance_rows([collateral_of(int(a)) for a in parties])
            uow.trades.add_many(self.trades, kind="book")
            changed = [(symbol, a) for symbol, owners in sorted(self.traded.items()) for a in sorted(owners, key=int)]
            uow.positions.save_read_states(
                [self.positions[(a, s)] for s, a in changed if a not in self.stored_positions[s]],
                [self.positions[(a, s)] for s, a in changed if a in self.stored_positions[s]], now)
            post_new(uow, self.entries, now)
        uow.instruments.set_sequences({symbol: book.last_sequence for symbol, book in self.books.items()
                                       if book.last_sequence != self.last_sequence[symbol]})

    # --- what the next batch may keep --------------------------------------------------------

    def kept(self, marker: tuple | None) -> Kept | None:
        """The state this batch committed, for the next batch (``exchange_reads``): what it
        read, moved as it wrote. The holding of a maker that places nothing in the batch is moved
        too when the kept state had it (``_tracked``); one it did not have is dropped, and the
        next batch that needs it reads it."""
        if marker is None:
            return None
        previous = self.reads.kept if isinstance(self.reads, KeptReads) else None
        kept = Kept(marker, self.params_window) if previous is None else previous
        kept.marker, kept.params_window = marker, self.params_window
        kept.accounts |= self.known_accounts
        kept.key_holders |= self.key_holders
        kept.records |= self.records
        kept.tip_height = self.tip_height
        kept.marks |= self.marks
        kept.specs |= self.specs
        for account in self.touched - set(self.accounts):
            kept.holdings.pop(account, None)
        kept.holdings |= {a: account.holding(self.positions) for a, account in self.accounts.items()}
        kept.positions |= self.positions
        kept.stored |= {(a, s) for s, ids in self.stored_positions.items() for a in ids} | {
            (a, s) for s, owners in self.traded.items() for a in owners}
        kept.sequences |= {symbol: book.last_sequence for symbol, book in self.books.items()}
        kept.chain_head = self.uow.ledger.chain.known_head
        return kept

"""Property-based: a hypothesis state machine drives the public trading services (deposits,
withdrawals, limit / market / IOC / FOK / post-only orders, cancels, OTC block trades, marks,
daily settlement, fixings and expiry) on a monthly HASHPRICE future that expires during the run,
one that does not, and a capped BME14 future, against a real database, with the clock only
moving forward. After every step the books are checked whole:

- the journal balances, the stored balances match it, and everything sums to zero;
- external custody mirrors exactly the deposits minus the withdrawals that were accepted;
- each account's collateral is its deposits - withdrawals - its fees + the PnL its positions
  crystallized, the fees account holds exactly the fees of the stored trades, and settlement
  clearing holds the opposite of all crystallized PnL, which (with the positions' open entry
  values) leaves a non-negative sub-sat rounding residue;
- positions net to zero per instrument and equal each account's traded quantity (zero once
  settled); orders' filled quantities match their trades; the book never rests crossed; a
  settled contract has no positions and no resting orders.

Expected refusals (``HashEdgeError`` subclasses a step can legitimately cause) are recorded as
events; anything else fails. A withdrawal is accepted exactly when it is at most what the margin
engine says may leave, and never leaves free collateral below zero; a second settlement run of
a date changes nothing."""

from __future__ import annotations

import contextlib
import math
import shutil
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hashedge.adapters.database import make_engine, upgrade_database
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain import ledger as journal
from hashedge.domain.instruments import Product, epoch_future, hashprice_monthly
from hashedge.domain.ledger import AccountKind
from hashedge.domain.orders import OrderStatus
from hashedge.domain.settlement import DAILY_FIXING, RETARGET_FIXING, daily_fixing_times
from hashedge.errors import Conflict, InsufficientCollateral, InvalidInput, NotFound
from hashedge.services import accounts, block_trades, instruments, ledger, settlement, trading
from hashedge.services.margin import margin_of, withdrawal_requirement_sats
from indices.fixings import FixingValue
from tests.hypothesis_profiles import examples, time_budget

START = datetime(2026, 10, 31, tzinfo=timezone.utc)
EXPIRING, RUNNING = "HP-2026-10", "HP-2026-11"  # trading in October's contract stops on 1 November
CAPPED_EPOCH = 470
CAPPED = f"BME14C-E{CAPPED_EPOCH}"
CAPPED_LAST_TRADING = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
FLOOR, CAP = Decimal(30000), Decimal(70000)  # domain.listing.capped_range around 50,000
SYMBOLS = (EXPIRING, RUNNING, CAPPED)
INITIAL_MARKS = {EXPIRING: Decimal(50000), RUNNING: Decimal(48000), CAPPED: Decimal(50000)}
SEED_SATS = (50_000_000, 12_000_000, 4_000_000, 1_000_000)  # a whale down to one that is often refused
ACCOUNTS = len(SEED_SATS)
PRICE_STEP = 250  # sats/PH/day between the price levels orders are placed at
EXAMPLES = {"sqlite": 14, "postgresql": 5}
STEPS = 40

ORDER_REFUSALS = (trading.OrderRejected, trading.TradingClosed, InvalidInput)  # InsufficientMargin too


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("trading-properties") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@contextlib.contextmanager
def fresh_database(backend: str, sqlite_template, postgres_templates, folder):
    if backend == "sqlite":
        copy = folder / "example.sqlite"
        for suffix in ("", "-wal", "-shm"):
            (folder / f"example.sqlite{suffix}").unlink(missing_ok=True)
        shutil.copyfile(sqlite_template, copy)
        url = f"sqlite:///{copy}"
    else:
        url = postgres_templates.clone()
    try:
        yield url
    finally:
        if backend != "sqlite":
            postgres_templates.drop(url)


def daily_fixing(index: str, as_of: datetime, value: Decimal) -> FixingValue:
    return FixingValue(index=index, kind=DAILY_FIXING, as_of=as_of, value=value, unit="sats/PH/day",
                       methodology_version="1", start_height=1, end_height=2, confirmations=6,
                       input_digest="0" * 64)


def retarget_fixing(epoch: int, as_of: datetime, value: Decimal) -> FixingValue:
    height = epoch * 2016
    return FixingValue(index="BME14", kind=RETARGET_FIXING, as_of=as_of, value=value, unit="BTC/TH/day",
                       methodology_version="1", start_height=height - 2016, end_height=height,
                       confirmations=6, input_digest="0" * 64)


def capped_spec():
    return epoch_future(Product.BME14_CAPPED, CAPPED_EPOCH, last_trading_time=CAPPED_LAST_TRADING,
                        floor=FLOOR, cap=CAP)


def list_and_mark(runtime) -> dict:
    specs = {EXPIRING: hashprice_monthly(2026, 10), RUNNING: hashprice_monthly(2026, 11), CAPPED: capped_spec()}
    with runtime.uow() as uow:
        for symbol, spec in specs.items():
            uow.instruments.add(spec, runtime.clock.now())
            uow.marks.add(symbol, runtime.clock.now(), INITIAL_MARKS[symbol], "model", INITIAL_MARKS[symbol])
        uow.commit()
    return specs


# --- the state of the books, read back in one transaction -------------------------------------


class Books:
    def __init__(self, runtime, ids: list[int], symbols):
        with runtime.uow() as uow:
            self.balances = uow.ledger.balances()
            self.positions = {a: uow.positions.of_account(a, include_flat=True) for a in ids}
            self.trades = {s: uow.trades.of_instrument(s) for s in symbols}
            self.orders = {a: uow.orders.of_account(a, limit=1000) for a in ids}
            self.resting = {s: uow.orders.resting(s) for s in symbols}
            self.status = {s: uow.instruments.get(s).status for s in symbols}
            self.net = {s: uow.positions.net_quantity(s) for s in symbols}
            self.fee_distributions = [r.entry for r in uow.ledger.entries()
                                      if r.entry.kind == journal.EntryKind.FEE_DISTRIBUTION]

    def fees_shared_out(self) -> tuple[dict[date, int], dict[int, int]]:
        """What the nightly fee distributions took from the fees account, by business date (the
        entry's key names it), and what they credited to each trader's collateral (the makers' share)."""
        by_date, to_collateral = defaultdict(int), defaultdict(int)
        for entry in self.fee_distributions:
            day = date.fromisoformat(entry.idempotency_key.split(":")[1])
            for posting in entry.postings:
                if posting.account == journal.FEES:
                    by_date[day] -= posting.amount_sats
                elif posting.account.kind is AccountKind.COLLATERAL and posting.account.owner_id is not None:
                    to_collateral[int(posting.account.owner_id)] += posting.amount_sats
        return by_date, to_collateral

    def balance(self, account) -> int:
        return self.balances.get(account, 0)

    def collateral(self, account_id: int) -> int:
        return self.balance(journal.collateral(str(account_id)))

    def position(self, account_id: int, symbol: str):
        return next((p for p in self.positions[account_id] if p.instrument_id == symbol), None)

    def snapshot(self):
        """What a settlement must leave alone when it has nothing to do."""
        return ({a.key: v for a, v in self.balances.items() if v},
                {a: [(p.instrument_id, p.quantity, p.open_value, p.realized_pnl_sats) for p in held]
                 for a, held in self.positions.items()})


# --- the machine ------------------------------------------------------------------------------


class TradingMachine(RuleBasedStateMachine):
    """One fresh database per run; ``backend`` and the templates are set on a subclass."""

    backend: str
    sqlite_template = None
    postgres_templates = None
    folder = None

    def __init__(self):
        super().__init__()
        self._database = fresh_database(self.backend, self.sqlite_template, self.postgres_templates, self.folder)
        url = self._database.__enter__()
        settings_ = load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(self.folder)},
                                  secret_key="property-tests")
        self.clock = FixedClock(START)
        self.runtime = bootstrap(settings_, clock=self.clock)
        self.specs = list_and_mark(self.runtime)
        self.marks = dict(INITIAL_MARKS)
        self.ids, self.deposited, self.withdrawn = [], defaultdict(int), defaultdict(int)
        for n, sats in enumerate(SEED_SATS):
            account, _ = accounts.create_account(self.runtime.uow(), self.clock, f"trader-{n}")
            self.ids.append(account.id)
            self.deposit_sats(account.id, sats)
        self.settled_dates: list[date] = []  # closes settled
        self.provisional_dates: set[date] = set()  # today's dates settled early (provisionally)
        self.fixing_values: dict[tuple[str, datetime], Decimal] = {}  # (index, as of) -> quote
        self.position_updates = 0  # bound on the sub-sat rounding residue left in clearing

    def teardown(self):
        self.runtime.close()
        self._database.__exit__(None, None, None)

    # --- helpers --------------------------------------------------------------------------

    def uow(self):
        return self.runtime.uow()

    def books(self) -> Books:
        return Books(self.runtime, self.ids, SYMBOLS)

    def deposit_sats(self, account_id: int, sats: int) -> None:
        key = f"deposit-{len(self.deposited)}-{sum(self.deposited.values())}-{sats}"
        ledger.deposit(self.uow(), self.clock, account_id, sats, key)
        self.deposited[account_id] += sats

    def tick(self) -> None:
        self.clock.advance(timedelta(seconds=7))

    def price(self, symbol: str, levels: int) -> Decimal:
        return max(self.marks[symbol] + levels * PRICE_STEP, Decimal(1))

    def still_trading(self, symbol: str) -> str:
        """``symbol`` while it trades, then the contract that runs to the end (``place_order`` and
        ``block_trade`` keep trying closed ones, to be refused)."""
        return symbol if self.clock.now() < self.specs[symbol].last_trading_time else RUNNING

    def trading_open(self, symbol: str) -> bool:
        return self.books().status[symbol] == "listed" and self.specs[symbol].is_trading_open(self.clock.now())

    # --- money in and out -----------------------------------------------------------------

    @rule(who=st.integers(0, ACCOUNTS - 1), sats=st.sampled_from([1, 50_000, 400_000, 3_000_000]))
    def deposit(self, who, sats):
        self.deposit_sats(self.ids[who], sats)
        self.tick()

    @rule(who=st.integers(0, ACCOUNTS - 1), how=st.sampled_from(["all", "one_more", "half", "fixed"]))
    def withdraw(self, who, how):
        account_id = self.ids[who]
        with self.uow() as uow:
            collateral = uow.ledger.balances([journal.collateral(str(account_id))]).get(
                journal.collateral(str(account_id)), 0)
            withdrawable = max(collateral - withdrawal_requirement_sats(account_id, uow), 0)
        amount = {"all": withdrawable, "one_more": withdrawable + 1, "half": withdrawable // 2,
                  "fixed": 1_000_000}[how]
        amount = max(amount, 1)
        key = f"withdrawal-{sum(self.withdrawn.values())}-{self.clock.now().timestamp()}"
        try:
            ledger.withdraw(self.uow(), self.clock, account_id, amount, key)
        except InsufficientCollateral:
            assert amount > withdrawable, f"refused {amount} sats with {withdrawable} sats withdrawable"
            event("withdrawal refused")
        else:
            assert amount <= withdrawable, f"paid {amount} sats with only {withdrawable} sats withdrawable"
            self.withdrawn[account_id] += amount
            with self.uow() as uow:
                after = margin_of(uow, account_id)
            assert after.collateral_sats >= 0
            assert after.free_collateral_sats >= 0, after  # never below initial (and order) margin
            event("withdrawal paid")
        self.tick()

    # --- the book -------------------------------------------------------------------------

    @rule(who=st.integers(0, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(["buy", "sell"]),
          style=st.sampled_from(["limit", "limit", "market", "ioc", "fok", "post_only"]),
          quantity=st.integers(1, 9), levels=st.integers(-5, 5), top_up=st.booleans(), retry=st.booleans())
    def place_order(self, who, symbol, side, style, quantity, levels, top_up, retry):
        """Any order at a price level around the mark (a market order has none); with ``retry``
        it carries an idempotency key and is sent a second time, which must change nothing."""
        key = f"order-{self.clock.now().timestamp()}" if retry else None
        price = None if style == "market" else self.price(symbol, levels)
        placed = self.submit(self.ids[who], symbol, side, style, quantity, price, top_up, key)
        if placed is not None and retry:
            before = self.books()
            again = trading.place_order(self.uow(), self.clock, self.ids[who], instrument=symbol, side=side,
                                        order_type=style, quantity=quantity, price=price, idempotency_key=key)
            assert again.replayed and again.order.order_id == placed.order.order_id
            assert [f.fill_id for f in again.fills] == [f.fill_id for f in placed.fills]
            after = self.books()
            assert after.snapshot() == before.snapshot() and after.resting == before.resting
            event("order replayed by its idempotency key")

    @rule(who=st.integers(0, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS), quantity=st.integers(1, 6),
          spread=st.integers(0, 3), style=st.sampled_from(["limit", "post_only"]))
    def quote(self, who, symbol, quantity, spread, style):
        """A bid and an ask around the mark: liquidity for the takers."""
        symbol = self.still_trading(symbol)
        self.submit(self.ids[who], symbol, "buy", style, quantity, self.price(symbol, -spread - 1))
        self.submit(self.ids[who], symbol, "sell", style, quantity, self.price(symbol, spread + 1))

    @rule(who=st.integers(0, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(["buy", "sell"]),
          style=st.sampled_from(["limit", "market", "ioc", "fok"]), quantity=st.integers(1, 9),
          levels=st.integers(1, 5), top_up=st.booleans())
    def take(self, who, symbol, side, style, quantity, levels, top_up):
        """An order priced through the mark, to trade with what rests."""
        symbol = self.still_trading(symbol)
        price = None if style == "market" else self.price(symbol, levels if side == "buy" else -levels)
        self.submit(self.ids[who], symbol, side, style, quantity, price, top_up)

    @rule(maker=st.integers(0, ACCOUNTS - 1), taker=st.integers(1, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS),
          side=st.sampled_from(["buy", "sell"]), rest=st.sampled_from(["limit", "post_only"]),
          style=st.sampled_from(["limit", "market", "ioc", "fok"]), quantities=st.tuples(st.integers(1, 6),
                                                                                          st.integers(1, 9)),
          levels=st.integers(-3, 3), top_up=st.booleans())
    def cross(self, maker, taker, symbol, side, rest, style, quantities, levels, top_up):
        """One account rests an order, another trades against it (or tries to)."""
        symbol = self.still_trading(symbol)
        price = self.price(symbol, levels)
        self.submit(self.ids[maker], symbol, side, rest, quantities[0], price)
        taker_id, other = self.ids[(maker + taker) % ACCOUNTS], "sell" if side == "buy" else "buy"
        self.submit(taker_id, symbol, other, style, quantities[1], None if style == "market" else price, top_up)

    def submit(self, account_id: int, symbol: str, side: str, style: str, quantity: int,
               price: Decimal | None, top_up: bool = False, key: str | None = None):
        """Place an order and check what came of it (returns it, or ``None`` if refused); with
        ``top_up``, an order refused for margin is sent again after depositing exactly the
        shortfall the refusal named."""
        before, placed = self.books(), None
        try:
            placed = trading.place_order(self.uow(), self.clock, account_id, instrument=symbol, side=side,
                                         order_type=style, quantity=quantity, price=price, idempotency_key=key)
        except ORDER_REFUSALS as refused:
            if isinstance(refused, trading.TradingClosed):
                assert not self.trading_open(symbol)
            elif isinstance(refused, trading.InsufficientMargin):
                assert not self.reduces_only(before, account_id, symbol, side, quantity), refused
            event(f"order refused: {type(refused).__name__}")
            after = self.books()
            assert after.snapshot() == before.snapshot() and after.resting == before.resting
            if top_up and isinstance(refused, trading.InsufficientMargin):
                self.deposit_sats(account_id, refused.shortfall_sats)
                try:  # the same order against the same book: exactly enough margin now
                    placed = trading.place_order(self.uow(), self.clock, account_id, instrument=symbol, side=side,
                                                 order_type=style, quantity=quantity, price=price,
                                                 idempotency_key=key)
                except trading.InsufficientMargin as again:
                    raise AssertionError(f"still short after depositing the shortfall: {again}") from None
                event("order accepted after topping up the shortfall")
                self.check_placed(before, placed, account_id, symbol, side, style, quantity, price)
        else:
            self.check_placed(before, placed, account_id, symbol, side, style, quantity, price)
        self.tick()
        return placed

    def check_placed(self, before: Books, placed, account_id: int, symbol: str, side: str, style: str,
                     quantity: int, price: Decimal | None) -> None:
        order = placed.order
        filled = sum(f.quantity for f in placed.fills)
        self.position_updates += 2 * len(placed.fills)
        assert order.filled_quantity == filled <= quantity
        assert all(f.buyer_account_id != f.seller_account_id for f in placed.fills)
        if style == "fok":
            assert filled in (0, quantity)
        if style == "post_only":
            assert filled == 0
        if style in ("market", "ioc", "fok"):
            assert not order.is_resting
        if price is not None:
            assert all((f.price <= price) if side == "buy" else (f.price >= price) for f in placed.fills)
        event(f"{style} order {'filled' if filled == quantity else 'partly filled' if filled else 'unfilled'}")
        if not self.reduces_only(before, account_id, symbol, side, quantity):
            with self.uow() as uow:  # a risk-increasing order never leaves a margin call behind
                after = margin_of(uow, account_id)
            assert after.free_collateral_sats >= 0, (after, placed)

    def reduces_only(self, books: Books, account_id: int, symbol: str, side: str, quantity: int) -> bool:
        position = books.position(account_id, symbol)
        held = position.quantity if position else 0
        if held == 0 or (held > 0) == (side == "buy"):
            return False
        same_side = sum(o.remaining_quantity for o in books.resting[symbol]
                        if o.account_id == str(account_id) and o.side.value == side)
        return same_side + quantity <= abs(held)

    @rule(who=st.integers(0, ACCOUNTS - 1), pick=st.integers(0, 50), other=st.booleans())
    def cancel(self, who, pick, other):
        account_id = self.ids[who]
        orders = trading.list_orders(self.uow(), account_id, limit=1000)
        if not orders:
            return
        stored = orders[pick % len(orders)]
        canceller = self.ids[(who + 1) % ACCOUNTS] if other else account_id
        try:
            cancelled = trading.cancel_order(self.uow(), self.clock, canceller, stored.order.order_id)
        except NotFound:
            assert other, "an account could not find its own order"
            event("cancel of another account's order: not found")
        except Conflict:
            assert not other and not stored.order.is_resting
            event("cancel of a finished order refused")
        else:
            assert not other and stored.order.is_resting
            assert cancelled.status is OrderStatus.CANCELLED
            event("order cancelled")
        self.tick()

    @rule(buyer=st.integers(0, ACCOUNTS - 1), seller=st.integers(0, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS),
          quantity=st.integers(1, 12), permille=st.sampled_from([-70, -49, -10, 0, 10, 30, 49, 60]))
    def block_trade(self, buyer, seller, symbol, quantity, permille):
        price = (self.marks[symbol] * (1000 + permille) / 1000).to_integral_value()
        try:
            trade = block_trades.book_block_trade(self.uow(), self.clock, buyer_id=self.ids[buyer],
                                                  seller_id=self.ids[seller], instrument=symbol,
                                                  quantity=quantity, price=price)
        except (trading.OrderRejected, trading.TradingClosed, InvalidInput) as refused:
            if isinstance(refused, InvalidInput):
                assert buyer == seller
            elif isinstance(refused, trading.TradingClosed):
                assert not self.trading_open(symbol)
            elif not isinstance(refused, trading.InsufficientMargin):
                assert abs(permille) > 50, refused  # outside the 5% OTC band
            event(f"block trade refused: {type(refused).__name__}")
        else:
            assert buyer != seller and abs(permille) <= 50
            assert trade.fill.quantity == quantity and trade.fill.price == price
            self.position_updates += 2
            event("block trade booked")
        self.tick()

    # --- marks, time, fixings, settlement ---------------------------------------------------

    @rule(symbol=st.sampled_from(SYMBOLS), permille=st.integers(-150, 150), model=st.booleans())
    def move_mark(self, symbol, permille, model):
        """A new mark at the clock: moved by hand, or every contract marked by the service (the
        model from the fixings, clipped into a two-sided book)."""
        if model:
            self.marks |= instruments.update_marks(self.uow(), self.clock).marked
        else:
            price = (self.marks[symbol] * (1000 + permille) / 1000).to_integral_value()
            if symbol == CAPPED:  # a capped contract is marked inside its range (domain.marks)
                price = min(max(price, FLOOR), CAP)
            with self.uow() as uow:
                uow.marks.add(symbol, self.clock.now(), price, "model", price)
                uow.commit()
            self.marks[symbol] = price
        self.tick()

    @rule(hours=st.sampled_from([1, 3, 6, 12, 24]))
    def advance(self, hours):
        self.clock.advance(timedelta(hours=hours))

    def publish_fixings(self, value: int) -> None:
        """Publish every fixing the contracts settle on whose time has come, at ``value``."""
        now = self.clock.now()
        fixings = []
        for symbol in (EXPIRING, RUNNING):
            for moment in daily_fixing_times(self.specs[symbol].window):
                if moment <= now and ("HASHPRICE", moment) not in self.fixing_values:
                    self.fixing_values["HASHPRICE", moment] = Decimal(value + moment.day)
                    fixings.append(daily_fixing("HASHPRICE", moment, Decimal(value + moment.day)))
        if now >= CAPPED_LAST_TRADING and ("BME14", CAPPED_LAST_TRADING) not in self.fixing_values:
            # in BTC/TH/day: x 1e-11 is the quote in sats/PH/day, sometimes outside [floor, cap]
            quote = Decimal(value * 3 - 100_000)
            self.fixing_values["BME14", CAPPED_LAST_TRADING] = quote
            fixings.append(retarget_fixing(CAPPED_EPOCH, CAPPED_LAST_TRADING, quote.scaleb(-11)))
        if fixings:
            with self.uow() as uow:
                uow.fixings.add(fixings, now)
                uow.commit()
            event("fixings published")
        self.tick()

    @rule(publish=st.sampled_from([True, True, False]), value=st.integers(40_000, 60_000), twice=st.booleans())
    def night(self, publish, value, twice):
        """Midnight passes: the day's fixings are published (or not yet), and the day that just
        closed is settled (also when it was settled provisionally during the day), perhaps twice."""
        self.clock.set(datetime.combine(self.clock.now().date() + timedelta(days=1), time(0, 5), tzinfo=timezone.utc))
        if publish:
            self.publish_fixings(value)
        yesterday = self.clock.now().date() - timedelta(days=1)
        if not self.settled_dates or yesterday > self.settled_dates[-1]:
            self.settle_day(yesterday, twice)
        self.tick()

    @rule(what=st.sampled_from(["today", "again"]), pick=st.integers(0, 20), twice=st.booleans())
    def settle_intraday(self, what, pick, twice):
        """Today's date settled provisionally before its close (at the marks as of now, once per
        date), or a settled date run again, which must change nothing."""
        today = self.clock.now().date()
        if what == "today" and today not in self.provisional_dates:
            self.settle_day(today, twice)
        elif self.settled_dates:
            self.check_rerun_changes_nothing(self.settled_dates[pick % len(self.settled_dates)])
        self.tick()

    def settle_day(self, day: date, twice: bool) -> None:
        before = self.books()
        summary = settlement.run_daily_settlement(self.uow(), self.clock, day)
        assert not summary.already_done
        assert summary.provisional == (day == self.clock.now().date())
        if summary.provisional:  # intraday: re-marks, never expires; the close is still to settle
            assert not summary.final_settlements
            self.provisional_dates.add(day)
            event("provisional settlement")
        else:
            self.settled_dates.append(day)
            if day in self.provisional_dates:
                event("close settled after a provisional run")
        after = self.books()
        for symbol in SYMBOLS:
            price = self.marks[symbol]  # the latest mark: none is ever stamped after a cutoff
            held = {p.account_id: p for ps in before.positions.values() for p in ps
                    if p.instrument_id == symbol and p.quantity}
            if held:  # variation margin: each position's PnL from its entry value to the mark
                exact_pnl = {a: (Fraction(price) * p.quantity - Fraction(p.open_value)) * Fraction(p.multiplier)
                             for a, p in held.items()}
                assert summary.variation_margin_sats[symbol] == {a: math.floor(v) for a, v in exact_pnl.items()}
            else:
                assert symbol not in summary.variation_margin_sats
            if symbol in summary.final_settlements:  # then from the mark to the final price
                final = self.expected_final_price(symbol)
                assert before.status[symbol] != "settled" and self.specs[symbol].last_trading_time <= self.clock.now()
                assert summary.settlement_prices[symbol] == format(final, "f")
                assert summary.final_settlements[symbol] == {
                    a: int((final - price) * p.quantity * p.multiplier) for a, p in held.items()}
                assert after.status[symbol] == "settled" and not after.resting[symbol]
                assert not any(p.quantity for ps in after.positions.values() for p in ps if p.instrument_id == symbol)
                event(f"{symbol} settled at expiry" + (" with open positions" if held else ""))
            elif held:
                assert summary.settlement_prices[symbol] == format(price, "f")
                for ps in after.positions.values():
                    for p in ps:
                        if p.instrument_id == symbol and p.quantity:
                            assert p.open_value == price * p.quantity, (p, price)
        self.position_updates += sum(1 for held in before.positions.values() for p in held if p.quantity)
        if summary.pending:
            event("settlement pending: " + ", ".join(sorted(summary.pending)))
        if twice:
            self.check_rerun_changes_nothing(day)

    def expected_final_price(self, symbol: str) -> Decimal:
        if symbol == CAPPED:
            return min(max(self.fixing_values["BME14", CAPPED_LAST_TRADING], FLOOR), CAP)
        days = daily_fixing_times(self.specs[symbol].window)
        return Decimal(round(sum(Fraction(self.fixing_values["HASHPRICE", d]) for d in days) / len(days)))

    def check_rerun_changes_nothing(self, day: date) -> None:
        before = self.books().snapshot()
        again = settlement.run_daily_settlement(self.uow(), self.clock, day)
        assert again.already_done
        assert self.books().snapshot() == before
        event("settlement re-run")

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def the_books_add_up(self):
        check = ledger.check_balances(self.uow())
        assert check.ok, check
        books = self.books()
        net_deposits = sum(self.deposited.values()) - sum(self.withdrawn.values())
        assert books.balance(journal.EXTERNAL_CUSTODY) == -net_deposits
        assert sum(v for a, v in books.balances.items() if a.kind is not AccountKind.EXTERNAL_CUSTODY) == net_deposits

        fees, traded = defaultdict(int), defaultdict(int)
        fees_by_date = defaultdict(int)
        filled_by_order = defaultdict(int)
        for symbol, trades in books.trades.items():
            for trade in trades:
                fill = trade.fill
                fees[int(fill.buyer_account_id)] += trade.buyer_fee_sats
                fees[int(fill.seller_account_id)] += trade.seller_fee_sats
                fees_by_date[fill.occurred_at.astimezone(timezone.utc).date()] += (trade.buyer_fee_sats
                                                                                   + trade.seller_fee_sats)
                traded[int(fill.buyer_account_id), symbol] += fill.quantity
                traded[int(fill.seller_account_id), symbol] -= fill.quantity
                for order_id in (fill.buy_order_id, fill.sell_order_id):
                    if order_id is not None:
                        filled_by_order[order_id] += fill.quantity
        # each closed date's fees are shared out whole by the nightly distribution, never a date still open
        shared_by_date, rebates = books.fees_shared_out()
        assert all(day < self.clock.now().date() and total == fees_by_date[day]
                   for day, total in shared_by_date.items()), (shared_by_date, fees_by_date)
        assert books.balance(journal.FEES) == sum(fees.values()) - sum(shared_by_date.values())

        realized_total, open_value_sats = 0, Decimal(0)
        for account_id in self.ids:
            held = books.positions[account_id]
            realized = sum(p.realized_pnl_sats for p in held)
            realized_total += realized
            open_value_sats += sum(p.open_value * p.multiplier for p in held)
            expected = (self.deposited[account_id] - self.withdrawn[account_id] - fees[account_id] + realized
                        + rebates[account_id])
            assert books.collateral(account_id) == expected, account_id
            for symbol in SYMBOLS:
                position = books.position(account_id, symbol)
                quantity = position.quantity if position else 0
                wanted = 0 if books.status[symbol] == "settled" else traded[account_id, symbol]
                assert quantity == wanted, (account_id, symbol, quantity, wanted)
            for stored in books.orders[account_id]:
                assert stored.order.filled_quantity == filled_by_order[stored.order.order_id], stored
        clearing = books.balance(journal.SETTLEMENT_CLEARING)
        assert clearing == -realized_total
        residue = clearing + open_value_sats  # the sub-sat PnL rounded down, against the accounts
        assert 0 <= residue <= self.position_updates, residue

        for symbol in SYMBOLS:
            assert books.net[symbol] == 0
            bids = [o.price for o in books.resting[symbol] if o.side.value == "buy"]
            asks = [o.price for o in books.resting[symbol] if o.side.value == "sell"]
            assert not bids or not asks or max(bids) < min(asks), symbol
            assert all(o.remaining_quantity > 0 and o.time_in_force.value == "gtc" for o in books.resting[symbol])
            if books.status[symbol] == "settled":
                assert not books.resting[symbol]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
@pytest.mark.hypothesis
@pytest.mark.timeout(time_budget(240))
def test_trading_keeps_the_books_whole(backend, sqlite_template, postgres_templates, tmp_path_factory):
    if backend == "postgresql" and postgres_templates is None:
        pytest.skip("no PostgreSQL server: set HASHEDGE_TEST_POSTGRES_URL")

    class Machine(TradingMachine):
        pass

    Machine.backend, Machine.sqlite_template, Machine.postgres_templates = backend, sqlite_template, postgres_templates
    Machine.folder = tmp_path_factory.mktemp(f"trading-{backend}")
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=examples(EXAMPLES[backend]), stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


# --- regressions found by the machine ---------------------------------------------------------


@pytest.mark.parametrize("mark, makers", [(50000, (1,)), (50250, (3, 5))],
                         ids=["one-fill-and-a-resting-remainder", "two-fills"])
def test_an_order_filled_in_pieces_cannot_pay_more_fees_than_its_margin_check_counted(runtime, mark, makers):
    """Found by the machine (shrunk to one step: ``cross`` with a maker selling 1, a taker buying 8
    at the same price, ``top_up``): a taker who deposits exactly the shortfall of a refused order
    and sends it again was accepted, then left one sat short: free collateral -1 (its resting
    remainder under-margined; with two fills and nothing resting, a margin call). The check counted the
    taker fee of the whole order rounded up once (5 bps of 8 x 50,500 x 31 = 6,261.4 -> 6,262),
    but ``domain.fees`` rounds each fill's fee up on its own and the resting remainder is counted
    again on its own: 1 contract filled (782.75 -> 783) + 7 resting (5,479.25 -> 5,480) = 6,263.
    Likewise two fills of 3 and 5 at 50,250: 2,336.625 -> 2,337 + 3,894.375 -> 3,895 = 6,232
    against 6,231 counted. The check now counts the fee of one contract rounded up times the
    quantity, the most the pieces can pay however the order is split (``domain.margin``)."""
    clock, symbol = runtime.clock, "HP-2026-12"  # 31 PH/s x days a contract
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), clock.now())
        uow.marks.add(symbol, clock.now(), Decimal(mark), "model", Decimal(mark))
        uow.commit()
    price = Decimal(50500) if makers == (1,) else Decimal(mark)  # above the mark, or at it
    taker = accounts.create_account(runtime.uow(), clock, "taker")[0].id
    for n, quantity in enumerate(makers):
        maker = accounts.create_account(runtime.uow(), clock, f"maker-{n}")[0].id
        ledger.deposit(runtime.uow(), clock, maker, 100_000_000, "seed")
        trading.place_order(runtime.uow(), clock, maker, instrument=symbol, side="sell", order_type="limit",
                            quantity=quantity, price=price)

    def buy():
        return trading.place_order(runtime.uow(), clock, taker, instrument=symbol, side="buy", order_type="limit",
                                   quantity=8, price=price)

    with pytest.raises(trading.InsufficientMargin) as refused:
        buy()
    ledger.deposit(runtime.uow(), clock, taker, refused.value.shortfall_sats, "exactly-the-shortfall")
    placed = buy()
    assert [f.quantity for f in placed.fills] == list(makers)
    with runtime.uow() as uow:
        after = margin_of(uow, taker)
    assert after.free_collateral_sats >= 0 and after.status.value == "healthy", after

"""Random sequences of deposits, withdrawals, transfers, orders, cancels, replaces, reloads,
variation margin and expiries, driven through the domain core the way a service would:
results are "stored" (a dict of orders, a journal) and the book is rebuilt from storage."""

from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hashedge.domain import ledger
from hashedge.domain.book import MatchResult, OrderBook
from hashedge.domain.denials import Rejected
from hashedge.domain.ledger import FEES, INSURANCE_FUND, SETTLEMENT_CLEARING, Ledger, collateral
from hashedge.domain.orders import (
    ORDER_STYLES,
    Order,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TradingRules,
)
from hashedge.domain.positions import Position
from hashedge.domain.units import FEE_ROUNDING, MARGIN_ROUNDING, notional_sats
from tests.hypothesis_profiles import examples

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
INSTRUMENT = "HP-2026-12"
RULES = TradingRules(INSTRUMENT, tick_size=Decimal("0.5"))
MULTIPLIER = Decimal("100")
ACCOUNTS = ("alice", "bob", "carol", "dave")
TAKER_FEE, MAKER_FEE = Decimal("0.0005"), Decimal("0.0002")
MARGIN_RATIO = Decimal("0.1")

accounts = st.sampled_from(ACCOUNTS)
prices = st.integers(196, 204).map(lambda ticks: ticks * RULES.tick_size)
quantities = st.integers(1, 8)
styles = st.sampled_from(["limit", "limit", "limit", "market", "ioc", "fok", "post_only", "market_fok"])
stp_modes = st.sampled_from(list(SelfTradePrevention))
order_specs = st.tuples(accounts, st.sampled_from(list(Side)), styles, quantities, prices, stp_modes)


class Exchange(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.journal = Ledger()
        self.book = OrderBook(RULES)
        self.stored: dict[str, Order] = {}  # every order ever submitted, latest state
        self.fills_per_order: Counter[str] = Counter()
        self.positions = {a: Position(account_id=a, instrument_id=INSTRUMENT, multiplier=MULTIPLIER)
                          for a in ACCOUNTS}
        self.posted_pnl = Counter()
        self.crystallizations = 0
        self.sequence = 0
        self.keys = 0
        self.mark = Decimal("100")

    # --- helpers a service would have ------------------------------------------------

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def key(self, prefix: str) -> str:
        self.keys += 1
        return f"{prefix}-{self.keys}"

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.keys + self.sequence)

    def post(self, entry) -> None:
        if entry is not None:
            assert sum(p.amount_sats for p in entry.postings) == 0
            self.journal.apply(entry)

    def free_collateral(self, account: str) -> int:
        held = abs(self.positions[account].quantity)
        required = notional_sats(self.mark, held, MULTIPLIER * MARGIN_RATIO, MARGIN_ROUNDING)
        return self.journal.balance(collateral(account)) - required

    def record(self, result: MatchResult) -> None:
        for order in (result.order, *result.maker_updates):
            previous = self.stored.get(order.order_id)
            assert previous is None or order.filled_quantity >= previous.filled_quantity
            self.stored[order.order_id] = order
        for fill in result.fills:
            assert fill.buyer_account_id != fill.seller_account_id
            self.fills_per_order[fill.buy_order_id] += fill.quantity
            self.fills_per_order[fill.sell_order_id] += fill.quantity
            for account in (fill.buyer_account_id, fill.seller_account_id):
                before = self.positions[account]
                self.positions[account] = before.apply(fill)
                self.crystallizations += before.quantity * fill.signed_quantity_for(account) < 0
            self.charge_fees(fill)

    def charge_fees(self, fill) -> None:
        for account, rate in ((fill.taker_account_id, TAKER_FEE), (fill.maker_account_id, MAKER_FEE)):
            amount = notional_sats(fill.price, fill.quantity, MULTIPLIER * rate, FEE_ROUNDING)
            key = f"fee-{fill.fill_id}-{account}"
            self.post(ledger.fee(account, amount, idempotency_key=key, occurred_at=self.now()))

    def post_pnl(self, builder) -> None:
        moves = {}
        for account, position in self.positions.items():
            moves[account] = position.realized_pnl_sats - self.posted_pnl[account]
            self.posted_pnl[account] = position.realized_pnl_sats
        self.post(builder(moves, idempotency_key=self.key("pnl"), occurred_at=self.now()))

    # --- rules -------------------------------------------------------------------------

    @rule(account=accounts, amount=st.integers(1, 5_000_000))
    def deposit(self, account, amount):
        self.post(ledger.deposit(account, amount, idempotency_key=self.key("dep"), occurred_at=self.now()))

    @rule(account=accounts, amount=st.integers(1, 5_000_000))
    def withdraw(self, account, amount):
        denial = ledger.withdrawal_denial(amount, self.free_collateral(account))
        event(f"withdrawal {'allowed' if denial is None else 'denied'}")
        if denial is None:
            self.post(ledger.withdrawal(account, amount, idempotency_key=self.key("wd"), occurred_at=self.now()))
            assert self.free_collateral(account) >= 0
        else:
            assert denial.shortfall_sats == amount - max(self.free_collateral(account), 0)

    @rule(account=accounts, amount=st.integers(1, 1_000_000))
    def deposit_retried_with_the_same_key(self, account, amount):
        entry = ledger.deposit(account, amount, idempotency_key=self.key("dep"), occurred_at=self.now())
        self.post(entry)
        before = self.journal.balances()
        assert self.journal.apply(entry) is self.journal.get(entry.idempotency_key)
        assert self.journal.balances() == before

    @precondition(lambda self: self.journal.balance(FEES) > 0)
    @rule(share=st.integers(1, 100))
    def sweep_fees_to_the_insurance_fund(self, share):
        amount = max(self.journal.balance(FEES) * share // 100, 1)
        key = self.key("tr")
        self.post(ledger.transfer(FEES, INSURANCE_FUND, amount, idempotency_key=key, occurred_at=self.now()))

    @rule(specs=st.lists(order_specs, min_size=1, max_size=6))
    def submit_orders(self, specs):
        for account, side, style, quantity, price, stp in specs:
            self.submit(account, side, style, quantity, price, stp)

    def submit(self, account, side, style, quantity, price, stp):
        if style == "market_fok":
            order_type, tif, post_only = OrderType.MARKET, TimeInForce.FOK, False
        else:
            s = ORDER_STYLES[style]
            order_type, tif, post_only = s.order_type, s.time_in_force, s.post_only
        sequence = self.next_sequence()
        order = Order(
            order_id=f"o{sequence}", account_id=account, instrument_id=INSTRUMENT, side=side, quantity=quantity,
            price=None if order_type is OrderType.MARKET else price, order_type=order_type, time_in_force=tif,
            post_only=post_only, self_trade_prevention=stp, sequence=sequence, created_at=self.now(),
        )
        result = self.book.submit(order)
        event(f"submit {style}: {result.order.status.value}, {'with' if result.fills else 'no'} fills")
        self.record(result)

    @rule(quantity=st.integers(-3, 0), account=accounts)
    def submit_an_invalid_quantity(self, quantity, account):
        sequence = self.next_sequence()
        order = Order(order_id=f"o{sequence}", account_id=account, instrument_id=INSTRUMENT, side=Side.BUY,
                      quantity=quantity, price=Decimal("100"), sequence=sequence, created_at=self.now())
        before = self.book.resting_orders()
        result = self.book.submit(order)
        assert result.rejected is not None and self.book.resting_orders() == before

    @precondition(lambda self: len(self.book) > 0)
    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick):
        resting = self.book.resting_orders()
        cancelled = self.book.cancel(resting[pick % len(resting)].order_id)
        self.stored[cancelled.order_id] = cancelled

    @precondition(lambda self: len(self.book) > 0)
    @rule(pick=st.integers(0, 10_000), extra=st.integers(-3, 5), price=prices)
    def replace(self, pick, extra, price):
        resting = self.book.resting_orders()
        current = resting[pick % len(resting)]
        quantity = max(current.quantity + extra, 1)
        result = self.book.replace(current.order_id, quantity=quantity, price=price, sequence=self.next_sequence(),
                                   occurred_at=self.now())
        event(f"replace: {result.reason.value if isinstance(result, Rejected) else result.order.status.value}")
        if isinstance(result, Rejected):
            assert self.book.get(current.order_id) == current
        else:
            self.record(result)

    @rule()
    def reload_the_book_from_storage(self):
        stored_resting = [o for o in self.stored.values() if o.is_resting]
        rebuilt = OrderBook.from_resting(RULES, stored_resting, last_sequence=self.sequence)
        assert rebuilt.resting_orders() == self.book.resting_orders()
        self.book = rebuilt

    @rule(mark=prices)
    def settle_variation_margin(self, mark):
        self.mark = mark
        self.crystallizations += sum(p.quantity != 0 for p in self.positions.values())
        self.positions = {a: p.mark_to(mark) for a, p in self.positions.items()}
        self.post_pnl(ledger.variation_margin)
        assert 0 <= self.journal.balance(SETTLEMENT_CLEARING) <= self.crystallizations

    @rule(final=prices)
    def expire_and_settle(self, final):
        self.crystallizations += sum(p.quantity != 0 for p in self.positions.values())
        self.positions = {a: p.expire(final) for a, p in self.positions.items()}
        self.post_pnl(ledger.final_settlement)
        for order in self.book.resting_orders():
            self.stored[order.order_id] = self.book.cancel(order.order_id)
        assert 0 <= self.journal.balance(SETTLEMENT_CLEARING) <= self.crystallizations

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def every_entry_balances_and_money_is_conserved(self):
        assert all(sum(p.amount_sats for p in e.postings) == 0 for e in self.journal.entries)
        assert self.journal.total_sats() == 0
        self.journal.verify()

    @invariant()
    def positions_net_to_zero(self):
        assert sum(p.quantity for p in self.positions.values()) == 0

    @invariant()
    def the_book_never_rests_crossed(self):
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is None or ask is None or bid < ask

    @invariant()
    def filled_plus_remaining_is_the_quantity_and_fills_add_up(self):
        for order in self.stored.values():
            if order.quantity > 0:
                assert order.filled_quantity == self.fills_per_order[order.order_id]
            if not order.is_terminal:
                assert order.filled_quantity + order.remaining_quantity == order.quantity

    @invariant()
    def the_stored_orders_describe_the_book_exactly(self):
        stored_resting = {o.order_id: o for o in self.stored.values() if o.is_resting}
        assert stored_resting == {o.order_id: o for o in self.book.resting_orders()}


Exchange.TestCase.settings = settings(
    max_examples=examples(200), stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_random_sequences_of_exchange_events_keep_every_invariant = Exchange.TestCase

"""Property tests: the book against a naive reference, positions against the cash they made."""

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.book import OrderBook
from hashedge.domain.fills import Fill
from hashedge.domain.orders import (
    Order,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TradingRules,
)
from hashedge.domain.positions import Position
from tests.hypothesis_profiles import examples

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
INSTRUMENT = "HP-2026-12"
RULES = TradingRules(INSTRUMENT, tick_size=Decimal("0.5"))

STYLES = {
    "limit": (OrderType.LIMIT, TimeInForce.GTC, False),
    "ioc": (OrderType.LIMIT, TimeInForce.IOC, False),
    "fok": (OrderType.LIMIT, TimeInForce.FOK, False),
    "post_only": (OrderType.LIMIT, TimeInForce.GTC, True),
    "market": (OrderType.MARKET, TimeInForce.IOC, False),
    "market_fok": (OrderType.MARKET, TimeInForce.FOK, False),
}
order_specs = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(list(Side)),
    st.sampled_from(["limit", "limit", "limit", *STYLES]),
    st.integers(1, 6),
    st.integers(196, 204).map(lambda ticks: ticks * RULES.tick_size),
    st.sampled_from(list(SelfTradePrevention)),
)


def make_order(spec, sequence: int) -> Order:
    account, side, style, quantity, price, stp = spec
    order_type, tif, post_only = STYLES[style]
    return Order(
        order_id=f"o{sequence}", account_id=account, instrument_id=INSTRUMENT, side=side, quantity=quantity,
        price=None if order_type is OrderType.MARKET else price, order_type=order_type, time_in_force=tif,
        post_only=post_only, self_trade_prevention=stp, sequence=sequence, created_at=T0,
    )


@dataclass
class Resting:
    order_id: str
    account: str
    side: Side
    price: Decimal
    left: int
    sequence: int


class ReferenceBook:
    """Price-time priority the slow, obvious way: sort everything on every order."""

    def __init__(self):
        self.resting: list[Resting] = []

    def crossing(self, order: Order) -> list[Resting]:
        buy = order.side is Side.BUY
        opposite = sorted(
            (r for r in self.resting if r.side is not order.side),
            key=lambda r: (r.price if buy else -r.price, r.sequence),
        )
        if order.order_type is OrderType.MARKET:
            return opposite
        return [r for r in opposite if (r.price <= order.price if buy else r.price >= order.price)]

    def submit(self, order: Order) -> tuple[list[tuple], OrderStatus]:
        crossing = self.crossing(order)
        if order.post_only and crossing:
            return [], OrderStatus.REJECTED
        left, takes, cancels, stopped = order.quantity, [], [], False
        for r in crossing:
            if left == 0:
                break
            if r.account == order.account_id:
                if order.self_trade_prevention is not SelfTradePrevention.CANCEL_TAKER:
                    cancels.append(r)
                if order.self_trade_prevention is not SelfTradePrevention.CANCEL_RESTING:
                    stopped = True
                    break
                continue
            takes.append((r, min(left, r.left)))
            left -= takes[-1][1]
        if order.time_in_force is TimeInForce.FOK and left:
            return [], OrderStatus.CANCELLED
        return self._apply(order, left, takes, cancels, stopped)

    def _apply(self, order, left, takes, cancels, stopped):
        fills = []
        for r, quantity in takes:
            r.left -= quantity
            ids = (order.order_id, r.order_id) if order.side is Side.BUY else (r.order_id, order.order_id)
            fills.append((*ids, quantity, r.price))
        self.resting = [r for r in self.resting if r.left > 0 and r not in cancels]
        if left == 0:
            return fills, OrderStatus.FILLED
        if stopped or order.order_type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC:
            return fills, OrderStatus.CANCELLED
        self.resting.append(Resting(order.order_id, order.account_id, order.side, order.price, left, order.sequence))
        return fills, OrderStatus.OPEN if left == order.quantity else OrderStatus.PARTIALLY_FILLED

    def depth(self, side: Side) -> tuple[tuple[Decimal, int], ...]:
        levels: dict[Decimal, int] = {}
        for r in self.resting:
            if r.side is side:
                levels[r.price] = levels.get(r.price, 0) + r.left
        return tuple(sorted(levels.items(), reverse=side is Side.BUY))


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(order_specs, max_size=40))
def test_the_book_matches_exactly_like_a_naive_reference_book(specs):
    book, reference = OrderBook(RULES), ReferenceBook()
    for sequence, spec in enumerate(specs, start=1):
        order = make_order(spec, sequence)
        result = book.submit(order)
        expected_fills, expected_status = reference.submit(order)
        assert [(f.buy_order_id, f.sell_order_id, f.quantity, f.price) for f in result.fills] == expected_fills
        assert result.order.status is expected_status
        assert result.order.filled_quantity == sum(f.quantity for f in result.fills)
        depth = book.depth()
        assert (depth.bids, depth.asks) == (reference.depth(Side.BUY), reference.depth(Side.SELL))
        assert not book.is_crossed()


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(order_specs, max_size=30), st.randoms(use_true_random=False))
def test_a_book_rebuilt_from_storage_at_any_point_behaves_like_the_original(specs, random):
    book = OrderBook(RULES)
    for sequence, spec in enumerate(specs, start=1):
        if random.random() < 0.3:
            stored = list(book.resting_orders())
            random.shuffle(stored)
            book = OrderBook.from_resting(RULES, stored, last_sequence=sequence - 1)
        twin = OrderBook.from_resting(RULES, book.resting_orders(), last_sequence=sequence - 1)
        order = make_order(spec, sequence)
        assert book.submit(order) == twin.submit(order)
        assert book.resting_orders() == twin.resting_orders()


trades = st.lists(
    st.tuples(st.booleans(), st.integers(1, 9), st.integers(150, 250).map(lambda t: Decimal(t) / 4)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=examples(300), deadline=None)
@given(trades, st.sampled_from([Decimal("1"), Decimal("3"), Decimal("0.7"), Decimal("100")]))
def test_realized_pnl_is_the_cash_made_less_at_most_one_sat_per_realization(steps, multiplier):
    a = Position(account_id="a", instrument_id=INSTRUMENT, multiplier=multiplier)
    b = Position(account_id="b", instrument_id=INSTRUMENT, multiplier=multiplier)
    cash, realizations = Fraction(0), 0  # a's cash flow in price units x contracts
    for number, (a_buys, quantity, price) in enumerate(steps):
        buyer, seller = ("a", "b") if a_buys else ("b", "a")
        fill = Fill(fill_id=f"f{number}", instrument_id=INSTRUMENT, price=price, quantity=quantity,
                    occurred_at=T0, buyer_account_id=buyer, seller_account_id=seller)
        change = fill.signed_quantity_for("a")
        realizations += a.quantity * change < 0
        cash -= Fraction(price) * change
        a, b = a.apply(fill), b.apply(fill)
        assert a.quantity + b.quantity == 0
        exact = (cash + Fraction(a.open_value)) * Fraction(multiplier)
        assert exact - realizations <= a.realized_pnl_sats <= exact
        if a.quantity:
            assert abs(Fraction(a.average_price) * a.quantity - Fraction(a.open_value)) < Fraction(1, 10**20)

import random
from decimal import Decimal

import pytest

from hashedge.domain.book import OrderBook
from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import InstrumentMismatch, InvalidBookState, StaleSequence
from hashedge.domain.orders import CancelReason, OrderStatus

from domain_builders import RULES, Orders, at, book_with

D = Decimal


def test_cancelling_a_resting_order_removes_it_and_returns_its_cancelled_state():
    orders = Orders()
    order = orders.buy("alice", 2, "100")
    book = book_with(order)
    cancelled = book.cancel(order.order_id)
    assert cancelled.status is OrderStatus.CANCELLED and cancelled.cancel_reason is CancelReason.USER
    assert len(book) == 0 and book.best_bid() is None


def test_cancelling_an_order_that_is_not_resting_is_denied():
    orders = Orders()
    order = orders.buy("alice", 2, "100")
    book = book_with(order)
    book.cancel(order.order_id)
    denial = book.cancel(order.order_id)
    assert isinstance(denial, Rejected)
    assert (denial.reason, denial.field) == (RejectReason.UNKNOWN_ORDER, "order_id")


def test_cancel_all_removes_every_order_of_one_account_with_the_reason_given():
    orders = Orders()
    book = book_with(orders.buy("alice", 1, "99"), orders.buy("bob", 1, "99"), orders.sell("alice", 1, "101"))
    cancelled = book.cancel_all("alice", reason=CancelReason.LIQUIDATION)
    assert {o.cancel_reason for o in cancelled} == {CancelReason.LIQUIDATION} and len(cancelled) == 2
    assert [o.account_id for o in book.resting_orders()] == ["bob"]


def test_lowering_the_quantity_at_the_same_price_keeps_priority():
    orders = Orders()
    first, second = orders.sell("bob", 5, "100"), orders.sell("carol", 5, "100")
    book = book_with(first, second)
    sequence = orders.next_sequence()
    result = book.replace(first.order_id, quantity=2, price=D("100"), sequence=sequence, occurred_at=at(9))
    assert result.order.quantity == 2 and result.order.sequence == first.sequence
    fills = book.submit(orders.buy("alice", 3, "100")).fills
    assert [(f.sell_order_id, f.quantity) for f in fills] == [(first.order_id, 2), (second.order_id, 1)]


def test_raising_the_quantity_loses_priority():
    orders = Orders()
    first, second = orders.sell("bob", 5, "100"), orders.sell("carol", 5, "100")
    book = book_with(first, second)
    sequence = orders.next_sequence()
    result = book.replace(first.order_id, quantity=8, price=D("100"), sequence=sequence, occurred_at=at(9))
    assert result.order.sequence == sequence and result.order.status is OrderStatus.OPEN
    fills = book.submit(orders.buy("alice", 3, "100")).fills
    assert [f.sell_order_id for f in fills] == [second.order_id]


def test_changing_the_price_loses_priority_even_when_moving_back():
    orders = Orders()
    first, second = orders.sell("bob", 5, "100"), orders.sell("carol", 5, "100")
    book = book_with(first, second)
    book.replace(first.order_id, quantity=5, price=D("100.5"), sequence=orders.next_sequence(), occurred_at=at(9))
    book.replace(first.order_id, quantity=5, price=D("100"), sequence=orders.next_sequence(), occurred_at=at(10))
    fills = book.submit(orders.buy("alice", 3, "100")).fills
    assert [f.sell_order_id for f in fills] == [second.order_id]


def test_a_replace_to_a_crossing_price_matches_as_a_taker_then_rests():
    orders = Orders()
    bid, ask = orders.buy("carol", 2, "99"), orders.sell("bob", 5, "100")
    book = book_with(bid, ask)
    sequence = orders.next_sequence()
    result = book.replace(ask.order_id, quantity=5, price=D("99"), sequence=sequence, occurred_at=at(30))
    assert [(f.buyer_account_id, f.quantity, f.price) for f in result.fills] == [("carol", 2, D("99"))]
    assert result.fills[0].fill_id == f"HP-2026-12-{sequence}-1" and result.fills[0].occurred_at == at(30)
    assert result.order.status is OrderStatus.PARTIALLY_FILLED and result.order.remaining_quantity == 3
    assert book.depth().asks == ((D("99"), 3),) and book.best_bid() is None


def test_a_post_only_replace_that_would_cross_is_denied_and_the_original_stays():
    orders = Orders()
    bid, ask = orders.buy("carol", 2, "99"), orders.sell("bob", 5, "100", post_only=True)
    book = book_with(bid, ask)
    denial = book.replace(ask.order_id, quantity=5, price=D("99"), sequence=10, occurred_at=at(9))
    assert denial.reason is RejectReason.POST_ONLY_WOULD_CROSS
    assert book.get(ask.order_id) == ask.rested()


def test_the_new_quantity_is_a_total_and_must_exceed_what_is_filled():
    orders = Orders()
    ask = orders.sell("bob", 5, "100")
    book = book_with(ask)
    book.submit(orders.buy("alice", 3, "100"))
    denial = book.replace(ask.order_id, quantity=3, price=D("100"), sequence=10, occurred_at=at(9))
    assert (denial.reason, denial.field) == (RejectReason.QUANTITY_NOT_ABOVE_FILLED, "quantity")
    result = book.replace(ask.order_id, quantity=4, price=D("100"), sequence=11, occurred_at=at(9))
    assert result.order.status is OrderStatus.PARTIALLY_FILLED and result.order.remaining_quantity == 1


def test_a_replace_with_a_price_off_the_tick_is_denied_and_changes_nothing():
    orders = Orders()
    ask = orders.sell("bob", 5, "100")
    book = book_with(ask)
    denial = book.replace(ask.order_id, quantity=5, price=D("100.2"), sequence=10, occurred_at=at(9))
    assert denial.reason is RejectReason.PRICE_NOT_ON_TICK and book.get(ask.order_id) == ask.rested()


def test_replacing_an_unknown_order_is_denied_and_a_stale_sequence_is_a_bug():
    orders = Orders()
    book = book_with(orders.sell("bob", 5, "100"))
    denial = book.replace("nope", quantity=1, price=D("100"), sequence=10, occurred_at=at(9))
    assert denial.reason is RejectReason.UNKNOWN_ORDER
    with pytest.raises(StaleSequence):
        book.replace("o1", quantity=1, price=D("100"), sequence=10, occurred_at=at(9))


def resting_book() -> tuple[Orders, OrderBook]:
    orders = Orders()
    return orders, book_with(
        orders.sell("bob", 5, "101"), orders.sell("carol", 2, "101"), orders.sell("dave", 1, "100.5"),
        orders.buy("erin", 4, "99"), orders.buy("frank", 3, "99.5"), orders.buy("gina", 1, "99.5"),
    )


def test_a_book_rebuilt_from_its_resting_orders_in_any_order_matches_identically():
    orders, book = resting_book()
    stored = list(book.resting_orders())
    random.Random(7).shuffle(stored)
    rebuilt = OrderBook.from_resting(RULES, stored)
    assert rebuilt.resting_orders() == book.resting_orders() and rebuilt.depth() == book.depth()
    taker = orders.buy("zed", 7, "101")
    assert rebuilt.submit(taker) == book.submit(taker)


def test_rebuilding_does_not_change_the_orders_handed_in():
    orders, book = resting_book()
    stored = list(book.resting_orders())
    snapshot = list(stored)
    rebuilt = OrderBook.from_resting(RULES, stored)
    rebuilt.submit(orders.market("zed", "buy", 8))
    assert stored == snapshot and all(o.status is OrderStatus.OPEN for o in stored)


def test_a_rebuilt_book_continues_from_the_last_sequence_given():
    _, book = resting_book()
    rebuilt = OrderBook.from_resting(RULES, book.resting_orders(), last_sequence=40)
    assert rebuilt.last_sequence == 40
    with pytest.raises(InvalidBookState):
        OrderBook.from_resting(RULES, book.resting_orders(), last_sequence=3)


def test_stored_orders_that_cannot_form_a_book_fail_fast():
    orders = Orders()
    bid, ask = orders.buy("alice", 1, "101").rested(), orders.sell("bob", 1, "100").rested()
    with pytest.raises(InvalidBookState, match="cross"):
        OrderBook.from_resting(RULES, [bid, ask])
    with pytest.raises(InvalidBookState, match="not a resting"):
        OrderBook.from_resting(RULES, [bid.with_fill(1)])
    with pytest.raises(InvalidBookState, match="duplicate"):
        OrderBook.from_resting(RULES, [bid, bid])
    with pytest.raises(InstrumentMismatch):
        OrderBook.from_resting(RULES, [orders.buy("alice", 1, "99", instrument="DIFF-E421").rested()])

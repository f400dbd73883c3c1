from decimal import Decimal

from hashedge.domain.denials import RejectReason
from hashedge.domain.orders import CancelReason, OrderStatus, SelfTradePrevention, Side, TimeInForce

from domain_builders import Orders, at, book_with

D = Decimal


def traded(result) -> list[tuple[str, str, int, Decimal]]:
    """(buyer, seller, quantity, price) of each fill, in order."""
    return [(f.buyer_account_id, f.seller_account_id, f.quantity, f.price) for f in result.fills]


def test_orders_that_do_not_cross_rest_on_both_sides():
    orders = Orders()
    book = book_with(orders.buy("alice", 2, "100"), orders.sell("bob", 3, "101"))
    assert (book.best_bid(), book.best_ask()) == (D("100"), D("101"))
    assert book.depth().bids == ((D("100"), 2),) and book.depth().asks == ((D("101"), 3),)


def test_a_crossing_limit_order_takes_the_best_price_first_at_the_makers_price():
    orders = Orders()
    far, near = orders.sell("bob", 3, "101"), orders.sell("carol", 2, "100.5")
    book = book_with(far, near)
    result = book.submit(orders.buy("alice", 4, "101"))
    assert traded(result) == [("alice", "carol", 2, D("100.5")), ("alice", "bob", 2, D("101"))]
    assert result.order.status is OrderStatus.FILLED and result.order.filled_quantity == 4
    assert [(m.order_id, m.status, m.remaining_quantity) for m in result.maker_updates] == [
        (near.order_id, OrderStatus.FILLED, 0), (far.order_id, OrderStatus.PARTIALLY_FILLED, 1)]
    assert book.depth().asks == ((D("101"), 1),) and book.best_bid() is None


def test_at_one_price_the_earlier_order_fills_first():
    orders = Orders()
    first, second = orders.sell("bob", 2, "100"), orders.sell("carol", 2, "100")
    book = book_with(first, second)
    result = book.submit(orders.buy("alice", 3, "100"))
    assert [f.sell_order_id for f in result.fills] == [first.order_id, second.order_id]
    assert [f.quantity for f in result.fills] == [2, 1]
    assert book.get(second.order_id).remaining_quantity == 1


def test_a_partly_filled_limit_order_rests_the_remainder_at_its_own_price():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"))
    result = book.submit(orders.buy("alice", 5, "100.5"))
    assert traded(result) == [("alice", "bob", 2, D("100"))]
    assert result.order.status is OrderStatus.PARTIALLY_FILLED and result.order.remaining_quantity == 3
    assert book.depth().bids == ((D("100.5"), 3),) and book.best_ask() is None


def test_a_sell_takes_the_highest_bids_first():
    orders = Orders()
    book = book_with(orders.buy("bob", 1, "100"), orders.buy("carol", 2, "100.5"))
    result = book.submit(orders.sell("alice", 3, "100"))
    assert traded(result) == [("carol", "alice", 2, D("100.5")), ("bob", "alice", 1, D("100"))]
    fill = result.fills[0]
    assert fill.aggressor is Side.SELL
    assert (fill.taker_account_id, fill.maker_account_id) == ("alice", "carol")
    assert (fill.taker_order_id, fill.maker_order_id) == (result.order.order_id, fill.buy_order_id)


def test_fill_ids_are_derived_from_the_taker_sequence_and_fill_times_from_the_taker():
    orders = Orders()
    book = book_with(orders.sell("bob", 1, "100"), orders.sell("carol", 1, "101"))
    taker = orders.buy("alice", 2, "101")
    result = book.submit(taker)
    assert [f.fill_id for f in result.fills] == ["HP-2026-12-3-1", "HP-2026-12-3-2"]
    assert {f.occurred_at for f in result.fills} == {at(3)}


def test_a_market_order_sweeps_the_book_and_cancels_what_is_left():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"), orders.sell("carol", 3, "102"))
    result = book.submit(orders.market("alice", "buy", 10))
    assert traded(result) == [("alice", "bob", 2, D("100")), ("alice", "carol", 3, D("102"))]
    assert result.order.status is OrderStatus.CANCELLED
    assert result.order.cancel_reason is CancelReason.IOC_REMAINDER and result.order.filled_quantity == 5
    assert len(book) == 0


def test_a_market_order_on_an_empty_side_is_cancelled_without_fills():
    orders = Orders()
    book = book_with(orders.buy("bob", 2, "100"))
    result = book.submit(orders.market("alice", "buy", 1))
    assert result.fills == () and result.order.cancel_reason is CancelReason.IOC_REMAINDER
    assert len(book) == 1


def test_an_ioc_order_takes_what_crosses_and_never_rests():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"), orders.sell("carol", 2, "101"))
    result = book.submit(orders.buy("alice", 5, "100.5", tif=TimeInForce.IOC))
    assert traded(result) == [("alice", "bob", 2, D("100"))]
    assert result.order.status is OrderStatus.CANCELLED and result.order.filled_quantity == 2
    assert book.best_bid() is None and book.depth().asks == ((D("101"), 2),)


def test_a_fok_order_fills_completely_across_levels():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"), orders.sell("carol", 3, "100.5"))
    result = book.submit(orders.buy("alice", 5, "100.5", tif=TimeInForce.FOK))
    assert traded(result) == [("alice", "bob", 2, D("100")), ("alice", "carol", 3, D("100.5"))]
    assert result.order.status is OrderStatus.FILLED and len(book) == 0


def test_a_fok_order_that_cannot_fill_completely_changes_nothing():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"), orders.sell("carol", 3, "100.5"))
    before = book.resting_orders()
    result = book.submit(orders.buy("alice", 6, "100.5", tif=TimeInForce.FOK))
    assert result.fills == () and result.maker_updates == ()
    assert result.order.status is OrderStatus.CANCELLED
    assert result.order.cancel_reason is CancelReason.FOK_NOT_FILLABLE and result.order.filled_quantity == 0
    assert book.resting_orders() == before


def test_a_fok_order_counts_only_liquidity_within_its_limit_price():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"), orders.sell("carol", 5, "101"))
    result = book.submit(orders.buy("alice", 3, "100.5", tif=TimeInForce.FOK))
    assert result.order.cancel_reason is CancelReason.FOK_NOT_FILLABLE and len(book) == 2


def test_a_market_fok_order_is_all_or_nothing_at_any_price():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "100"), orders.sell("carol", 5, "150"))
    assert book.submit(orders.market("alice", "buy", 8, tif=TimeInForce.FOK)).fills == ()
    result = book.submit(orders.market("alice", "buy", 7, tif=TimeInForce.FOK))
    assert result.order.status is OrderStatus.FILLED and result.filled_quantity == 7


def test_a_post_only_order_that_does_not_cross_rests():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "101"))
    result = book.submit(orders.buy("alice", 1, "100.5", post_only=True))
    assert result.accepted and result.order.status is OrderStatus.OPEN and book.best_bid() == D("100.5")


def test_a_post_only_order_that_would_cross_is_rejected_and_the_book_is_unchanged():
    orders = Orders()
    book = book_with(orders.sell("bob", 2, "101"))
    result = book.submit(orders.buy("alice", 1, "101", post_only=True))
    assert result.order.status is OrderStatus.REJECTED and result.fills == ()
    assert (result.rejected.reason, result.rejected.field) == (RejectReason.POST_ONLY_WOULD_CROSS, "price")
    assert result.rejected.message == "post-only buy at 101 would cross the best opposite price 101"
    assert book.best_bid() is None and book.depth().asks == ((D("101"), 2),)


def test_self_trade_prevention_by_default_cancels_the_resting_order_and_keeps_matching():
    orders = Orders()
    own, other = orders.sell("alice", 2, "100"), orders.sell("bob", 2, "100.5")
    book = book_with(own, other)
    result = book.submit(orders.buy("alice", 3, "100.5"))
    assert traded(result) == [("alice", "bob", 2, D("100.5"))]
    cancelled = result.maker_updates[0]
    assert (cancelled.order_id, cancelled.cancel_reason) == (own.order_id, CancelReason.SELF_TRADE)
    assert result.order.status is OrderStatus.PARTIALLY_FILLED and book.depth().bids == ((D("100.5"), 1),)
    assert book.best_ask() is None


def test_self_trade_prevention_can_cancel_the_incoming_order_instead():
    orders = Orders()
    book = book_with(orders.sell("bob", 1, "100"), orders.sell("alice", 2, "100.5"), orders.sell("bob", 2, "101"))
    result = book.submit(orders.buy("alice", 5, "101", stp=SelfTradePrevention.CANCEL_TAKER))
    assert traded(result) == [("alice", "bob", 1, D("100"))]
    assert result.order.status is OrderStatus.CANCELLED and result.order.cancel_reason is CancelReason.SELF_TRADE
    assert result.order.filled_quantity == 1
    assert book.depth().asks == ((D("100.5"), 2), (D("101"), 2))


def test_self_trade_prevention_can_cancel_both_orders():
    orders = Orders()
    cheap, own, dear = orders.sell("bob", 1, "100"), orders.sell("alice", 2, "100.5"), orders.sell("bob", 2, "101")
    book = book_with(cheap, own, dear)
    result = book.submit(orders.buy("alice", 5, "101", stp=SelfTradePrevention.CANCEL_BOTH))
    assert traded(result) == [("alice", "bob", 1, D("100"))]
    assert result.order.cancel_reason is CancelReason.SELF_TRADE
    assert result.maker_updates[-1].order_id == own.order_id
    assert result.maker_updates[-1].cancel_reason is CancelReason.SELF_TRADE
    assert book.depth().asks == ((D("101"), 2),)


def test_a_fok_order_does_not_count_its_own_resting_orders_and_a_kill_cancels_nothing():
    orders = Orders()
    book = book_with(orders.sell("alice", 2, "100"), orders.sell("bob", 2, "100.5"))
    result = book.submit(orders.buy("alice", 3, "100.5", tif=TimeInForce.FOK))
    assert result.order.cancel_reason is CancelReason.FOK_NOT_FILLABLE and result.maker_updates == ()
    assert len(book) == 2

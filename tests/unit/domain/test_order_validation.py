from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest

from hashedge.domain.book import OrderBook
from hashedge.domain.denials import RejectReason, Rejected
from hashedge.domain.errors import InstrumentMismatch, InvalidValue, StaleSequence
from hashedge.domain.orders import (
    CancelReason,
    Order,
    OrderStatus,
    OrderStyle,
    OrderType,
    Side,
    TimeInForce,
    TradingRules,
    order_style,
)

from domain_builders import INSTRUMENT, RULES, T0, Orders, book_with


def rejection(order: Order, rules: TradingRules = RULES) -> Rejected:
    book = OrderBook(rules)
    result = book.submit(order)
    assert result.order.status is OrderStatus.REJECTED and not result.fills and len(book) == 0
    return result.rejected


@pytest.mark.parametrize("quantity", [0, -5])
def test_a_quantity_that_is_not_positive_is_rejected_as_data(quantity):
    denial = rejection(Orders().buy("alice", quantity, "100"))
    assert (denial.reason, denial.field) == (RejectReason.QUANTITY_NOT_POSITIVE, "quantity")
    assert str(quantity) in denial.message


def test_a_price_off_the_tick_is_rejected():
    denial = rejection(Orders().buy("alice", 1, "100.25"))
    assert (denial.reason, denial.field) == (RejectReason.PRICE_NOT_ON_TICK, "price")
    assert denial.message == "price 100.25 is not a multiple of the tick size 0.5"


@pytest.mark.parametrize(
    "price, reason",
    [(None, RejectReason.PRICE_REQUIRED), ("0", RejectReason.PRICE_NOT_POSITIVE),
     ("-1", RejectReason.PRICE_NOT_POSITIVE), ("NaN", RejectReason.PRICE_INVALID)],
)
def test_a_limit_order_needs_a_positive_finite_price(price, reason):
    assert rejection(Orders().sell("alice", 1, price)).reason is reason


@pytest.mark.parametrize(
    "quantity, reason",
    [(12, RejectReason.QUANTITY_NOT_MULTIPLE_OF_LOT), (5, RejectReason.QUANTITY_BELOW_MINIMUM),
     (105, RejectReason.QUANTITY_ABOVE_MAXIMUM)],
)
def test_quantities_follow_the_lot_size_and_the_limits(quantity, reason):
    rules = TradingRules(INSTRUMENT, Decimal("0.5"), lot_size=5, min_quantity=10, max_quantity=100)
    assert rejection(Orders().buy("alice", quantity, "100"), rules).reason is reason


def test_a_market_order_takes_no_price_and_never_rests():
    orders = Orders()
    priced = orders.make("alice", "buy", 1, "100", order_type=OrderType.MARKET, tif=TimeInForce.IOC)
    assert rejection(priced).reason is RejectReason.PRICE_NOT_ALLOWED
    resting = orders.make("alice", "buy", 1, order_type=OrderType.MARKET, tif=TimeInForce.GTC)
    assert rejection(resting).reason is RejectReason.MARKET_ORDER_MUST_BE_IOC_OR_FOK


def test_post_only_applies_to_gtc_limit_orders_only():
    order = Orders().buy("alice", 1, "100", tif=TimeInForce.IOC, post_only=True)
    assert rejection(order).reason is RejectReason.POST_ONLY_MUST_BE_GTC_LIMIT


def test_api_order_types_map_to_styles_and_unknown_names_are_denied():
    assert order_style("ioc") == OrderStyle(OrderType.LIMIT, TimeInForce.IOC)
    assert order_style("market") == OrderStyle(OrderType.MARKET, TimeInForce.IOC)
    assert order_style("post_only").post_only
    denial = order_style("stop")
    assert (denial.reason, denial.field) == (RejectReason.UNKNOWN_ORDER_TYPE, "type")


def test_a_float_quantity_or_price_is_a_bug_and_fails_fast():
    with pytest.raises(InvalidValue) as raised:
        Order(order_id="x", account_id="a", instrument_id=INSTRUMENT, side="buy", quantity=1.0,
              price=Decimal("1"), sequence=1, created_at=T0)
    assert raised.value.field == "quantity"
    with pytest.raises(InvalidValue):
        Order(order_id="x", account_id="a", instrument_id=INSTRUMENT, side="buy", quantity=1,
              price=100.0, sequence=1, created_at=T0)


def test_orders_read_back_from_storage_accept_enum_values_as_strings():
    order = Order(order_id="x", account_id="a", instrument_id=INSTRUMENT, side="sell", quantity=3,
                  price=Decimal("1"), sequence=1, created_at=T0, status="partially_filled", filled_quantity=1,
                  time_in_force="gtc", order_type="limit", self_trade_prevention="cancel_taker")
    assert order.side is Side.SELL and order.status is OrderStatus.PARTIALLY_FILLED
    assert order.remaining_quantity == 2


@pytest.mark.parametrize(
    "status, filled, reason",
    [("filled", 2, None), ("open", 1, None), ("partially_filled", 0, None), ("cancelled", 0, None),
     ("open", 0, "user")],
)
def test_an_order_state_that_contradicts_its_fills_fails_fast(status, filled, reason):
    with pytest.raises(InvalidValue):
        Order(order_id="x", account_id="a", instrument_id=INSTRUMENT, side="buy", quantity=3,
              price=Decimal("1"), sequence=1, created_at=T0, status=status, filled_quantity=filled,
              cancel_reason=reason)


def test_an_order_needs_an_aware_creation_time():
    with pytest.raises(InvalidValue):
        Order(order_id="x", account_id="a", instrument_id=INSTRUMENT, side="buy", quantity=1,
              price=Decimal("1"), sequence=1, created_at=datetime(2026, 1, 1))


def test_an_order_for_another_instrument_is_a_bug():
    with pytest.raises(InstrumentMismatch) as raised:
        OrderBook(RULES).submit(Orders().buy("alice", 1, "100", instrument="DIFF-E421"))
    assert (raised.value.expected, raised.value.actual) == (INSTRUMENT, "DIFF-E421")


def test_an_order_sequence_must_be_after_the_last_one_the_book_has_seen():
    orders = Orders(first_sequence=5)
    book = book_with(orders.buy("alice", 1, "100"))
    with pytest.raises(StaleSequence) as raised:
        book.submit(replace(Orders(first_sequence=5).sell("bob", 1, "101"), order_id="late"))
    assert (raised.value.sequence, raised.value.last_sequence) == (5, 5)


def test_only_a_new_unfilled_order_can_be_submitted():
    order = Orders().buy("alice", 1, "100").cancelled(CancelReason.USER)
    with pytest.raises(InvalidValue):
        OrderBook(RULES).submit(order)

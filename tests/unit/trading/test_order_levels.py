"""Open orders summarized per price level decide the pre-trade check exactly as every order does."""

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import AccountState, order_margin_sats, pre_trade_check
from hashedge.domain.order_levels import RestingLevel, needs_each_order, summarized_orders
from hashedge.domain.orders import OrderStatus
from hashedge.domain.parameters import RiskParameters
from trading_builders import CAPPED, DIFF, HP, MARKS, SPECS, T0, order, position
from tests.hypothesis_profiles import examples

D = Decimal
PARAMS = RiskParameters()
SPEC_LIST = [HP, DIFF, CAPPED]


def price_text(spec, ticks: int) -> str:
    return f"{ticks / 100:.2f}" if spec is DIFF else str(ticks)


def near_mark(spec):
    mark = MARKS[spec.symbol]
    centre = int(mark * 100) if spec is DIFF else int(mark)
    return st.integers(centre - 30, centre + 30).map(lambda t: price_text(spec, t))


@st.composite
def resting_orders(draw):
    """Up to 12 resting orders, often several at one price, some priced through the mark, some
    partly filled."""
    orders = []
    for _ in range(draw(st.integers(0, 12))):
        spec = draw(st.sampled_from(SPEC_LIST))
        quantity = draw(st.integers(1, 40))
        made = order("alice", spec, draw(st.sampled_from(["buy", "sell"])), quantity, draw(near_mark(spec)))
        filled = draw(st.integers(0, quantity - 1))
        status = OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.OPEN
        orders.append(replace(made, status=status, filled_quantity=filled))
    return orders


def levels_of(orders) -> list[RestingLevel]:
    """What storage's ``resting_levels_of`` sums, grouped here by hand."""
    grouped = defaultdict(list)
    for o in orders:
        grouped[(o.instrument_id, o.side, o.price)].append(o)
    return [RestingLevel(i, s, p, sum(o.remaining_quantity for o in group), len(group))
            for (i, s, p), group in grouped.items()]


def summarized(orders) -> tuple:
    levels = levels_of(orders)
    through = {(lv.instrument_id, lv.side, lv.price) for lv in levels if needs_each_order(lv, MARKS, SPECS)}
    each = [o for o in orders if (o.instrument_id, o.side, o.price) in through]
    return summarized_orders("alice", levels, each, MARKS, SPECS, T0)


@settings(max_examples=examples(400), deadline=None)
@given(resting_orders(), st.integers(0, 8_000_000), st.integers(-30, 30), st.integers(-30, 30),
       st.sampled_from(SPEC_LIST), st.sampled_from(["buy", "sell"]), st.integers(1, 40), st.data())
def test_the_check_over_levels_is_the_check_over_every_order(orders, collateral, held_hp, held_diff, spec, side,
                                                              quantity, data):
    positions = [p for p in (position("alice", HP, held_hp, "45010"), position("alice", DIFF, held_diff, "150.10"))
                 if p.quantity]
    every = AccountState(account_id="alice", collateral_sats=collateral, positions=positions, open_orders=orders)
    levels = replace(every, open_orders=summarized(orders))
    new = order("alice", spec, side, quantity, data.draw(st.one_of(st.none(), near_mark(spec))))
    assert pre_trade_check(levels, new, MARKS, PARAMS, specs=SPECS) == pre_trade_check(every, new, MARKS, PARAMS,
                                                                                        specs=SPECS)
    assert order_margin_sats(levels, MARKS, SPECS, PARAMS) == order_margin_sats(every, MARKS, SPECS, PARAMS)


def test_two_orders_priced_through_the_mark_round_up_each_so_they_are_counted_one_by_one():
    # The loss against the mark is rounded up per order: such a level is never merged.
    first, second = order("alice", DIFF, "buy", 1, "150.24"), order("alice", DIFF, "buy", 1, "150.24")
    level = levels_of([first, second])[0]
    assert needs_each_order(level, MARKS, SPECS)
    assert summarized([first, second]) == (first, second)
    with pytest.raises(InvalidValue):
        summarized_orders("alice", [level], [], MARKS, SPECS, T0)


def test_a_level_below_the_mark_is_one_order_of_the_summed_remaining_quantity():
    orders = [replace(order("alice", HP, "buy", 5, "44990"), status=OrderStatus.PARTIALLY_FILLED, filled_quantity=2),
              order("alice", HP, "buy", 4, "44990")]
    (merged,) = summarized(orders)
    assert (merged.price, merged.remaining_quantity, merged.side.value) == (D(44990), 7, "buy")

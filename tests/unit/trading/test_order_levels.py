"""Open orders summed per instrument and side decide the pre-trade check exactly as every order does."""

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.fees import fee_sats
from hashedge.domain.margin import AccountState, order_margin_sats, pre_trade_check
from hashedge.domain.order_levels import fee_per_contract_sats, order_total, summing_bounds
from hashedge.domain.orders import OrderStatus, Side
from hashedge.domain.parameters import RiskParameters
from trading_builders import CAPPED, DIFF, HP, MARKS, SPECS, order, position
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


def summed(orders, params=PARAMS) -> tuple:
    """What ``order_check_state`` hands the check: the orders the database would sum, summed here
    by hand with the same integer formula, and the others as they are."""
    totals, each = defaultdict(lambda: [0, 0]), []
    for o in orders:
        spec = SPECS[o.instrument_id]
        bounds = summing_bounds(spec, MARKS[o.instrument_id], params.taker_fee_bps)
        ticks = int(o.price / spec.tick_size)
        highest_buy, lowest_sell, highest, fee = bounds
        if ticks <= highest and (ticks <= highest_buy if o.side is Side.BUY else ticks >= lowest_sell):
            total = totals[(o.instrument_id, o.side)]
            total[0] += o.remaining_quantity
            total[1] += o.remaining_quantity * fee_per_contract_sats(ticks, fee)
        else:
            each.append(o)
    return (*(order_total("alice", i, s, q, f) for (i, s), (q, f) in totals.items()), *each)


@settings(max_examples=examples(400), deadline=None)
@given(resting_orders(), st.integers(0, 8_000_000), st.integers(-30, 30), st.integers(-30, 30),
       st.sampled_from(SPEC_LIST), st.sampled_from(["buy", "sell"]), st.integers(1, 40), st.data())
def test_the_check_over_sums_is_the_check_over_every_order(orders, collateral, held_hp, held_diff, spec, side,
                                                            quantity, data):
    positions = [p for p in (position("alice", HP, held_hp, "45010"), position("alice", DIFF, held_diff, "150.10"))
                 if p.quantity]
    every = AccountState(account_id="alice", collateral_sats=collateral, positions=positions, open_orders=orders)
    sums = replace(every, open_orders=summed(orders))
    new = order("alice", spec, side, quantity, data.draw(st.one_of(st.none(), near_mark(spec))))
    assert pre_trade_check(sums, new, MARKS, PARAMS, specs=SPECS) == pre_trade_check(every, new, MARKS, PARAMS,
                                                                                      specs=SPECS)
    assert order_margin_sats(sums, MARKS, SPECS, PARAMS) == order_margin_sats(every, MARKS, SPECS, PARAMS)


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(SPEC_LIST), st.integers(1, 10**9), st.sampled_from([D(0), D(1), D(5), D("2.5"), D("0.37")]))
def test_the_integer_fee_formula_is_the_fee_of_one_contract(spec, ticks, bps):
    fee = summing_bounds(spec, MARKS[spec.symbol], bps)[3]
    assert fee_per_contract_sats(ticks, fee) == fee_sats(spec, 1, ticks * spec.tick_size, bps)


def test_orders_priced_through_the_mark_are_not_summed():
    highest_buy, lowest_sell, _, _ = summing_bounds(HP, MARKS[HP.symbol], PARAMS.taker_fee_bps)
    assert (highest_buy, lowest_sell) == (45_000, 45_000)  # the mark, on a tick
    above, at = order("alice", HP, "buy", 1, "45001"), order("alice", HP, "buy", 2, "45000")
    below = order("alice", HP, "sell", 3, "44999")
    (total, *each) = summed([above, at, below])
    assert (total.remaining_quantity, total.side, each) == (2, Side.BUY, [above, below])


def test_a_capped_contract_compares_with_the_clamped_mark():
    assert summing_bounds(CAPPED, D(70_000), PARAMS.taker_fee_bps)[:2] == (59_000, 59_000)
    assert summing_bounds(DIFF, D("150.235"), PARAMS.taker_fee_bps)[:2] == (15_023, 15_024)

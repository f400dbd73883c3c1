"""The margin memo gives the check and the account's margin the integers they have without it:
one memo reused across every example (different accounts, marks, orders) and a change of the
risk parameters that starts it afresh."""

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.margin import AccountState, MarginMemo, account_margin, pre_trade_check
from hashedge.domain.parameters import RiskParameters
from test_order_levels import SPEC_LIST, near_mark, resting_orders, summed
from tests.hypothesis_profiles import examples
from trading_builders import DIFF, HP, MARKS, SPECS, order, position

PARAMS = RiskParameters()
MEMO = MarginMemo()  # shared by every example: a stale entry would answer a later one wrongly


@settings(max_examples=examples(400), deadline=None)
@given(resting_orders(), st.booleans(), st.integers(0, 8_000_000), st.integers(-30, 30), st.integers(-30, 30),
       st.integers(-3, 3), st.sampled_from(SPEC_LIST), st.sampled_from(["buy", "sell"]), st.integers(1, 40),
       st.data())
def test_a_check_with_the_memo_is_the_check_without_it(orders, sum_them, collateral, held_hp, held_diff, mark_moves,
                                                        spec, side, quantity, data):
    marks = dict(MARKS) | {HP.symbol: MARKS[HP.symbol] + mark_moves}  # marks move between examples
    positions = [p for p in (position("alice", HP, held_hp, "45010"), position("alice", DIFF, held_diff, "150.10"))
                 if p.quantity]
    state = AccountState(account_id="alice", collateral_sats=collateral, positions=positions,
                         open_orders=summed(orders) if sum_them else orders)
    new = order("alice", spec, side, quantity, data.draw(st.one_of(st.none(), near_mark(spec))))
    traded = replace(state, positions=[position("alice", HP, held_hp + 1, "45010"),
                                       *(p for p in positions if p.instrument_id != HP.symbol)])
    memo = MEMO.using(PARAMS)
    for _twice in range(2):  # the second time every term comes from the memo
        for account in (state, traded):  # the same orders with another position: other terms
            assert pre_trade_check(account, new, marks, PARAMS, specs=SPECS, memo=memo) == pre_trade_check(
                account, new, marks, PARAMS, specs=SPECS)
            assert account_margin(account, marks, PARAMS, specs=SPECS, memo=memo) == account_margin(
                account, marks, PARAMS, specs=SPECS)


def test_other_parameters_start_the_memo_afresh_and_are_never_answered_from_it():
    state = AccountState(account_id="alice", collateral_sats=10**9,
                         positions=[position("alice", HP, 7, "45010")],
                         open_orders=[order("alice", HP, "buy", 5, "44990")])
    memo = MarginMemo()
    before = account_margin(state, MARKS, PARAMS, specs=SPECS, memo=memo.using(PARAMS))
    assert memo.positions and memo.instrument_orders
    stricter = replace(PARAMS, taker_fee_bps=PARAMS.taker_fee_bps + Decimal(7))
    assert account_margin(state, MARKS, stricter, specs=SPECS, memo=memo) == account_margin(
        state, MARKS, stricter, specs=SPECS)  # a memo of other parameters is not used
    assert account_margin(state, MARKS, stricter, specs=SPECS, memo=memo.using(stricter)) != before
    assert memo.params is stricter
    small = MarginMemo(max_entries=1).using(PARAMS)
    account_margin(state, MARKS, PARAMS, specs=SPECS, memo=small)
    assert len(small.positions) + len(small.instrument_orders) == 2
    assert not small.using(PARAMS).positions  # past its size it forgets everything

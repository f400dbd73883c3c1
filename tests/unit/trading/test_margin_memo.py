"""The margin memo gives the check and the account's margin the integers they have without it:
one memo reused across every example (different accounts, marks, orders), a change of the risk
parameters that gives a fresh memo, and a memo still held under the old parameters that never
sees the new ones' terms."""

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.margin import AccountState, MarginMemo, account_margin, pre_trade_check
from hashedge.domain.parameters import RiskParameters
from hashedge.services.margin import SharedMarginMemo
from test_order_levels import SPEC_LIST, near_mark, resting_orders, summed
from tests.hypothesis_profiles import examples
from trading_builders import DIFF, HP, MARKS, SPECS, order, position

PARAMS = RiskParameters()
MEMO = MarginMemo(PARAMS)  # shared by every example: a stale entry would answer a later one wrongly


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
    assert memo is MEMO  # not full: the one memo answers every example
    for _twice in range(2):  # the second time every term comes from the memo
        for account in (state, traded):  # the same orders with another position: other terms
            assert pre_trade_check(account, new, marks, PARAMS, specs=SPECS, memo=memo) == pre_trade_check(
                account, new, marks, PARAMS, specs=SPECS)
            assert account_margin(account, marks, PARAMS, specs=SPECS, memo=memo) == account_margin(
                account, marks, PARAMS, specs=SPECS)


def test_other_parameters_get_a_fresh_memo_and_are_never_answered_from_the_old_one():
    state = AccountState(account_id="alice", collateral_sats=10**9,
                         positions=[position("alice", HP, 7, "45010")],
                         open_orders=[order("alice", HP, "buy", 5, "44990")])
    memo = MarginMemo().using(PARAMS)
    before = account_margin(state, MARKS, PARAMS, specs=SPECS, memo=memo)
    assert memo.instruments
    stricter = replace(PARAMS, taker_fee_bps=PARAMS.taker_fee_bps + Decimal(7))
    assert account_margin(state, MARKS, stricter, specs=SPECS, memo=memo) == account_margin(
        state, MARKS, stricter, specs=SPECS)  # a memo of other parameters is not used
    fresh = memo.using(stricter)
    assert fresh is not memo and fresh.params is stricter and not fresh.instruments
    assert account_margin(state, MARKS, stricter, specs=SPECS, memo=fresh) != before
    # the old memo, still held by a batch under the old parameters, kept its own terms only
    assert memo.params is PARAMS and account_margin(state, MARKS, PARAMS, specs=SPECS, memo=memo) == before
    small = MarginMemo(max_entries=1).using(PARAMS)
    two = replace(state, open_orders=[*state.open_orders, order("alice", DIFF, "sell", 2, "150.30")])
    account_margin(two, MARKS, PARAMS, specs=SPECS, memo=small)
    assert len(small.instruments) == 2
    assert not small.using(PARAMS).instruments  # past its size: a new, empty memo


def test_the_engines_shared_memo_swaps_and_never_resets_one_a_batch_holds():
    shared = SharedMarginMemo()
    first = shared.using(PARAMS)
    assert shared.using(PARAMS) is first
    state = AccountState(account_id="alice", collateral_sats=10**9,
                         positions=[position("alice", HP, 7, "45010")],
                         open_orders=[order("alice", HP, "buy", 5, "44990")])
    terms = account_margin(state, MARKS, PARAMS, specs=SPECS, memo=first)
    held = dict(first.instruments)
    stricter = replace(PARAMS, taker_fee_bps=PARAMS.taker_fee_bps + Decimal(7))
    second = shared.using(stricter)  # another batch, after a governance change
    account_margin(state, MARKS, stricter, specs=SPECS, memo=second)
    assert second is not first and dict(first.instruments) == held
    assert account_margin(state, MARKS, PARAMS, specs=SPECS, memo=first) == terms

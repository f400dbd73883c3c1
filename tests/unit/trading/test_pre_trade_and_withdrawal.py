from datetime import datetime, timezone
from decimal import Decimal

import pytest

from hashedge.domain.denials import RejectReason
from hashedge.domain.errors import InstrumentMismatch, InvalidValue
from hashedge.domain.fees import fee_sats, fill_fees_sats
from hashedge.domain.fills import Fill
from hashedge.domain.margin import AccountState, MissingMark, pre_trade_check, withdrawable_sats, withdrawal_check
from hashedge.domain.orders import Side
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from trading_builders import CAPPED, DIFF, HP, MARKS, SPECS, order, position, trade

D = Decimal
PARAMS = RiskParameters()


def account(collateral: int, *positions: Position, orders=()) -> AccountState:
    return AccountState(account_id="alice", collateral_sats=collateral, positions=positions, open_orders=orders)


def check(state: AccountState, new_order):
    return pre_trade_check(state, new_order, MARKS, PARAMS, specs=SPECS)


# --- pre-trade ----------------------------------------------------------------------------------

def test_an_order_the_account_can_carry_passes():
    assert check(account(2_500_000), order("alice", HP, "buy", 10, "45100")) is None


def test_an_order_that_would_leave_equity_below_initial_margin_is_refused_with_the_shortfall():
    denial = check(account(2_100_000), order("alice", HP, "buy", 10, "45100"))
    # needs 2,092,500 margin + 31,000 above the mark + 10 x 700 fee (699.05 a contract, up) -> 2,130,500
    assert (denial.reason, denial.field, denial.shortfall_sats) == (RejectReason.INSUFFICIENT_FREE_COLLATERAL, "quantity", 30_500)
    assert "2130500 sats" in denial.message and "short by 30500 sats" in denial.message


def test_the_exact_collateral_needed_is_enough():
    assert check(account(2_130_500), order("alice", HP, "buy", 10, "45100")) is None
    assert check(account(2_130_499), order("alice", HP, "buy", 10, "45100")).shortfall_sats == 1


def test_a_market_order_is_checked_at_the_band_edge_against_it():
    denial = check(account(0), order("alice", HP, "buy", 1))
    # 209,250 margin + (47,250 - 45,000) x 31 = 69,750 + 732.375 fee, rounded up once
    assert denial.shortfall_sats == 209_250 + 70_483
    sell = check(account(0), order("alice", DIFF, "sell", 1))
    # at 150.23 x 0.95 = 142.7185 -> 142.71: margin 1,502,300 x 13% = 195,299, plus
    # (150.23 - 142.71) x 10,000 = 75,200 below the mark and a 713.55 fee, rounded up once
    assert sell.shortfall_sats == 195_299 + 75_914


def test_a_reducing_order_passes_even_in_a_margin_call():
    state = account(1_500_000, position("alice", HP, 10, "45000"))  # equity 1.5M < initial 2,092,500
    assert check(state, order("alice", HP, "sell", 4, "45000")) is None
    assert check(state, order("alice", HP, "sell", 10, "40000")) is None


def test_adding_risk_in_a_margin_call_is_refused():
    state = account(1_500_000, position("alice", HP, 10, "45000"))
    # worst case long 11: 2,301,750 + fee 697.5 -> 2,302,448 against equity 1,500,000
    assert check(state, order("alice", HP, "buy", 1, "45000")).shortfall_sats == 802_448


def test_flipping_through_zero_is_not_a_reduction():
    state = account(1_500_000, position("alice", HP, 10, "45000"))
    # worst case stays long 10 (2,092,500) + fee on 15 contracts 15 x 698 (697.5 up) -> 2,102,970
    assert check(state, order("alice", HP, "sell", 15, "45000")).shortfall_sats == 602_970


def test_a_sell_that_reduces_only_together_with_other_sells_must_be_covered():
    resting = order("alice", HP, "sell", 7, "46000")
    state = account(1_500_000, position("alice", HP, 10, "45000"), orders=(resting,))
    assert check(state, order("alice", HP, "sell", 3, "45000")) is None
    assert check(state, order("alice", HP, "sell", 4, "45000")) is not None


def test_a_replaced_order_is_not_counted_twice():
    resting = order("alice", HP, "buy", 10, "45000", order_id="o-1")
    state = account(2_100_000, orders=(resting,))
    assert check(state, order("alice", HP, "buy", 10, "45000", order_id="o-1")) is None
    assert check(state, order("alice", HP, "buy", 10, "45000", order_id="o-2")) is not None


def test_unrealized_gains_support_new_orders():
    rich = account(0, position("alice", HP, 10, "30000"))  # +4,650,000 at 45,000
    assert check(rich, order("alice", DIFF, "buy", 1, "150.23")) is None


def test_a_capped_order_needs_its_whole_range_at_its_own_price():
    # buying at 43,000 can lose (43,000 - 25,000) x 14 = 252,000, plus 5 bps of 602,000 = 301
    assert check(account(0), order("alice", CAPPED, "buy", 1, "43000")).shortfall_sats == 252_301
    assert check(account(252_301), order("alice", CAPPED, "buy", 1, "43000")) is None


def test_an_order_of_another_account_or_on_an_unknown_instrument_is_a_bug():
    with pytest.raises(InvalidValue):
        check(account(1), order("bob", HP, "buy", 1, "45000"))
    with pytest.raises(MissingMark):
        pre_trade_check(account(1), order("alice", HP, "buy", 1, "45000"), {}, PARAMS, specs=SPECS)


# --- withdrawals --------------------------------------------------------------------------------

def test_all_collateral_behind_an_open_position_cannot_be_withdrawn():
    state = account(3_000_000, position("alice", HP, 10, "45000"))
    denial = withdrawal_check(state, 3_000_000, MARKS, PARAMS, specs=SPECS)
    assert (denial.reason, denial.shortfall_sats) == (RejectReason.INSUFFICIENT_FREE_COLLATERAL, 2_092_500)


def test_exactly_the_free_collateral_can_be_withdrawn():
    state = account(3_000_000, position("alice", HP, 10, "45000"))
    assert withdrawal_check(state, 907_500, MARKS, PARAMS, specs=SPECS) is None
    assert withdrawal_check(state, 907_501, MARKS, PARAMS, specs=SPECS).shortfall_sats == 1


def test_unrealized_losses_count_against_a_withdrawal_but_gains_do_not_count_for_it():
    gain = account(3_000_000, position("alice", HP, 10, "44000"))  # +310,000
    loss = account(3_000_000, position("alice", HP, 10, "46000"))  # -310,000
    assert withdrawable_sats(gain, MARKS, PARAMS, specs=SPECS) == 907_500
    assert withdrawable_sats(loss, MARKS, PARAMS, specs=SPECS) == 597_500


def test_open_orders_hold_collateral_back_from_withdrawal():
    state = account(3_000_000, orders=(order("alice", HP, "buy", 10, "45100"),))
    assert withdrawable_sats(state, MARKS, PARAMS, specs=SPECS) == 3_000_000 - 2_130_500


def test_a_flat_account_withdraws_its_whole_balance_and_no_more():
    assert withdrawal_check(account(5_000), 5_000, MARKS, PARAMS, specs=SPECS) is None
    assert withdrawal_check(account(5_000), 5_001, MARKS, PARAMS, specs=SPECS).shortfall_sats == 1
    assert withdrawal_check(account(5_000), 0, MARKS, PARAMS, specs=SPECS).reason is RejectReason.AMOUNT_NOT_POSITIVE


def test_an_account_under_water_withdraws_nothing():
    state = account(1_000_000, position("alice", HP, 10, "45000"))
    assert withdrawable_sats(state, MARKS, PARAMS, specs=SPECS) == 0
    assert withdrawal_check(state, 1, MARKS, PARAMS, specs=SPECS).shortfall_sats == 1


# --- fees ---------------------------------------------------------------------------------------

def test_fees_are_basis_points_of_notional_rounded_up():
    assert fee_sats(HP, 10, D(45_100), D(5)) == 6_991  # 6,990.5
    assert fee_sats(HP, 10, D(45_100), D(2)) == 2_797  # 2,796.2
    assert fee_sats(HP, -10, D(45_100), D(0)) == 0


def test_a_book_fill_charges_the_maker_and_the_taker_their_rates():
    fill = Fill(fill_id="HP-7-1", instrument_id=HP.symbol, price=D(45_100), quantity=10,
                occurred_at=datetime(2026, 12, 1, tzinfo=timezone.utc), buyer_account_id="bob",
                seller_account_id="alice", buy_order_id="b", sell_order_id="s", aggressor=Side.SELL)
    assert fill_fees_sats(fill, HP, PARAMS) == {"alice": 6_991, "bob": 2_797}


def test_both_parties_of_a_block_trade_pay_the_taker_rate():
    assert fill_fees_sats(trade(HP, "bob", "alice", 10, "45100"), HP, PARAMS) == {"alice": 6_991, "bob": 6_991}
    with pytest.raises(InstrumentMismatch):
        fill_fees_sats(trade(HP, "bob", "alice", 10, "45100"), DIFF, PARAMS)

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import (
    AccountState,
    MarginStatus,
    MissingMark,
    account_margin,
    initial_margin_sats,
    maintenance_margin_sats,
    margin_status,
    notional_sats,
    unrealized_pnl_sats,
)
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from trading_builders import BME, CAPPED, DIFF, HP, MARKS, SPECS, order, position

D = Decimal
PARAMS = RiskParameters()


def account(collateral: int, *positions: Position, orders=()) -> AccountState:
    return AccountState(account_id="alice", collateral_sats=collateral, positions=positions, open_orders=orders)


@pytest.mark.parametrize("spec, quantity, mark, notional, initial, maintenance", [
    (HP, 10, "45000", 13_950_000, 2_092_500, 1_395_000),  # 10 x 45,000 x 31; 15% and 10%
    (HP, -10, "45000", 13_950_000, 2_092_500, 1_395_000),
    (BME, 1, "41999", 587_986, 88_198, 58_799),  # 88,197.9 and 58,798.6 rounded up
    (DIFF, -3, "150.23", 4_506_900, 585_897, 405_621),  # 13% and 9%
    (DIFF, 0, "150.23", 0, 0, 0),
])
def test_futures_margin_is_a_ratio_of_notional_rounded_up(spec, quantity, mark, notional, initial, maintenance):
    assert notional_sats(spec, quantity, D(mark)) == notional
    assert initial_margin_sats(spec, quantity, D(mark), PARAMS) == initial
    assert maintenance_margin_sats(spec, quantity, D(mark), PARAMS) == maintenance


@pytest.mark.parametrize("quantity, mark, required", [
    (2, "42000", (42_000 - 25_000) * 14 * 2),  # long: down to the floor
    (-2, "42000", (59_000 - 42_000) * 14 * 2),  # short: up to the cap
    (2, "70000", (59_000 - 25_000) * 14 * 2),  # mark clamped to the cap
    (-2, "10000", (59_000 - 25_000) * 14 * 2),  # mark clamped to the floor
    (-2, "70000", 0),
])
def test_a_capped_contract_is_margined_at_the_whole_range_left(quantity, mark, required):
    assert initial_margin_sats(CAPPED, quantity, D(mark), PARAMS) == required
    assert maintenance_margin_sats(CAPPED, quantity, D(mark), PARAMS) == required


@given(st.integers(25_000, 59_000), st.integers(1, 120_000), st.integers(-500, 500).filter(bool))
def test_a_fully_collateralized_capped_position_never_becomes_liquidatable(entry, mark, quantity):
    posted = initial_margin_sats(CAPPED, quantity, D(entry), PARAMS)
    state = account(posted, position("alice", CAPPED, quantity, str(entry)))
    summary = account_margin(state, {CAPPED.symbol: D(mark)}, PARAMS, specs=SPECS)
    assert summary.equity_sats - summary.maintenance_margin_sats == 0
    assert summary.status is MarginStatus.HEALTHY


def test_an_account_shows_equity_margin_free_collateral_and_status():
    state = account(3_000_000, position("alice", HP, 10, "44900"))
    summary = account_margin(state, MARKS, PARAMS, specs=SPECS)
    assert (summary.unrealized_pnl_sats, summary.equity_sats) == (31_000, 3_031_000)  # 100 x 10 x 31
    assert (summary.initial_margin_sats, summary.maintenance_margin_sats) == (2_092_500, 1_395_000)
    assert (summary.order_margin_sats, summary.free_collateral_sats, summary.status) == (0, 938_500, MarginStatus.HEALTHY)


def test_margin_follows_the_mark():
    state = account(3_000_000, position("alice", HP, 10, "45000"))
    summary = account_margin(state, {HP.symbol: D(44_000)}, PARAMS, specs=SPECS)
    assert (summary.unrealized_pnl_sats, summary.initial_margin_sats) == (-310_000, 2_046_000)


@pytest.mark.parametrize("collateral, status", [
    (2_061_500, MarginStatus.HEALTHY),  # equity 2,092,500 = initial margin
    (2_061_499, MarginStatus.MARGIN_CALL),
    (1_364_000, MarginStatus.MARGIN_CALL),  # equity 1,395,000 = maintenance margin
    (1_363_999, MarginStatus.LIQUIDATABLE),
])
def test_status_is_set_by_equity_against_initial_and_maintenance(collateral, status):
    state = account(collateral, position("alice", HP, 10, "44900"))
    assert account_margin(state, MARKS, PARAMS, specs=SPECS).status is status


def test_status_thresholds_are_strict():
    assert margin_status(100, 100, 50) is MarginStatus.HEALTHY
    assert margin_status(99, 100, 50) is MarginStatus.MARGIN_CALL
    assert margin_status(49, 100, 50) is MarginStatus.LIQUIDATABLE
    assert margin_status(-1, 0, 0) is MarginStatus.LIQUIDATABLE


def test_requirements_and_pnl_add_up_over_positions():
    state = account(5_000_000, position("alice", HP, 10, "44900"), position("alice", BME, 1, "42000"),
                    position("alice", DIFF, -3, "150.00"), position("alice", CAPPED, -2, "41000"))
    summary = account_margin(state, MARKS, PARAMS, specs=SPECS)
    # (mark - entry) x quantity x multiplier: +31,000 - 14 - 6,900 - 28,000
    pnl = 100 * 10 * 31 + (41_999 - 42_000) * 14 + 23 * -3 * 100 + (42_000 - 41_000) * -2 * 14
    assert summary.unrealized_pnl_sats == pnl == -3_914 == unrealized_pnl_sats(state, MARKS, SPECS)
    assert summary.initial_margin_sats == 2_092_500 + 88_198 + 585_897 + 476_000
    assert summary.maintenance_margin_sats == 1_395_000 + 58_799 + 405_621 + 476_000


def test_open_orders_add_order_margin_but_not_to_the_status():
    buy = order("alice", HP, "buy", 10, "45100")
    state = account(2_100_000, orders=(buy,))
    summary = account_margin(state, MARKS, PARAMS, specs=SPECS)
    # 2,092,500 for 10 contracts + 31,000 paid above the mark + 10 x the taker fee of one contract
    # (699.05 up to 700: each fill's fee is rounded up on its own, so that is the most it can pay)
    assert summary.order_margin_sats == 2_092_500 + 38_000
    assert (summary.free_collateral_sats, summary.status) == (2_100_000 - 2_130_500, MarginStatus.HEALTHY)


def test_orders_on_both_sides_count_the_worse_side_only():
    held = position("alice", HP, 10, "45000")
    orders = (order("alice", HP, "buy", 2, "45000"), order("alice", HP, "sell", 25, "45000"))
    summary = account_margin(account(10_000_000, held, orders=orders), MARKS, PARAMS, specs=SPECS)
    fees = 2 * 698 + 25 * 698  # 5 bps of 45,000 x 31 is 697.5 a contract, rounded up
    # worst of long 12 (2,511,000) and short 15 (3,138,750), less the position's own 2,092,500
    assert summary.order_margin_sats == 3_138_750 - 2_092_500 + fees == 1_065_096


def test_a_position_without_a_mark_or_spec_is_a_bug():
    state = account(1, position("alice", HP, 1, "45000"))
    with pytest.raises(MissingMark, match="no mark"):
        account_margin(state, {}, PARAMS, specs=SPECS)
    with pytest.raises(MissingMark, match="contract spec"):
        account_margin(state, MARKS, PARAMS, specs={})


def test_a_position_with_another_multiplier_than_its_spec_is_a_bug():
    wrong = Position(account_id="alice", instrument_id=HP.symbol, multiplier=D(30))
    with pytest.raises(InvalidValue, match="multiplier"):
        account_margin(account(1, wrong), MARKS, PARAMS, specs=SPECS)


@pytest.mark.parametrize("mark", [D(0), D(-1), D("NaN")])
def test_a_mark_must_be_a_positive_number(mark):
    with pytest.raises(InvalidValue):
        initial_margin_sats(HP, 1, mark, PARAMS)


def test_an_account_state_holds_only_its_own_positions_and_orders_once():
    with pytest.raises(InvalidValue):
        account(1, position("bob", HP, 1, "45000"))
    with pytest.raises(InvalidValue):
        account(1, position("alice", HP, 1, "45000"), position("alice", HP, 2, "45000"))
    with pytest.raises(InvalidValue):
        account(1, orders=(order("bob", HP, "buy", 1, "45000"),))
    with pytest.raises(InvalidValue):
        account(1.0)

from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.margin import AccountState, MissingMark, account_margin
from hashedge.domain.margin_batch import RESULT_COLUMNS, margin_batch, positions_frame
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from trading_builders import BME, CAPPED, DIFF, HP, MARKS, SPECS, position, trade
from tests.hypothesis_profiles import examples

D = Decimal
HP_JAN = hashprice_monthly(2027, 1)
ALL_SPECS = SPECS | {HP_JAN.symbol: HP_JAN}
ALL_MARKS = MARKS | {HP_JAN.symbol: D(44_000)}
PARAMS = RiskParameters()


def price_for(spec, draw_int: int) -> str:
    return f"{draw_int / 100:.2f}" if spec is DIFF else str(draw_int)


@st.composite
def positions_of(draw, account_id: str):
    """Up to 5 positions, each built by 1-4 random fills (averages, partial closes, flips)."""
    chosen = draw(st.lists(st.sampled_from(list(ALL_SPECS.values())), max_size=5, unique_by=lambda s: s.symbol))
    positions = []
    for spec in chosen:
        held = Position(account_id=account_id, instrument_id=spec.symbol, multiplier=spec.multiplier)
        for _ in range(draw(st.integers(1, 4))):
            quantity = draw(st.integers(-1_000, 1_000).filter(bool))
            price = price_for(spec, draw(st.integers(1, 120_000) if spec is not DIFF else st.integers(1, 50_000)))
            buyer, seller = (account_id, "x") if quantity > 0 else ("x", account_id)
            held = held.apply(trade(spec, buyer, seller, abs(quantity), price))
        positions.append(held)
    return positions


@st.composite
def portfolios(draw):
    accounts = []
    for i in range(draw(st.integers(1, 8))):
        account_id = f"acct-{i}"
        collateral = draw(st.integers(-10**6, 10**10))
        accounts.append(AccountState(account_id=account_id, collateral_sats=collateral,
                                     positions=tuple(draw(positions_of(account_id)))))
    return accounts


marks_strategy = st.fixed_dictionaries({
    HP.symbol: st.integers(1, 200_000).map(D),
    HP_JAN.symbol: st.decimals(min_value=1, max_value=200_000, places=3),  # off the tick too
    BME.symbol: st.integers(1, 200_000).map(D),
    DIFF.symbol: st.integers(1, 50_000).map(lambda n: D(n) / 100),
    CAPPED.symbol: st.integers(1, 200_000).map(D),
})
params_strategy = st.builds(
    lambda im, mm_share: RiskParameters().with_changes({
        "margin.initial.hashprice_monthly": D(im) / 10_000,
        "margin.maintenance.hashprice_monthly": max(D(im * mm_share // 100) / 10_000, D("0.025")),
    }),
    st.integers(500, 10_000), st.integers(25, 100),
)


def assert_batch_equals_scalar(accounts, marks, params):
    frame, collateral = positions_frame(accounts)
    batch = margin_batch(frame, collateral, marks, params, specs=ALL_SPECS)
    assert list(batch.index) == sorted(a.account_id for a in accounts)
    for account in accounts:
        scalar = account_margin(account, marks, params, specs=ALL_SPECS)
        row = batch.loc[account.account_id]
        assert {c: row[c] for c in RESULT_COLUMNS} == {
            "collateral_sats": scalar.collateral_sats, "unrealized_pnl_sats": scalar.unrealized_pnl_sats,
            "equity_sats": scalar.equity_sats, "initial_margin_sats": scalar.initial_margin_sats,
            "maintenance_margin_sats": scalar.maintenance_margin_sats,
            "free_collateral_sats": scalar.free_collateral_sats, "status": scalar.status.value,
        }, account.account_id


@settings(max_examples=examples(300), deadline=None)
@given(portfolios(), marks_strategy, params_strategy)
def test_the_vectorized_margin_equals_the_scalar_margin_to_the_sat(accounts, marks, params):
    assert_batch_equals_scalar(accounts, marks, params)


def test_a_hand_built_sweep_gives_the_documented_figures():
    accounts = [
        AccountState(account_id="alice", collateral_sats=3_000_000, positions=(position("alice", HP, 10, "44900"),)),
        AccountState(account_id="bob", collateral_sats=1_364_000, positions=(position("bob", HP, -10, "45100"),)),
        AccountState(account_id="carol", collateral_sats=7),
    ]
    frame, collateral = positions_frame(accounts)
    batch = margin_batch(frame, collateral, MARKS, PARAMS, specs=SPECS)
    assert batch.loc["alice", "free_collateral_sats"] == 938_500
    assert batch.loc["bob", "equity_sats"] == 1_364_000 + 31_000  # 1,395,000 = maintenance margin
    assert list(batch["status"]) == ["healthy", "margin_call", "healthy"]
    assert_batch_equals_scalar(accounts, MARKS, PARAMS)


def test_an_empty_book_gives_every_account_its_collateral():
    frame, collateral = positions_frame([AccountState(account_id="a", collateral_sats=5)])
    batch = margin_batch(frame, collateral, MARKS, PARAMS, specs=SPECS)
    assert batch.loc["a"].tolist() == [5, 0, 5, 0, 0, 5, "healthy"]


def test_amounts_beyond_int64_stay_exact():
    huge = [AccountState(account_id="whale", collateral_sats=2**70,
                         positions=(position("whale", HP, 10**15, "45000"), position("whale", BME, -10**15, "41000")))]
    assert_batch_equals_scalar(huge, MARKS, PARAMS)


def test_positions_need_marks_specs_collateral_and_the_columns():
    frame, collateral = positions_frame([AccountState(account_id="a", collateral_sats=5,
                                                      positions=(position("a", HP, 1, "45000"),))])
    with pytest.raises(MissingMark):
        margin_batch(frame, collateral, {}, PARAMS, specs=SPECS)
    with pytest.raises(MissingMark):
        margin_batch(frame, collateral, MARKS, PARAMS, specs={})
    with pytest.raises(InvalidValue, match="no collateral"):
        margin_batch(frame, {}, MARKS, PARAMS, specs=SPECS)
    with pytest.raises(InvalidValue, match="columns"):
        margin_batch(frame.drop(columns=["open_value"]), collateral, MARKS, PARAMS, specs=SPECS)
    with pytest.raises(InvalidValue):
        margin_batch(frame, {"a": 5.0}, MARKS, PARAMS, specs=SPECS)
    with pytest.raises(InvalidValue, match="open_value"):
        margin_batch(frame.assign(open_value=[45_000.0]), collateral, MARKS, PARAMS, specs=SPECS)
    with pytest.raises(InvalidValue, match="quantity"):
        margin_batch(frame.assign(quantity=[1.5]), collateral, MARKS, PARAMS, specs=SPECS)


def test_a_frame_read_from_storage_with_numpy_ints_works():
    frame = pd.DataFrame({"account_id": ["a", "a"], "instrument_id": [HP.symbol, DIFF.symbol],
                          "quantity": pd.array([10, -3], dtype="int64"), "open_value": [D(449_000), D("-450.69")]})
    collateral = pd.Series({"a": 3_000_000}, dtype="int64")
    batch = margin_batch(frame, collateral, MARKS, PARAMS, specs=SPECS)
    assert batch.loc["a", "unrealized_pnl_sats"] == 31_000 + 0  # DIFF entered at the mark
    assert batch.loc["a", "initial_margin_sats"] == 2_092_500 + 585_897

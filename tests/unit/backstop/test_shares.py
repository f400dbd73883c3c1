"""Pool share arithmetic: exact, rounding against the LP, and NAV per share never moved by LPs
coming or going (hypothesis, derandomized by the suite's profile)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.backstop.shares import PoolInsolvent, PoolValue, payout_for_shares, shares_for_deposit
from hashedge.domain.errors import InvalidValue


def test_the_first_deposit_mints_one_share_per_sat_and_later_ones_round_down():
    assert shares_for_deposit(1_000, PoolValue(0, 0)) == 1_000
    assert shares_for_deposit(1_000, PoolValue(nav_sats=3_000, shares_outstanding=2_000)) == 666
    assert payout_for_shares(666, PoolValue(nav_sats=4_000, shares_outstanding=2_666)) == 999


def test_errors():
    with pytest.raises(PoolInsolvent):
        shares_for_deposit(10, PoolValue(nav_sats=0, shares_outstanding=5))
    with pytest.raises(PoolInsolvent):
        payout_for_shares(1, PoolValue(nav_sats=-3, shares_outstanding=5))
    with pytest.raises(InvalidValue, match="less than one share"):
        shares_for_deposit(1, PoolValue(nav_sats=10, shares_outstanding=1))
    with pytest.raises(InvalidValue, match="exceeds"):
        payout_for_shares(6, PoolValue(nav_sats=10, shares_outstanding=5))


movements = st.lists(st.tuples(st.booleans(), st.integers(1, 10**9)), min_size=1, max_size=40)


@given(start_nav=st.integers(1, 10**12), start_shares=st.integers(1, 10**12), moves=movements)
def test_nav_per_share_never_falls_when_lps_come_and_go_and_money_is_conserved(start_nav, start_shares, moves):
    nav, shares, paid_in, paid_out = start_nav, start_shares, 0, 0
    for deposit, amount in moves:
        before = Fraction(nav, shares)
        if deposit:
            if amount * shares < nav:  # less than a share: refused
                continue
            minted = shares_for_deposit(amount, PoolValue(nav, shares))
            nav, shares, paid_in = nav + amount, shares + minted, paid_in + amount
        else:
            burnt = amount % shares or 1
            if burnt == shares:
                continue  # the last share stays (the pool keeps a price)
            out = payout_for_shares(burnt, PoolValue(nav, shares))
            nav, shares, paid_out = nav - out, shares - burnt, paid_out + out
        assert Fraction(nav, shares) >= before
    assert nav == start_nav + paid_in - paid_out

"""The protection contract, its premium and its seller's collateral: exact figures worked by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.protection import (
    ProtectionContract,
    accrual_days,
    accrued_premium_sats,
    collateral_required_sats,
    collateral_transfer_sats,
    next_cds_date,
    premium_due_sats,
)

D = Decimal


def contract(**changes) -> ProtectionContract:
    fields = dict(contract_id="P1", buyer_account_id="1", seller_account_id="3", reference_account_id="2",
                  reference_instrument_id=None, notional_sats=100_000_000, premium_bps=D(250), upfront_sats=0,
                  trade_date=date(2026, 12, 1), maturity_date=date(2027, 3, 20), settlement="cash")
    return ProtectionContract(**(fields | changes))


def test_the_next_cds_date_is_strictly_after_the_day():
    assert next_cds_date(date(2027, 3, 20)) == date(2027, 6, 20)
    assert next_cds_date(date(2027, 12, 21)) == date(2028, 3, 20)


def test_a_contract_refuses_a_maturity_off_the_cds_dates_and_a_reference_that_is_a_party():
    with pytest.raises(InvalidValue, match="standard CDS date"):
        contract(maturity_date=date(2027, 3, 21))
    with pytest.raises(InvalidValue, match="third party"):
        contract(reference_account_id="3")
    with pytest.raises(InvalidValue, match="buyer's own"):
        contract(reference_instrument_id="HP-2026-12")
    with pytest.raises(InvalidValue, match="positive"):
        contract(notional_sats=0)
    with pytest.raises(InvalidValue, match="premium_bps"):
        contract(premium_bps=D(-1))


def test_protection_starts_the_day_after_the_trade_and_ends_on_the_maturity_date_included():
    c = contract()
    assert c.effective_date == date(2026, 12, 2)
    assert not c.covers(date(2026, 12, 1)) and c.covers(date(2026, 12, 2)) and c.covers(date(2027, 3, 20))
    assert not c.covers(date(2027, 3, 21))
    assert accrual_days(c, date(2026, 12, 1)) == 0 and accrual_days(c, date(2026, 12, 2)) == 1
    assert accrual_days(c, date(2027, 12, 1)) == 109  # 2 Dec .. 20 Mar: 30 + 31 + 28 + 20


def test_premium_accrues_act_360_and_each_night_pays_the_rounded_down_difference():
    # 1 BTC at 250 bps: 100,000,000 x 250 / 3,600,000 = 6,944.44... sats a day
    c = contract()
    assert accrued_premium_sats(c, date(2026, 12, 2)) == 6_944
    assert accrued_premium_sats(c, date(2026, 12, 3)) == 13_888
    assert accrued_premium_sats(c, date(2026, 12, 4)) == 20_833  # the remainders made a sat
    days = [c.effective_date + timedelta(days=n) for n in range(109)]
    paid = [premium_due_sats(c, None if n == 0 else days[n - 1], day) for n, day in enumerate(days)]
    assert paid[:3] == [6_944, 6_944, 6_945]
    assert sum(paid) == 100_000_000 * 250 * 109 // 3_600_000 == 756_944  # the exact total, rounded down once
    assert premium_due_sats(c, days[-1], days[-1] + timedelta(days=5)) == 0  # nothing after maturity


@given(notional=st.integers(1, 10**12), bps=st.decimals(0, 5000, places=2),
       cuts=st.lists(st.integers(0, 120), max_size=8))
def test_paying_on_any_schedule_of_nights_pays_the_same_total_and_never_loses_a_sat(notional, bps, cuts):
    c = contract(notional_sats=notional, premium_bps=bps)
    nights = sorted({c.effective_date + timedelta(days=n) for n in cuts} | {c.maturity_date})
    paid, before = 0, None
    for night in nights:
        paid += premium_due_sats(c, before, night)
        before = night
    exact_total = notional * bps * 109 / D(3_600_000)
    assert paid == accrued_premium_sats(c, c.maturity_date) == int(exact_total // 1)
    assert 0 <= exact_total - paid < 1


def test_the_seller_posts_the_governed_ratio_raised_to_the_mark_but_never_more_than_the_notional():
    assert collateral_required_sats(100_000_001, D("0.5")) == 50_000_001  # rounded up
    assert collateral_required_sats(100_000_000, D("0.5"), 70_000_000) == 70_000_000
    assert collateral_required_sats(100_000_000, D("0.5"), 130_000_000) == 100_000_000
    assert collateral_transfer_sats(50_000_000, 70_000_000) == 20_000_000
    assert collateral_transfer_sats(70_000_000, 50_000_000) == -20_000_000
    with pytest.raises(InvalidValue):
        collateral_required_sats(100, D("1.5"))

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.settlement import (
    DAILY_FIXING,
    RETARGET_FIXING,
    ConflictingFixings,
    MissingFixings,
    capped_payouts_sats,
    daily_fixing_times,
    final_payoff_sats,
    final_price,
    round_to_tick,
    settlement_price,
)
from trading_builders import BME, CAPPED, DIFF, HP, Fixing, position

D = Decimal
UTC = timezone.utc


def december_fixings(first: str = "45000.123456", step: int = 1) -> list[Fixing]:
    """HASHPRICE daily fixings for the days of December 2026: first, first + step, ..."""
    return [Fixing("HASHPRICE", DAILY_FIXING, datetime(2026, 12, 2, tzinfo=UTC) + timedelta(days=i), D(first) + step * i)
            for i in range(31)]


def test_a_month_is_settled_by_the_fixings_as_of_each_closing_midnight():
    times = daily_fixing_times(HP.window)
    assert (len(times), times[0], times[-1]) == (31, datetime(2026, 12, 2, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def test_the_monthly_settlement_is_the_mean_of_the_daily_fixings_rounded_to_the_tick():
    # mean = 45000.123456 + (0 + ... + 30) / 31 = 45015.123456 -> 45015
    assert settlement_price(HP, december_fixings()) == D(45015)


def test_fixings_of_other_indices_kinds_and_days_are_ignored():
    noise = [Fixing("BME14", DAILY_FIXING, datetime(2026, 12, 5, tzinfo=UTC), D(1)),
             Fixing("HASHPRICE", RETARGET_FIXING, datetime(2026, 12, 5, 3, tzinfo=UTC), D(1)),
             Fixing("HASHPRICE", DAILY_FIXING, datetime(2026, 12, 1, tzinfo=UTC), D(1)),
             Fixing("HASHPRICE", DAILY_FIXING, datetime(2027, 1, 2, tzinfo=UTC), D(1))]
    assert settlement_price(HP, noise + december_fixings()) == D(45015)


def test_a_missing_day_is_named_in_the_error():
    fixings = [f for f in december_fixings() if f.as_of not in (datetime(2026, 12, 6, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))]
    with pytest.raises(MissingFixings) as caught:
        settlement_price(HP, fixings)
    assert [d.isoformat() for d in caught.value.missing] == ["2026-12-05", "2026-12-31"]
    assert "2026-12-05, 2026-12-31" in str(caught.value) and "HP-2026-12" in str(caught.value)


def test_two_different_values_for_one_fixing_are_refused():
    fixings = december_fixings() + [Fixing("HASHPRICE", DAILY_FIXING, datetime(2026, 12, 2, tzinfo=UTC), D(1))]
    with pytest.raises(ConflictingFixings):
        settlement_price(HP, fixings)


def test_a_repeated_identical_fixing_is_harmless():
    assert settlement_price(HP, december_fixings() + december_fixings()[:3]) == D(45015)


def test_rounding_to_the_tick_is_half_even():
    assert [round_to_tick(HP, Fraction(2 * n + 1, 2)) for n in (45015, 45016)] == [D(45016), D(45016)]
    assert round_to_tick(DIFF, Fraction(150235, 1000)) == D("150.24")
    assert round_to_tick(DIFF, Fraction(150225, 1000)) == D("150.22")


def test_a_bme_contract_settles_on_the_retarget_fixing_converted_to_sats_per_ph_day():
    # 0.000000419876543210 BTC/TH/day x 10**11 = 41987.654321 sats/PH/day -> 41988
    fixing = Fixing("BME14", RETARGET_FIXING, datetime(2026, 12, 30, 9, 13, tzinfo=UTC), D("0.000000419876543210"), 420 * 2016)
    other_epoch = Fixing("BME14", RETARGET_FIXING, datetime(2026, 12, 16, tzinfo=UTC), D("0.0000005"), 419 * 2016)
    assert settlement_price(BME, [other_epoch, fixing]) == D(41988)
    assert settlement_price(CAPPED, [fixing]) == D(41988)


def test_a_diff_contract_settles_on_the_difficulty_in_t_units():
    fixing = Fixing("DIFF", RETARGET_FIXING, datetime(2027, 1, 13, tzinfo=UTC), D("150234567890123.45678901"), 421 * 2016)
    assert settlement_price(DIFF, [fixing]) == D("150.23")


def test_a_missing_retarget_fixing_names_the_height():
    wrong_height = Fixing("DIFF", RETARGET_FIXING, datetime(2027, 1, 13, tzinfo=UTC), D(1), 421 * 2016 + 1)
    with pytest.raises(MissingFixings, match="height 848736") as caught:
        settlement_price(DIFF, [wrong_height])
    assert caught.value.missing == (848_736,)


def test_real_fixing_records_from_the_index_service_settle_contracts():
    from indices.fixings import DAILY, RETARGET, compute_fixings
    from indices.sources.simulator import simulate_chain
    from hashedge.domain.instruments import Product, epoch_future, hashprice_monthly

    assert (DAILY, RETARGET) == (DAILY_FIXING, RETARGET_FIXING)
    fixings = compute_fixings(simulate_chain(10_000, seed=3), None, names=["DIFF", "BME14", "HASHPRICE"])
    month = hashprice_monthly(2009, 2)
    days = [f.value for f in fixings if f.index == "HASHPRICE" and f.kind == DAILY
            and month.window.start < f.as_of <= month.window.end]
    assert len(days) == 28
    assert settlement_price(month, fixings) == D(round(sum(map(Fraction, days)) / 28))
    diff = epoch_future(Product.DIFF_EPOCH, 2, last_trading_time=month.window.start)
    (retarget,) = [f for f in fixings if f.index == "DIFF" and f.kind == RETARGET and f.end_height == 4032]
    assert settlement_price(diff, fixings) == round_to_tick(diff, Fraction(retarget.value) / 10**12)


def test_the_final_payoff_is_what_the_position_realizes_at_expiry():
    long = position("alice", HP, 10, "45000")
    assert final_payoff_sats(HP, 10, D(45000), D(45015)) == 15 * 31 * 10 == 4_650
    assert long.expire(final_price(HP, D(45015))).realized_pnl_sats == 4_650
    assert final_payoff_sats(HP, -10, D(45000), D(45015)) == -4_650


def test_a_capped_contract_pays_within_its_range():
    assert final_price(CAPPED, D(70_000)) == D(59_000) and final_price(CAPPED, D(10_000)) == D(25_000)
    assert final_payoff_sats(CAPPED, 2, D(42_000), D(70_000)) == (59_000 - 42_000) * 14 * 2
    assert capped_payouts_sats(CAPPED, 2, D(41_988)) == ((41_988 - 25_000) * 28, (59_000 - 41_988) * 28)


@given(st.integers(1, 60_000), st.integers(0, 10_000))
def test_capped_payouts_always_sum_to_the_range(settlement, quantity):
    long, short = capped_payouts_sats(CAPPED, quantity, D(settlement))
    assert long + short == (59_000 - 25_000) * 14 * quantity and min(long, short) >= 0


@given(st.integers(25_000, 59_000), st.integers(1, 60_000), st.integers(1, 1_000))
def test_a_capped_long_and_short_lose_at_most_what_they_posted(entry, settlement, quantity):
    long = final_payoff_sats(CAPPED, quantity, D(entry), D(settlement))
    short = final_payoff_sats(CAPPED, -quantity, D(entry), D(settlement))
    assert long + short == 0
    assert long >= -(entry - 25_000) * 14 * quantity and short >= -(59_000 - entry) * 14 * quantity


def test_payouts_need_a_capped_contract_and_a_whole_quantity():
    with pytest.raises(InvalidValue):
        capped_payouts_sats(BME, 1, D(1))
    with pytest.raises(InvalidValue):
        final_payoff_sats(HP, 1.0, D(1), D(2))

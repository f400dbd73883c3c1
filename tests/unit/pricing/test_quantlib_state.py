"""QuantLib's global evaluation date: set inside each call, restored after, never leaked."""

import datetime as dt
import threading

import pytest
import QuantLib as ql

from pricing import price_cds, protection_premium
from pricing.quantlib_bridge import evaluation_date, from_ql_date, to_ql_date

SPREADS = {"1Y": 0.007, "5Y": 0.013}


def value(trade_date):
    return price_cds(trade_date=trade_date, maturity="5Y", notional=1e7, running_spread=0.01,
                     par_spreads=SPREADS, discount_rate=0.03)


def test_results_do_not_depend_on_the_order_of_calls():
    first, second = dt.date(2024, 11, 15), dt.date(2021, 3, 1)
    a1, b1 = value(first), value(second)
    b2, a2 = value(second), value(first)
    assert (a1, b1) == (a2, b2)


def test_the_callers_evaluation_date_is_restored():
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    try:
        settings.evaluationDate = ql.Date(1, 1, 2001)
        value(dt.date(2024, 11, 15))
        protection_premium(equity_sats=2e6, notional_sats=1e7, daily_vol=0.03,
                           trade_date=dt.date(2022, 6, 1))
        assert settings.evaluationDate == ql.Date(1, 1, 2001)
    finally:
        settings.evaluationDate = previous


def test_a_stray_global_date_does_not_change_a_result():
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    baseline = value(dt.date(2024, 11, 15))
    try:
        settings.evaluationDate = ql.Date(20, 3, 2030)
        assert value(dt.date(2024, 11, 15)) == baseline
    finally:
        settings.evaluationDate = previous


def test_concurrent_calls_with_different_dates_match_sequential_ones():
    dates = [dt.date(2020, 1, 15) + dt.timedelta(days=97 * i) for i in range(8)]
    expected = {d: value(d) for d in dates}
    seen = {}

    def work(day):
        for _ in range(5):
            seen[day] = value(day)

    threads = [threading.Thread(target=work, args=(d,)) for d in dates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == expected


def test_dates_convert_exactly_across_quantlibs_whole_range():
    day, last = dt.date(1901, 1, 1), dt.date(2199, 12, 31)
    while day <= last:
        converted = to_ql_date(day)
        assert converted == ql.Date(day.day, day.month, day.year)
        assert from_ql_date(converted) == day
        day += dt.timedelta(days=1)


def test_dates_outside_quantlibs_range_are_refused():
    for day in (dt.date(1900, 12, 31), dt.date(2200, 1, 1)):
        with pytest.raises(RuntimeError, match="outside allowed range"):
            to_ql_date(day)


def test_a_failed_valuation_restores_the_date_and_frees_the_lock():
    settings = ql.Settings.instance()
    before = settings.evaluationDate
    with pytest.raises(ZeroDivisionError):
        with evaluation_date(dt.date(2024, 11, 15)) as today:
            assert settings.evaluationDate == today == ql.Date(15, 11, 2024)
            1 / 0
    assert settings.evaluationDate == before
    other = threading.Thread(target=value, args=(dt.date(2023, 1, 10),))
    other.start()
    other.join(timeout=30)
    assert not other.is_alive()  # the lock was released: another thread could value

"""Model values from the forward path as prices: epoch futures and monthly hashprice (domain.marks)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain.errors import InvalidValue
from hashedge.domain.marks import epoch_forward_price, hashprice_monthly_forward_price, mark_price
from hashedge.domain.settlement import daily_fixing_times, settlement_price
from indices.fixings import FixingValue
from trading_builders import BME, CAPPED, DIFF, HP

D = Decimal
UTC = timezone.utc


def retarget(index: str, end_height: int, value: str) -> FixingValue:
    return FixingValue(index=index, kind="retarget", as_of=datetime(2026, 11, 1, tzinfo=UTC), value=D(value),
                       unit="-", methodology_version="1", start_height=end_height, end_height=end_height,
                       confirmations=6, input_digest="0" * 64)


def daily(as_of: datetime, value: Decimal) -> FixingValue:
    return FixingValue(index="HASHPRICE", kind="daily", as_of=as_of, value=value, unit="sats/PH/day",
                       methodology_version="1", start_height=1, end_height=2, confirmations=6,
                       input_digest="0" * 64)


# --- epoch futures -------------------------------------------------------------------------------

def test_an_epoch_future_marks_at_its_predicted_settlement_fixing():
    assert epoch_forward_price(BME, predicted_index_value=4.19876543210e-7) == D(41_988)
    assert epoch_forward_price(DIFF, predicted_index_value=1.5023456789e14) == D("150.23")
    assert epoch_forward_price(DIFF, predicted_index_value=None) is None


def test_once_the_settlement_fixing_is_published_the_model_is_the_settlement_price():
    # DIFF-E421 settles on the DIFF retarget fixing at height 421 x 2016 = 848,736
    fixings = [retarget("DIFF", 848_736, "150235000000000.5"), retarget("DIFF", 846_720, "1")]
    price = epoch_forward_price(DIFF, predicted_index_value=9e14, retarget_fixings=fixings)
    assert price == settlement_price(DIFF, fixings) == D("150.24")
    assert epoch_forward_price(DIFF, predicted_index_value=None, retarget_fixings=fixings) == D("150.24")
    # another height, or another index, does not settle it
    assert epoch_forward_price(DIFF, predicted_index_value=9e14,
                               retarget_fixings=[retarget("DIFF", 846_720, "1e14")]) == D("900.00")
    assert epoch_forward_price(BME, predicted_index_value=4e-7,
                               retarget_fixings=[retarget("DIFF", 846_720, "1e14")]) == D(40_000)


def test_a_capped_contract_marks_at_its_fixing_then_is_clamped_like_its_final_price():
    fixings = [retarget("BME14", 420 * 2016, "0.00000070")]  # 70,000 sats/PH/day, above the 59,000 cap
    model = epoch_forward_price(CAPPED, predicted_index_value=4e-7, retarget_fixings=fixings)
    assert model == D(70_000)
    assert mark_price(CAPPED, model_price=model).price == D(59_000)


def test_the_epoch_rule_needs_an_epoch_contract():
    with pytest.raises(InvalidValue):
        epoch_forward_price(HP, predicted_index_value=45_000)


# --- monthly hashprice -----------------------------------------------------------------------------

def test_published_days_count_at_their_fixing_and_the_rest_at_the_prediction():
    times = daily_fixing_times(HP.window)
    known = {t: D(46_000) for t in times[:9]}  # Dec 1-9 fixed
    asked = []

    def predicted_mean(moments):
        asked.append(list(moments))
        return 45_000.0

    price = hashprice_monthly_forward_price(HP, window_fixings=known, predicted_mean=predicted_mean)
    assert price == D(45_290)  # (9 x 46,000 + 22 x 45,000) / 31 = 45,290.32
    assert asked == [times[9:]]  # only the days not fixed, once


def test_a_fully_fixed_month_marks_at_its_settlement_price():
    times = daily_fixing_times(HP.window)
    values = {t: D(45_000) + i for i, t in enumerate(times)}  # mean 45,015
    values[times[0]] = D("45000.5")  # mean 45,015.016...

    def never(_moments):
        raise AssertionError("nothing to predict")

    price = hashprice_monthly_forward_price(HP, window_fixings=values, predicted_mean=never)
    assert price == settlement_price(HP, [daily(t, v) for t, v in values.items()]) == D(45_015)
    assert hashprice_monthly_forward_price(HP, window_fixings=values, predicted_mean=None) == D(45_015)


def test_a_month_with_days_missing_and_no_prediction_has_no_model():
    times = daily_fixing_times(HP.window)
    assert hashprice_monthly_forward_price(HP, window_fixings={times[0]: D(1)}, predicted_mean=None) is None


def test_the_monthly_rule_needs_a_monthly_contract_and_a_positive_prediction():
    with pytest.raises(InvalidValue):
        hashprice_monthly_forward_price(BME, window_fixings={}, predicted_mean=lambda _m: 1.0)
    with pytest.raises(InvalidValue):
        hashprice_monthly_forward_price(HP, window_fixings={}, predicted_mean=lambda _m: float("nan"))
    stray = {datetime(2026, 11, 30, tzinfo=UTC) + timedelta(days=40): D(1)}  # outside the window: ignored
    assert hashprice_monthly_forward_price(HP, window_fixings=stray, predicted_mean=lambda _m: 44_000.4) == D(44_000)

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain.denials import RejectReason
from hashedge.domain.errors import InvalidValue
from hashedge.domain.marks import (
    MarkSource,
    NoMark,
    epoch_model_price,
    hashprice_monthly_model_price,
    mark_price,
    otc_price_check,
    price_band,
)
from hashedge.domain.parameters import MarkAnchoring, RiskParameters
from trading_builders import BME, CAPPED, DIFF, HP

D = Decimal
UTC = timezone.utc
CLIPPED, MID, MODEL_ONLY = MarkAnchoring.MODEL_CLIPPED_TO_BOOK, MarkAnchoring.BOOK_MID, MarkAnchoring.MODEL_ONLY


@pytest.mark.parametrize("anchoring, model, bid, ask, previous, price, source", [
    (CLIPPED, "45000.4", None, None, None, "45000", MarkSource.MODEL),
    (CLIPPED, "45000.5", None, None, None, "45000", MarkSource.MODEL),  # half-even
    (CLIPPED, "45001.5", None, None, None, "45002", MarkSource.MODEL),
    (CLIPPED, "45010", "45000", "45020", None, "45010", MarkSource.MODEL_IN_BOOK),
    (CLIPPED, "44990", "45000", "45020", None, "45000", MarkSource.BID),
    (CLIPPED, "45030", "45000", "45020", None, "45020", MarkSource.ASK),
    (CLIPPED, "44990", "45000", None, None, "44990", MarkSource.MODEL),  # one-sided: no anchor
    (CLIPPED, None, "45000", "45021", None, "45010", MarkSource.MID),  # 45,010.5 half-even
    (CLIPPED, None, "45000", None, "44000", "44000", MarkSource.PREVIOUS),
    (MID, "44000", "45000", "45021", None, "45010", MarkSource.MID),
    (MID, "44000", None, "45021", None, "44000", MarkSource.MODEL),
    (MODEL_ONLY, "44000", "45000", "45020", None, "44000", MarkSource.MODEL),
    (MODEL_ONLY, None, "45000", "45020", None, "45010", MarkSource.MID),
])
def test_the_mark_rule(anchoring, model, bid, ask, previous, price, source):
    mark = mark_price(HP, model_price=None if model is None else D(model), best_bid=None if bid is None else D(bid),
                      best_ask=None if ask is None else D(ask), anchoring=anchoring,
                      previous_mark=None if previous is None else D(previous))
    assert (mark.price, mark.source, mark.instrument_id) == (D(price), source, "HP-2026-12")


def test_a_mark_is_always_on_the_tick_and_inside_a_two_sided_book():
    mark = mark_price(DIFF, model_price=D("150.23456"), best_bid=D("150.10"), best_ask=D("150.30"))
    assert (mark.price, mark.model_price) == (D("150.23"), D("150.23"))


def test_a_float_model_value_from_the_pricing_library_is_taken_through_its_repr():
    assert mark_price(HP, model_price=45000.7, best_bid=None, best_ask=None).price == D(45001)


def test_a_capped_mark_stays_inside_the_range():
    assert mark_price(CAPPED, model_price=D(70_000), best_bid=None, best_ask=None).price == D(59_000)
    assert mark_price(CAPPED, model_price=D(1_000), best_bid=None, best_ask=None).price == D(25_000)


def test_nothing_to_mark_with_is_an_error():
    with pytest.raises(NoMark):
        mark_price(HP, model_price=None, best_bid=D(1), best_ask=None)


@pytest.mark.parametrize("bid, ask", [("45000", "45000"), ("45001", "45000")])
def test_a_crossed_or_locked_book_is_refused(bid, ask):
    with pytest.raises(InvalidValue):
        mark_price(HP, model_price=D(45_000), best_bid=D(bid), best_ask=D(ask))


@pytest.mark.parametrize("model", [D(0), D(-5), float("nan"), True])
def test_a_model_value_must_be_a_positive_number(model):
    with pytest.raises(InvalidValue):
        mark_price(HP, model_price=model, best_bid=None, best_ask=None)


def test_epoch_model_prices_convert_the_predicted_fixing_to_the_quote_unit():
    assert epoch_model_price(BME, 4.19876543210e-7) == D(41_988)  # 41,987.654321 sats/PH/day
    assert epoch_model_price(DIFF, 1.5023456789e14) == D("150.23")


def test_the_monthly_model_averages_known_days_and_projects_the_rest_flat():
    known = {datetime(2026, 12, 2, tzinfo=UTC) + timedelta(days=i): D(46_000) for i in range(9)}  # Dec 1-9
    price = hashprice_monthly_model_price(HP, latest_fixing_sats_per_phd=D(45_000),
                                          latest_fixing_at=datetime(2026, 12, 10, tzinfo=UTC), window_fixings=known)
    assert price == D(45_290)  # (9 x 46,000 + 22 x 45,000) / 31 = 45,290.32


def test_the_monthly_model_discounts_future_days_by_difficulty_growth():
    start = datetime(2026, 12, 1, tzinfo=UTC)
    price = hashprice_monthly_model_price(HP, latest_fixing_sats_per_phd=D(45_000), latest_fixing_at=start,
                                          growth_per_epoch=0.02)
    expected = sum(45_000 * 1.02 ** (-day / 14) for day in range(1, 32)) / 31  # about 43,941
    assert price == D(round(expected))
    assert price < D(45_000)


def test_the_monthly_model_needs_a_monthly_contract_and_a_sane_growth():
    with pytest.raises(InvalidValue):
        hashprice_monthly_model_price(BME, latest_fixing_sats_per_phd=D(1), latest_fixing_at=datetime(2026, 12, 1, tzinfo=UTC))
    with pytest.raises(InvalidValue):
        hashprice_monthly_model_price(HP, latest_fixing_sats_per_phd=D(1), latest_fixing_at=datetime(2026, 12, 1, tzinfo=UTC),
                                      growth_per_epoch=5.0)


def test_the_otc_band_is_rounded_inwards_to_the_tick():
    assert price_band(HP, D(45_000), D("0.05")) == (D(42_750), D(47_250))
    assert price_band(DIFF, D("150.23"), D("0.05")) == (D("142.72"), D("157.74"))


def test_a_block_trade_price_must_be_on_the_tick_and_within_the_band():
    params = RiskParameters()
    assert otc_price_check(HP, D(47_250), D(45_000), params) is None
    outside = otc_price_check(HP, D(47_251), D(45_000), params)
    assert (outside.reason, outside.field) == (RejectReason.PRICE_INVALID, "price")
    assert "42750 to 47250" in outside.message and "5%" in outside.message
    assert otc_price_check(HP, D("45000.5"), D(45_000), params).reason is RejectReason.PRICE_NOT_ON_TICK

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from hashedge.domain.denials import RejectReason
from hashedge.domain.errors import InvalidValue
from hashedge.domain.marks import (
    MarkSource,
    NoMark,
    epoch_model_price,
    hashprice_monthly_model_price,
    limit_price_check,
    mark_price,
    otc_price_check,
    price_band,
)
from hashedge.domain.parameters import RiskParameters
from trading_builders import BME, CAPPED, DIFF, HP

D = Decimal
UTC = timezone.utc


# HP (December 2026) is 31 PH-days a contract: 0.5 BTC of depth at 45,000 is 35.84 contracts.
DEEP = 40  # contracts: 55,800,000 sats at 45,000, above the 50,000,000 minimum
SHALLOW = 34  # 47,430,000 sats at 45,000 (49,802,500 at the band's top, 47,250): below it


def mark(model, bids=(), asks=(), trades=(), previous=None, previous_model=None, **changes):
    params = RiskParameters().with_changes({k.replace("__", "."): v for k, v in changes.items()})
    return mark_price(HP, model_price=None if model is None else D(model),
                      bids=[(D(p), q) for p, q in bids], asks=[(D(p), q) for p, q in asks],
                      trades=[(D(p), q) for p, q in trades],
                      previous_mark=None if previous is None else D(previous),
                      previous_model=None if previous_model is None else D(previous_model), params=params)


@pytest.mark.parametrize("model, price", [("45000.4", "45000"), ("45000.5", "45000"), ("45001.5", "45002")])
def test_the_model_rounds_half_even_to_the_tick(model, price):
    assert (mark(model).price, mark(model).source) == (D(price), MarkSource.MODEL)


def test_the_attack_of_the_issue_moves_nothing():
    """A one-lot 20,000 / 20,001 quote around a model of 31,967 (issue #10): outside the band, and
    far too small anyway."""
    attacked = mark("31967", bids=[("20000", 1)], asks=[("20001", 1)])
    assert (attacked.price, attacked.source, attacked.book_price) == (D(31967), MarkSource.MODEL, None)


@pytest.mark.parametrize("bid, ask", [("44000", "44100"), ("42750", "42751"), ("47249", "47250")])
def test_a_quote_of_a_few_lots_anywhere_in_the_band_moves_no_mark(bid, ask):
    for lots in (1, 5, SHALLOW):
        result = mark("45000", bids=[(bid, lots)], asks=[(ask, lots)])
        assert (result.price, result.source) == (D(45000), MarkSource.MODEL), (bid, ask, lots)


def test_deep_two_sided_depth_clips_the_model_into_the_robust_spread():
    inside = mark("45000", bids=[("44900", DEEP)], asks=[("45100", DEEP)])
    assert (inside.price, inside.source, inside.book_price) == (D(45000), MarkSource.MODEL, D(45000))
    # the model above the whole ask depth: marked at the robust ask (the premium already there)
    above = mark("45000", bids=[("44100", DEEP)], asks=[("44300", DEEP)], previous="44300", previous_model="45000")
    assert (above.price, above.source, above.book_price) == (D(44300), MarkSource.BOOK, D(44300))


def test_the_robust_price_weights_exactly_the_minimum_notional():
    # asks: 20 at 44,000 (27,280,000 sats), then 44,500: 22,720,000 sats more = 16.469... contracts
    result = mark("46000", bids=[("43800", DEEP)], asks=[("44000", 20), ("44500", 100)], mark__band_ratio=D("0.1"),
                  mark__book_band_ratio=D("0.05"), mark__max_change_ratio=D("0.25"))
    taken = Fraction(22_720_000, 44_500 * 31)
    expected = (20 * 44_000 + taken * 44_500) / (20 + taken)
    assert result.book_price == D(round(expected))
    assert result.price == D(round(expected)) and result.source is MarkSource.BOOK


def test_one_qualifying_side_is_not_a_book():
    result = mark("45000", bids=[("44900", 1000)], asks=[("45500", 1)])
    assert (result.price, result.source, result.book_price) == (D(45000), MarkSource.MODEL, None)


def test_depth_outside_the_book_band_does_not_count():
    # 5% band around 45,000: [42,750, 47,250]; the deep bid at 42,749 is outside
    result = mark("45000", bids=[("44990", 5), ("42749", 1000)], asks=[("45010", DEEP)])
    assert result.book_price is None and result.price == D(45000)


def test_the_mark_never_leaves_the_mark_band_and_changes_by_at_most_max_change():
    deep_low = dict(bids=[("43200", DEEP)], asks=[("43300", DEEP)])  # robust spread 3.8% under the model
    first = mark("45000", **deep_low)
    assert (first.price, first.source) == (D(44550), MarkSource.CHANGE_LIMIT)  # 1% of 45,000 from premium 0
    second = mark("45000", **deep_low, previous=first.price, previous_model="45000")
    assert (second.price, second.source) == (D(44100), MarkSource.CHANGE_LIMIT)
    settled = mark("45000", **deep_low, previous="43650", previous_model="45000")
    assert (settled.price, settled.source) == (D(43300), MarkSource.BOOK)  # reached the robust ask
    narrow = mark("45000", **deep_low, previous="43650", previous_model="45000", mark__band_ratio=D("0.03"))
    assert (narrow.price, narrow.source) == (D(43650), MarkSource.BAND)  # 3% of 45,000 is 1,350
    deeper = mark("45000", bids=[("42800", DEEP)], asks=[("42900", DEEP)], previous="43300", previous_model="45000")
    assert (deeper.price, deeper.source) == (D(43200), MarkSource.BAND)  # 4% of 45,000 is 1,800


def test_without_the_book_the_premium_decays_back_to_the_model_at_the_same_pace():
    back = mark("45000", previous="44100", previous_model="45000")  # the deep bids were pulled
    assert (back.price, back.source) == (D(44550), MarkSource.CHANGE_LIMIT)


def test_a_model_move_passes_through_unclamped():
    moved = mark("50000", previous="45000", previous_model="45000")
    assert (moved.price, moved.source) == (D(50000), MarkSource.MODEL)
    # a premium of -450 on the previous mark decays towards the new model by at most 1% a re-mark
    kept = mark("50000", previous="44550", previous_model="45000")
    assert (kept.price, kept.source) == (D(50000), MarkSource.MODEL)  # -450 + 500 covers it


def test_recent_trades_only_hold_the_book_back():
    book = dict(bids=[("44000", DEEP)], asks=[("44200", DEEP)], mark__max_change_ratio=D("0.25"))
    alone = mark("45000", **book)
    assert (alone.price, alone.source) == (D(44200), MarkSource.BOOK)
    between = mark("45000", **book, trades=[("44600", DEEP)])
    assert (between.price, between.source, between.trade_price) == (D(44600), MarkSource.TRADES, D(44600))
    beyond = mark("45000", **book, trades=[("43000", DEEP)])
    assert (beyond.price, beyond.source) == (D(44200), MarkSource.BOOK)
    other_side = mark("45000", **book, trades=[("46000", DEEP)])
    assert (other_side.price, other_side.source) == (D(45000), MarkSource.MODEL)
    thin = mark("45000", **book, trades=[("44600", SHALLOW)])
    assert (thin.price, thin.trade_price) == (D(44200), None)
    washed = mark("45000", trades=[("44600", 10_000)], mark__max_change_ratio=D("0.25"))  # no qualifying book
    assert (washed.price, washed.source) == (D(45000), MarkSource.MODEL)


@pytest.mark.parametrize("anchoring, price, source", [
    ("median", "44200", MarkSource.BOOK), ("model_clipped_to_book", "44200", MarkSource.BOOK),
    ("book_mid", "44100", MarkSource.BOOK), ("model_only", "45000", MarkSource.MODEL)])
def test_the_governed_anchorings(anchoring, price, source):
    result = mark("45000", bids=[("44000", DEEP)], asks=[("44200", DEEP)], mark__max_change_ratio=D("0.25"),
                  mark__anchoring=anchoring)
    assert (result.price, result.source) == (D(price), source)


def test_without_a_model_the_previous_mark_stands_and_a_new_contract_needs_a_deep_book():
    assert mark(None, bids=[("44000", DEEP)], asks=[("44200", DEEP)], previous="43000").price == D(43000)
    first = mark(None, bids=[("44000", DEEP)], asks=[("44201", DEEP)])
    assert (first.price, first.source) == (D(44100), MarkSource.MID)  # 44,100.5 half-even
    with pytest.raises(NoMark):
        mark(None, bids=[("44000", 1)], asks=[("44200", 1)])


def test_a_mark_is_always_on_the_tick():
    assert mark_price(DIFF, model_price=D("150.23456")).price == D("150.23")


def test_a_float_model_value_from_the_pricing_library_is_taken_through_its_repr():
    assert mark_price(HP, model_price=45000.7).price == D(45001)


def test_a_capped_mark_stays_inside_the_range():
    assert mark_price(CAPPED, model_price=D(70_000)).price == D(59_000)
    assert mark_price(CAPPED, model_price=D(1_000)).price == D(25_000)


def test_nothing_to_mark_with_is_an_error():
    with pytest.raises(NoMark):
        mark_price(HP, model_price=None, bids=[(D(1), 1)])


@pytest.mark.parametrize("bids, asks", [
    ([("45000", 1)], [("45000", 1)]), ([("45001", 1)], [("45000", 1)]),  # locked, crossed
    ([("45000", 1), ("45001", 1)], []), ([], [("45001", 1), ("45000", 1)]),  # not best first
    ([("45000", 0)], []), ([("45000", True)], []), ([("-1", 1)], [])])
def test_malformed_depth_is_refused(bids, asks):
    with pytest.raises(InvalidValue):
        mark_price(HP, model_price=D(45_000), bids=[(D(p), q) for p, q in bids], asks=[(D(p), q) for p, q in asks])


@pytest.mark.parametrize("model", [D(0), D(-5), float("nan"), True])
def test_a_model_value_must_be_a_positive_number(model):
    with pytest.raises(InvalidValue):
        mark_price(HP, model_price=model)


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


def test_a_limit_price_outside_the_price_band_is_refused_with_the_allowed_range():
    params = RiskParameters()  # 20% around the mark, edges rounded inwards
    assert limit_price_check(HP, D(36_000), D(45_000), params) is None
    assert limit_price_check(HP, D(54_000), D(45_000), params) is None
    for price in (D(35_999), D(54_001), D(20_000)):
        denial = limit_price_check(HP, price, D(45_000), params)
        assert (denial.reason, denial.field) == (RejectReason.PRICE_OUTSIDE_BAND, "price")
        assert "36000 to 54000" in denial.message and "20%" in denial.message
    assert limit_price_check(DIFF, D("120.18"), D("150.23"), params).field == "price"  # 120.184 rounds up
    assert limit_price_check(DIFF, D("120.19"), D("150.23"), params) is None

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import Product
from hashedge.domain.listing import capped_range, expected_epoch_start, instruments_to_list, listing_cycle

D = Decimal
UTC = timezone.utc
NOW = datetime(2026, 12, 15, 13, 7, 42, 123456, tzinfo=UTC)
EPOCH = 460
TIP = EPOCH * 2016 + 1_000  # 1,016 blocks left in epoch 460


def symbols(specs) -> list[str]:
    return [s.symbol for s in specs]


def test_the_cycle_lists_the_next_six_months_and_the_next_six_epochs():
    listed = symbols(listing_cycle(NOW, EPOCH, tip_height=TIP, capped_reference_price=D(42_000)))
    assert listed[:6] == ["HP-2027-01", "HP-2027-02", "HP-2027-03", "HP-2027-04", "HP-2027-05", "HP-2027-06"]
    assert listed[6:9] == ["BME14-E461", "BME14C-E461", "DIFF-E461"]
    assert listed[-3:] == ["BME14-E466", "BME14C-E466", "DIFF-E466"]
    assert len(listed) == 6 + 6 * 3


def test_epoch_contracts_stop_trading_at_the_expected_start_of_their_epoch():
    specs = {s.symbol: s for s in listing_cycle(NOW, EPOCH, tip_height=TIP)}
    # 1,016 blocks x 600 s = 7 d 1 h 20 min after 13:07:42, truncated to the minute
    assert specs["BME14-E461"].last_trading_time == datetime(2026, 12, 22, 14, 27, tzinfo=UTC)
    assert specs["DIFF-E462"].last_trading_time == datetime(2027, 1, 5, 14, 27, tzinfo=UTC)
    assert specs["HP-2027-01"].last_trading_time == datetime(2027, 2, 1, tzinfo=UTC)


def test_without_a_tip_height_the_current_epoch_is_taken_as_just_started():
    assert expected_epoch_start(NOW, EPOCH * 2016, EPOCH + 1) == datetime(2026, 12, 29, 13, 7, tzinfo=UTC)
    spec = listing_cycle(NOW, EPOCH)[6]
    assert spec.last_trading_time == datetime(2026, 12, 29, 13, 7, tzinfo=UTC)


def test_the_listing_is_deterministic():
    first = listing_cycle(NOW, EPOCH, tip_height=TIP, capped_reference_price=D(42_000))
    again = listing_cycle(NOW, EPOCH, tip_height=TIP, capped_reference_price=D(42_000))
    assert first == again


def test_listing_again_after_listing_adds_nothing():
    first = instruments_to_list(NOW, EPOCH, [], tip_height=TIP)
    assert instruments_to_list(NOW, EPOCH, symbols(first), tip_height=TIP) == []


def test_the_first_of_the_month_adds_the_seventh_month():
    before = symbols(listing_cycle(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), EPOCH))
    after = instruments_to_list(datetime(2027, 1, 1, tzinfo=UTC), EPOCH, before)
    assert [s.symbol for s in after] == ["HP-2027-07"]


def test_a_new_epoch_adds_the_next_epoch_contracts():
    before = symbols(listing_cycle(NOW, EPOCH, tip_height=TIP, capped_reference_price=D(42_000)))
    later = NOW + timedelta(days=7, hours=2)
    added = instruments_to_list(later, EPOCH + 1, before, tip_height=(EPOCH + 1) * 2016 + 3,
                                capped_reference_price=D(40_000))
    assert symbols(added) == ["BME14-E467", "BME14C-E467", "DIFF-E467"]
    # 6 * 2016 - 3 blocks after 'later'
    assert added[0].last_trading_time == (later + timedelta(seconds=(6 * 2016 - 3) * 600)).replace(second=0, microsecond=0)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(300, 5_000), st.integers(0, 2015))
def test_every_listed_contract_is_still_ahead_of_now(now, epoch, blocks_in):
    tip = epoch * 2016 + blocks_in
    specs = listing_cycle(now, epoch, tip_height=tip)
    assert all(spec.is_trading_open(now, tip_height=tip) for spec in specs)
    assert len({s.symbol for s in specs}) == len(specs) == 6 + (5 if blocks_in == 2015 else 6) * 2


def test_an_epoch_whose_difficulty_the_tip_already_fixes_is_not_listed():
    last_block = EPOCH * 2016 + 2015
    listed = symbols(listing_cycle(NOW, EPOCH, tip_height=last_block))
    assert "DIFF-E461" not in listed and listed[-1] == "DIFF-E466"


def test_capped_contracts_get_a_range_forty_percent_each_way_rounded_outward():
    assert capped_range(D(42_000)) == (D(25_000), D(59_000))
    assert capped_range(D(41_500)) == (D(24_000), D(59_000))
    specs = [s for s in listing_cycle(NOW, EPOCH, capped_reference_price=D(42_000)) if s.product is Product.BME14_CAPPED]
    assert {(s.floor, s.cap) for s in specs} == {(D(25_000), D(59_000))} and len(specs) == 6


def test_without_a_reference_price_capped_contracts_are_not_listed():
    assert not [s for s in listing_cycle(NOW, EPOCH) if s.is_capped]


@pytest.mark.parametrize("kwargs, field", [
    ({"tip_height": 459 * 2016}, "tip_height"),
    ({"tip_height": 461 * 2016}, "tip_height"),
    ({"capped_reference_price": D(0)}, "capped_reference_price"),
    ({"capped_reference_price": 42_000.0}, "capped_reference_price"),
])
def test_inconsistent_listing_inputs_are_refused(kwargs, field):
    with pytest.raises(InvalidValue) as caught:
        listing_cycle(NOW, EPOCH, **kwargs)
    assert caught.value.field == field


def test_a_naive_time_is_refused():
    with pytest.raises(InvalidValue):
        listing_cycle(datetime(2026, 12, 15), EPOCH)

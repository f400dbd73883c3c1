from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import (
    ContractSpec,
    EpochWindow,
    InvalidSymbol,
    MonthWindow,
    Product,
    SettlementRule,
    epoch_future,
    format_symbol,
    hashprice_monthly,
    parse_symbol,
    spec_for,
)
from trading_builders import BME, CAPPED, DIFF, EPOCH_START, HP

D = Decimal
UTC = timezone.utc


def test_a_monthly_hashprice_contract_is_one_ph_for_every_day_of_its_month():
    spec = hashprice_monthly(2026, 12)
    assert (spec.symbol, spec.underlying, spec.quote_unit) == ("HP-2026-12", "HASHPRICE", "sats/PH/day")
    assert (spec.multiplier, spec.multiplier_unit, spec.tick_size, spec.lot_size) == (31, "PH/s x days", 1, 1)
    assert spec.window.start == datetime(2026, 12, 1, tzinfo=UTC)
    assert spec.window.end == spec.last_trading_time == datetime(2027, 1, 1, tzinfo=UTC)
    assert spec.settlement_rule is SettlementRule.AVERAGE_OF_DAILY_FIXINGS


@pytest.mark.parametrize("year, month, days", [(2027, 2, 28), (2028, 2, 29), (2027, 4, 30), (2027, 1, 31)])
def test_the_monthly_multiplier_is_the_number_of_days_in_the_month(year, month, days):
    assert hashprice_monthly(year, month).multiplier == days


def test_epoch_contracts_have_their_documented_sizes_and_quote_units():
    assert (BME.symbol, BME.underlying, BME.multiplier, BME.quote_unit) == ("BME14-E420", "BME14", 14, "sats/PH/day")
    assert (DIFF.symbol, DIFF.multiplier, DIFF.tick_size, DIFF.multiplier_unit) == ("DIFF-E421", 10_000, D("0.01"), "sats per T")
    assert (CAPPED.symbol, CAPPED.floor, CAPPED.cap, CAPPED.is_capped) == ("BME14C-E420", 25_000, 59_000, True)
    assert BME.window == EpochWindow(420, 420) and BME.window.settlement_height == 846_720
    assert BME.settlement_rule is SettlementRule.SINGLE_RETARGET_FIXING


def test_one_tick_is_worth_whole_sats_for_every_product():
    assert [s.tick_value_sats for s in (HP, BME, DIFF, CAPPED)] == [31, 14, 100, 14]


def test_a_spec_turns_into_the_books_trading_rules():
    rules = DIFF.trading_rules()
    assert (rules.instrument_id, rules.tick_size, rules.lot_size) == ("DIFF-E421", D("0.01"), 1)


@pytest.mark.parametrize("symbol", ["HP-2026-12", "HP-2027-01", "BME14-E420", "BME14C-E420", "DIFF-E421", "DIFF-E1"])
def test_a_symbol_survives_parse_and_format(symbol):
    parts = parse_symbol(symbol)
    assert format_symbol(parts.product, parts.window) == symbol


@given(st.integers(2009, 9998), st.integers(1, 12))
def test_every_month_round_trips_through_its_symbol(year, month):
    parts = parse_symbol(format_symbol(Product.HASHPRICE_MONTHLY, MonthWindow(year, month)))
    assert parts.window == MonthWindow(year, month)


@given(st.sampled_from([Product.BME14_EPOCH, Product.BME14_CAPPED, Product.DIFF_EPOCH]), st.integers(1, 10**7))
def test_every_epoch_contract_round_trips_through_its_symbol(product, epoch):
    parts = parse_symbol(format_symbol(product, EpochWindow(epoch, epoch)))
    assert (parts.product, parts.window) == (product, EpochWindow(epoch, epoch))


@pytest.mark.parametrize("symbol, reason", [
    ("hp-2026-12", "upper case"),
    (" HP-2026-12", "upper case"),
    ("XX-2026-12", "unknown product prefix 'XX'"),
    ("HP-2026-13", "month 13 is not 01 to 12"),
    ("HP-2026-1", "HP-YYYY-MM"),
    ("HP-E420", "HP-YYYY-MM"),
    ("BME14-2026-12", "BME14-E<epoch>"),
    ("BME14-E0420", "without leading zeros"),
    ("DIFF-E", "DIFF-E<epoch>"),
    ("BME28-E420", "unknown product prefix 'BME28'"),
    ("", "unknown product prefix"),
])
def test_a_bad_symbol_is_refused_with_the_reason(symbol, reason):
    with pytest.raises(InvalidSymbol) as caught:
        parse_symbol(symbol)
    assert reason in caught.value.reason and caught.value.symbol == symbol
    assert "HP-2026-12" in str(caught.value)


def test_a_symbol_that_is_not_a_string_is_refused():
    with pytest.raises(InvalidSymbol, match="string"):
        parse_symbol(420)


def test_a_spec_is_rebuilt_from_its_symbol():
    assert spec_for("HP-2026-12") == HP
    assert spec_for("BME14C-E420", last_trading_time=EPOCH_START, floor=D(25_000), cap=D(59_000)) == CAPPED
    with pytest.raises(InvalidValue, match="last trading time"):
        spec_for("DIFF-E421")


@pytest.mark.parametrize("changes, field", [
    ({"symbol": "HP-2026-11"}, "symbol"),
    ({"multiplier": D("30.5")}, "multiplier"),
    ({"tick_size": D("0.001")}, "multiplier"),  # 0.001 x 31 is not whole sats
    ({"lot_size": 0}, "lot_size"),
    ({"last_trading_time": datetime(2027, 1, 1)}, "last_trading_time"),
    ({"floor": D(1), "cap": D(2)}, "cap"),
])
def test_an_inconsistent_spec_is_refused(changes, field):
    fields = {f: getattr(HP, f) for f in ContractSpec.__dataclass_fields__} | changes
    with pytest.raises(InvalidValue) as caught:
        ContractSpec(**fields)
    assert caught.value.field == field


@pytest.mark.parametrize("floor, cap", [(None, D(59_000)), (D(59_000), D(25_000)), (D("25000.5"), D(59_000)), (D(-1), D(5))])
def test_a_capped_contract_needs_a_floor_below_its_cap_on_the_tick(floor, cap):
    with pytest.raises(InvalidValue):
        epoch_future(Product.BME14_CAPPED, 420, last_trading_time=EPOCH_START, floor=floor, cap=cap)


def test_an_uncapped_epoch_contract_takes_no_range():
    with pytest.raises(InvalidValue, match="no floor or cap"):
        epoch_future(Product.DIFF_EPOCH, 421, last_trading_time=EPOCH_START, floor=D(1), cap=D(2))


def test_a_monthly_product_is_not_an_epoch_product():
    with pytest.raises(InvalidValue, match="not an epoch product"):
        epoch_future(Product.HASHPRICE_MONTHLY, 420, last_trading_time=EPOCH_START)


def test_trading_closes_at_the_last_trading_time():
    assert HP.is_trading_open(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert not HP.is_trading_open(datetime(2027, 1, 1, tzinfo=UTC))


def test_epoch_trading_also_halts_when_the_chain_reaches_the_block_that_fixes_the_difficulty():
    early = EPOCH_START - timedelta(days=1)
    assert BME.window.halt_height == 420 * 2016 - 1
    assert BME.is_trading_open(early, tip_height=420 * 2016 - 2)
    assert not BME.is_trading_open(early, tip_height=420 * 2016 - 1)
    assert not BME.is_trading_open(EPOCH_START, tip_height=400 * 2016)

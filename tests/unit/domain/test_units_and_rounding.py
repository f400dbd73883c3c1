from decimal import Decimal
from fractions import Fraction

import pytest

from hashedge.domain.errors import InvalidValue
from hashedge.domain.units import (
    MARGIN_ROUNDING,
    PAYOUT_ROUNDING,
    Rounding,
    btc_to_sats,
    is_on_tick,
    notional_sats,
    require_price,
    require_sats,
    round_to_tick,
    sats_to_btc,
    to_sats,
)


@pytest.mark.parametrize(
    "amount, rounding, expected",
    [
        (Decimal("10.3"), Rounding.UP, 11),
        (Decimal("10.7"), Rounding.DOWN, 10),
        (Decimal("-10.3"), Rounding.UP, -10),
        (Decimal("-10.3"), Rounding.DOWN, -11),
        (Decimal("10"), Rounding.UP, 10),
        (Fraction(1, 3), Rounding.UP, 1),
        (7, Rounding.DOWN, 7),
    ],
)
def test_amounts_round_to_whole_sats_in_the_stated_direction(amount, rounding, expected):
    assert to_sats(amount, rounding) == expected


def test_margin_rounds_up_and_payouts_round_down():
    assert to_sats(Decimal("0.01"), MARGIN_ROUNDING) == 1
    assert to_sats(Decimal("0.99"), PAYOUT_ROUNDING) == 0


def test_rounding_is_exact_beyond_the_default_decimal_precision():
    just_above = Decimal("12345678901234567890123456789") + Decimal("1e-20")
    assert to_sats(just_above, Rounding.UP) == 12345678901234567890123456790


@pytest.mark.parametrize("value", [True, 1.0, Decimal("1"), "1", None])
def test_an_amount_of_sats_must_be_an_int(value):
    with pytest.raises(InvalidValue) as raised:
        require_sats(value, "amount_sats")
    assert raised.value.field == "amount_sats" and raised.value.value == value


def test_a_float_is_never_rounded_into_sats():
    with pytest.raises(InvalidValue):
        to_sats(1.5, Rounding.UP)


def test_btc_converts_to_sats_exactly_and_refuses_fractions_of_a_satoshi():
    assert btc_to_sats(Decimal("0.00000001")) == 1
    assert btc_to_sats(Decimal("21000000")) == 2_100_000_000_000_000
    assert sats_to_btc(150_000_000) == Decimal("1.5")
    with pytest.raises(InvalidValue):
        btc_to_sats(Decimal("0.000000001"))


def test_a_price_must_be_a_finite_decimal():
    assert require_price(Decimal("1.5")) == Decimal("1.5")
    for bad in (1.5, Decimal("NaN"), Decimal("Infinity"), 2):
        with pytest.raises(InvalidValue):
            require_price(bad)


def test_prices_are_checked_against_the_tick_size():
    assert is_on_tick(Decimal("100.5"), Decimal("0.5"))
    assert is_on_tick(Decimal("100.50"), Decimal("0.5"))
    assert not is_on_tick(Decimal("100.25"), Decimal("0.5"))
    assert round_to_tick(Decimal("100.3"), Decimal("0.5"), Rounding.DOWN) == Decimal("100.0")
    assert round_to_tick(Decimal("100.3"), Decimal("0.5"), Rounding.UP) == Decimal("100.5")


def test_notional_is_price_times_quantity_times_multiplier_rounded_once():
    assert notional_sats(Decimal("45000.5"), 3, Decimal("100"), Rounding.UP) == 13_500_150
    assert notional_sats(Decimal("0.3"), 1, Decimal("0.5"), Rounding.UP) == 1
    assert notional_sats(Decimal("0.3"), 1, Decimal("0.5"), Rounding.DOWN) == 0

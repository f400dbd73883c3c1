"""The index catalogue: parametrized names, units, quanta and the standard set."""

from decimal import Decimal

import pytest

from indices.definitions import (
    STANDARD_INDEX_NAMES,
    IndexDefinition,
    UnknownIndex,
    get_definition,
    standard_indices,
)


@pytest.mark.parametrize(
    "name, family, unit, window, window_unit, needs",
    [
        ("DIFF", "DIFF", "difficulty", None, None, "epochs"),
        ("HASHRATE_144", "HASHRATE", "EH/s", 144, "blocks", "blocks"),
        ("HASHRATE_4320", "HASHRATE", "EH/s", 4320, "blocks", "blocks"),
        ("BME14", "BME", "BTC/TH/day", 14, "days", "epochs"),
        ("BME364", "BME", "BTC/TH/day", 364, "days", "epochs"),
        ("HASHPRICE", "HASHPRICE", "sats/PH/day", 144, "blocks", "blocks"),
        ("MRI1", "MRI", "sats/PH/day", 1, "days", "blocks"),
        ("MRI30", "MRI", "sats/PH/day", 30, "days", "blocks"),
    ],
)
def test_parametrized_names_resolve_to_their_family_unit_and_window(name, family, unit, window,
                                                                    window_unit, needs):
    definition = get_definition(name)
    assert (definition.name, definition.family, definition.unit) == (name, family, unit)
    assert (definition.window, definition.window_unit, definition.needs) == (window, window_unit, needs)
    assert definition.methodology_version == "1"
    assert definition.formula


@pytest.mark.parametrize(
    "name",
    ["", "DIFF2", "HASHRATE_100", "HASHRATE_", "BME15", "BME0", "BME014", "MRI0", "MRI-1", "MRI07",
     "MRI", "BME", "HASH", "PRICE", "MRI1.5"],
)
def test_names_outside_the_catalogue_raise_unknown_index(name):
    with pytest.raises(UnknownIndex) as raised:
        get_definition(name)
    assert isinstance(raised.value, KeyError)
    assert "unknown index" in str(raised.value) and "Known forms" in str(raised.value)


def test_unknown_index_message_says_why_a_bme_window_is_refused():
    with pytest.raises(UnknownIndex, match="multiple of 14"):
        get_definition("BME30")


def test_non_text_names_raise_unknown_index():
    with pytest.raises(UnknownIndex):
        get_definition(14)


def test_names_are_case_insensitive_and_come_back_canonical():
    assert get_definition(" hashrate_1008 ").name == "HASHRATE_1008"
    assert get_definition("bme28").name == "BME28"


def test_the_standard_set_is_the_published_twelve_in_display_order():
    assert [d.name for d in standard_indices()] == [
        "DIFF", "HASHRATE_144", "HASHRATE_432", "HASHRATE_1008", "HASHRATE_2016", "HASHRATE_4320",
        "BME14", "BME28", "BME84", "HASHPRICE", "MRI7", "MRI30",
    ]
    assert tuple(d.name for d in standard_indices()) == STANDARD_INDEX_NAMES


@pytest.mark.parametrize(
    "name, quantum",
    [("DIFF", "1E-8"), ("HASHRATE_144", "1E-18"), ("BME14", "1E-18"), ("HASHPRICE", "0.000001"),
     ("MRI7", "0.000001")],
)
def test_each_family_has_a_documented_quantum(name, quantum):
    assert get_definition(name).quantum == Decimal(quantum)


def test_definitions_are_frozen_values():
    definition = get_definition("DIFF")
    with pytest.raises(AttributeError):
        definition.unit = "x"  # type: ignore[misc]
    assert definition == get_definition("diff")
    assert isinstance(definition, IndexDefinition)

"""The index API over a real database: shapes, pagination, errors with field messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.web import create_app


@pytest.fixture
def client(populated_runtime):
    return create_app(populated_runtime).test_client()


def error_of(response) -> dict:
    assert response.is_json, response.data[:200]
    return response.get_json()["error"]


def test_indices_lists_every_standard_index_with_its_definition_and_latest_fixing(client):
    response = client.get("/api/v1/indices")
    assert response.status_code == 200
    overview = {item["definition"]["name"]: item for item in response.get_json()["items"]}
    assert response.get_json()["total"] == 12
    assert set(overview) == {"DIFF", "HASHRATE_144", "HASHRATE_432", "HASHRATE_1008", "HASHRATE_2016",
                             "HASHRATE_4320", "BME14", "BME28", "BME84", "HASHPRICE", "MRI7", "MRI30"}
    hashprice = overview["HASHPRICE"]
    assert hashprice["definition"]["unit"] == "sats/PH/day"
    assert "144" in hashprice["definition"]["formula"]
    assert hashprice["latest"]["unit"] == "sats/PH/day"
    assert Decimal(hashprice["latest"]["value"]) > 0
    assert len(hashprice["latest"]["input_digest"]) == 64


def test_an_index_name_is_case_insensitive_but_answers_canonically(client):
    assert client.get("/api/v1/indices/bme14").get_json()["definition"]["name"] == "BME14"


def test_an_unknown_index_is_a_404_with_a_json_error(client):
    response = client.get("/api/v1/indices/NOPE/fixings")
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found" and "NOPE" in error["message"]


def test_fixings_are_paginated_oldest_first(client):
    first = client.get("/api/v1/indices/DIFF/fixings?kind=daily&page_size=5").get_json()
    second = client.get("/api/v1/indices/DIFF/fixings?kind=daily&page_size=5&page=2").get_json()
    assert first["total"] == second["total"] >= 10
    times = [item["as_of"] for item in first["items"] + second["items"]]
    assert times == sorted(times) and len(set(times)) == 10
    assert all(item["kind"] == "daily" and item["as_of"].endswith("T00:00:00+00:00") for item in first["items"])


def test_fixings_can_be_filtered_by_time(client):
    everything = client.get("/api/v1/indices/HASHPRICE/fixings?kind=daily&page_size=1000").get_json()
    middle = everything["items"][len(everything["items"]) // 2]["as_of"]
    later = client.get("/api/v1/indices/HASHPRICE/fixings", query_string={"kind": "daily", "start": middle}).get_json()
    assert later["items"][0]["as_of"] == middle
    assert later["total"] == everything["total"] - len(everything["items"]) // 2


@pytest.mark.parametrize("query, field", [
    ("page_size=0", "page_size"),
    ("page_size=1001", "page_size"),
    ("page=0", "page"),
    ("page=abc", "page"),
    ("page=99999999999999999999", "page"),
    ("kind=weekly", "kind"),
    ("start=yesterday", "start"),
    ("start=2026-01-01T00:00:00", "start"),  # no offset: ambiguous, refused
    ("colour=blue", "colour"),
])
def test_bad_parameters_are_a_400_with_field_messages(client, query, field):
    response = client.get(f"/api/v1/indices/DIFF/fixings?{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_input" and field in error["fields"]


def test_start_after_end_is_a_400(client):
    response = client.get("/api/v1/indices/DIFF/fixings?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z")
    assert response.status_code == 400 and "start" in error_of(response)["fields"]


def test_a_value_can_be_computed_at_a_height(client):
    latest = client.get("/api/v1/indices/DIFF/latest").get_json()
    response = client.get(f"/api/v1/indices/DIFF/value?height={latest['end_height']}")
    assert response.status_code == 200
    assert response.get_json() == {"index": "DIFF", "height": latest["end_height"],
                                   "value": latest["value"], "unit": "difficulty"}


def test_a_height_without_data_is_a_clear_error_not_a_500(client):
    response = client.get("/api/v1/indices/HASHPRICE/value?height=10")
    assert response.status_code == 409 and error_of(response)["code"] == "data_unavailable"
    assert client.get("/api/v1/indices/DIFF/value?height=-1").status_code == 400


def test_the_forecast_has_a_band_around_the_estimate(client):
    forecast = client.get("/api/v1/forecast").get_json()
    assert forecast["low_95"] < forecast["low_68"] < forecast["next_difficulty"] < forecast["high_68"] < forecast["high_95"]
    assert 0 < forecast["blocks_remaining"] <= 2016


def test_the_openapi_document_describes_the_index_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/indices", "/api/v1/indices/{name}/fixings", "/api/v1/forecast"} <= set(spec["paths"])
    parameters = {p["name"] for p in spec["paths"]["/api/v1/indices/{name}/fixings"]["get"]["parameters"]}
    assert {"start", "end", "kind", "page", "page_size"} <= parameters


def test_an_unknown_route_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_the_readme_example_answers_from_the_real_epoch_history(client, real_epochs):
    """``/api/v1/indices/DIFF/value?height=870000``: no block of 2024 is stored here, the epoch
    history has the height."""
    from indices.compute import value_at

    response = client.get("/api/v1/indices/DIFF/value?height=870000")
    assert response.status_code == 200, response.get_json()
    assert Decimal(response.get_json()["value"]) == value_at(None, real_epochs, "DIFF", 870_000)


def test_an_epoch_index_whose_window_starts_before_the_stored_blocks_answers_from_the_epoch_history(
        client, populated_runtime, real_epochs):
    from indices.compute import value_at

    with populated_runtime.uow() as uow:
        first = int(uow.blocks.load_frame()["height"].iat[0])
    height = first + 10
    expected = value_at(None, real_epochs, "BME84", height) if height <= real_epochs["end_height"].max() else None
    response = client.get(f"/api/v1/indices/BME84/value?height={height}")
    if expected is None:  # the stored blocks begin after the history ends: no data for 6 epochs back
        assert response.status_code == 409
    else:
        assert response.status_code == 200 and Decimal(response.get_json()["value"]) == expected


def test_a_height_without_data_names_the_index_and_height_once(client):
    response = client.get("/api/v1/indices/HASHPRICE/value?height=10")
    assert response.status_code == 409
    message = error_of(response)["message"]
    assert message.startswith("HASHPRICE at height 10: ") and message.count("at height 10") == 1, message

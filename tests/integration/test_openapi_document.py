"""The OpenAPI document as clients read it: every operation described, with an example of its
request body and of its successful answer, each example valid for the schema it illustrates; prices
documented as decimal strings; the human-readable page at /api/docs served from this server only."""

from __future__ import annotations

import pytest
from marshmallow import Schema

from hashedge.web import create_app


@pytest.fixture
def app(runtime):
    return create_app(runtime)


@pytest.fixture
def spec(app) -> dict:
    return app.test_client().get("/api/openapi.json").get_json()


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method in ("get", "post", "patch", "delete", "put"):
                yield f"{method.upper()} {path}", operation


def schema_classes() -> dict[str, type[Schema]]:
    """Every marshmallow schema the API documents, by the component name apispec gives it."""
    from hashedge.web.api import (
        account_schemas,
        backstop_schemas,
        governance_schemas,
        liquidation_schemas,
        protection_schemas,
        schemas,
        trading_schemas,
    )

    found = {}
    for module in (schemas, account_schemas, trading_schemas, liquidation_schemas, backstop_schemas,
                   governance_schemas, protection_schemas):
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, Schema) and value.__module__ == module.__name__:
                found[name.removesuffix("Schema")] = value
            elif isinstance(value, type) and issubclass(value, Schema):  # Schema.from_dict pages
                found[value.__name__.removesuffix("Schema")] = value
    return found


def schema_of(content: dict) -> tuple[type[Schema], bool]:
    schema = content["schema"]
    many = schema.get("type") == "array"
    reference = (schema["items"] if many else schema)["$ref"]
    return schema_classes()[reference.rsplit("/", 1)[1]], many


def test_every_operation_has_a_summary_a_description_and_examples(spec):
    seen = 0
    for name, operation in operations(spec):
        seen += 1
        assert operation.get("summary") and len(operation.get("description", "")) > 40, name
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            assert "example" in body, f"{name}: request body without example"
        answers = {code: answer for code, answer in operation["responses"].items() if code.startswith("2")}
        assert answers, name
        for code, answer in answers.items():
            assert "example" in answer["content"]["application/json"], f"{name} {code}: answer without example"
    assert seen >= 19


def test_every_example_is_valid_for_its_schema(spec):
    checked = 0
    for name, operation in operations(spec):
        contents = [operation.get("requestBody", {}).get("content", {}).get("application/json")]
        contents += [answer["content"]["application/json"] for code, answer in operation["responses"].items()
                     if code.startswith("2")]
        for content in filter(None, contents):
            schema_class, many = schema_of(content)
            errors = schema_class(many=many).validate(content["example"])
            assert errors == {}, f"{name}: example does not load through {schema_class.__name__}: {errors}"
            checked += 1
    assert checked >= 22


def test_prices_are_documented_as_decimal_strings_both_ways(spec):
    order_request = spec["components"]["schemas"]["OrderRequest"]["properties"]["price"]
    order = spec["components"]["schemas"]["Order"]["properties"]["price"]
    assert order["type"] == "string" and order["format"] == "decimal"
    text, number = order_request["anyOf"]  # the string first; a number accepted, and said so
    assert text["type"] == "string" and text["format"] == "decimal" and number["type"] == "number"
    assert "decimal string" in order_request["description"] and order_request["example"] == "45000"


def test_the_api_page_is_swagger_ui_served_from_this_server(app):
    client = app.test_client()
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # no CDN: the machine may be offline
    for asset in ("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js",
                  "/static/vendor/swagger-ui-5.35.0/swagger-ui.css", "/static/api-docs.js"):
        assert asset in html
        served = client.get(asset)
        assert served.status_code == 200 and len(served.data) > 500
        served.close()
    assert 'data-spec-url="/api/openapi.json"' in html

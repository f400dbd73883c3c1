"""Marshmallow schemas for the index API: requests are validated here, responses shaped here.

Index values are exact decimal strings; units travel with every value.
"""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate

from hashedge.services.pages import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE


class PlainDecimal(fields.Decimal):
    """An exact decimal as fixed-point text ("0.000000730000"), never E-notation."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format(value, "f")


DECIMAL_TEXT = r"^[0-9]+(\.[0-9]+)?$"
_DECIMAL_TEXT = re.compile(DECIMAL_TEXT)


class DecimalInput(fields.Decimal):
    """An exact decimal in a request: documented as a decimal string (``"45000.5"``, what answers
    send), a JSON number accepted too and read exactly as written (bodies are parsed with
    decimals, never floats). Text must be plain digits with an optional fraction."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not _DECIMAL_TEXT.match(value):
            raise ValidationError('must be a decimal string such as "45000.5" (or a JSON number)')
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def decimal_input_doc(description: str, bounds: dict) -> dict:
    """The OpenAPI text of a ``DecimalInput``: a decimal string, or a number within ``bounds``."""
    return {"description": f"{description}. A decimal string such as \"45000.5\" (as answers send it); "
                           "a JSON number is accepted too, read exactly as written",
            "anyOf": [{"type": "string", "format": "decimal", "pattern": DECIMAL_TEXT},
                      {"type": "number", **bounds}],
            "example": "45000"}


class FixingSchema(Schema):
    index = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "daily (00:00 UTC) or retarget"})
    as_of = fields.DateTime(required=True, format="iso")
    version = fields.Integer(required=True)
    value = PlainDecimal(required=True)
    unit = fields.String(required=True)
    methodology_version = fields.String(required=True)
    start_height = fields.Integer(required=True)
    end_height = fields.Integer(required=True)
    confirmations = fields.Integer(required=True)
    input_digest = fields.String(required=True, metadata={"description": "SHA-256 of the inputs"})
    reason = fields.String(allow_none=True, metadata={"description": "why a correction was made"})
    published_at = fields.DateTime(required=True, format="iso")


class IndexDefinitionSchema(Schema):
    name = fields.String(required=True)
    title = fields.String(required=True)
    unit = fields.String(required=True)
    methodology_version = fields.String(required=True)
    formula = fields.String(required=True)


class IndexOverviewSchema(Schema):
    definition = fields.Nested(IndexDefinitionSchema, required=True)
    latest = fields.Nested(FixingSchema, allow_none=True)


class IndexPageSchema(Schema):
    items = fields.List(fields.Nested(IndexOverviewSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class PageQuerySchema(Schema):
    """The paging parameters every list takes (``services.pages``)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE),
                          metadata={"description": "1-based page number"})
    page_size = fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
                               metadata={"description": f"items per page, 1 to {MAX_PAGE_SIZE}"})


class FixingsQuerySchema(Schema):
    start = fields.AwareDateTime(default_timezone=None, metadata={"description": "inclusive, ISO 8601 with offset"})
    end = fields.AwareDateTime(default_timezone=None, metadata={"description": "inclusive"})
    kind = fields.String(validate=validate.OneOf(["daily", "retarget"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    page_size = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class FixingsPageSchema(Schema):
    index = fields.String(required=True)
    items = fields.List(fields.Nested(FixingSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class ValueQuerySchema(Schema):
    height = fields.Integer(required=True, validate=validate.Range(min=0))


class IndexValueSchema(Schema):
    index = fields.String(required=True)
    height = fields.Integer(required=True)
    value = PlainDecimal(required=True)
    unit = fields.String(required=True)


class ForecastSchema(Schema):
    """Mirrors indices.forecast.DifficultyForecast; every field carries its unit in its name."""

    class Meta:
        unknown = "exclude"

    as_of_height = fields.Integer()
    current_difficulty = fields.Float()
    epoch = fields.Integer()
    blocks_mined_in_epoch = fields.Integer()
    blocks_remaining = fields.Integer()
    next_difficulty = fields.Float()
    change_pct = fields.Float()
    next_difficulty_trailing_2016 = fields.Float()
    change_pct_trailing_2016 = fields.Float()
    low_68 = fields.Float()
    high_68 = fields.Float()
    low_95 = fields.Float()
    high_95 = fields.Float()
    expected_retarget_time = fields.DateTime(format="iso")


class ErrorDetailSchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.List(fields.String()))


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)

"""Pages of public market data rendered once per distinct content, not once per request.

The list of instruments and the indices' latest fixings are kept between requests while they are
current (``services.versioned_reads``), so most requests ask for a page they were just asked for.
Their items are frozen values, equal when every field shown is, and a page is rendered here as the
response decorator would render it (the page's schema, then ``jsonify``) once per distinct page:
a marshmallow dump was a fifth to a third of such a request's CPU (BENCHMARKS.md, part P).

Equal items render alike here. Two ``Decimal`` values that differ only in trailing zeros are
equal, so one could be shown with the other's rendering; a new mark or fixing never changes only
that (it carries its own time or version), so every change the data can make shows.

An account's page of orders (``items_page_response``) changes an order at a time and is read again
and again while nothing in it changes: each order with its fills is rendered through its schema
once per distinct content and the page is assembled from the renderings. An order read twice is
read from the same stored text, so its values carry the same digits both times.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Response, current_app, jsonify
from marshmallow import Schema


def page_response(schema: type[Schema], render: Callable | None, page) -> Response:
    """``page`` (a ``services.pages.Page`` of frozen items) as a 200 JSON response, each item
    ``render(item)`` (or as it is) through ``schema``."""
    body = _page_body(schema, render, tuple(page.items), page.total, page.page, page.page_size)
    return current_app.response_class(body, mimetype=current_app.json.mimetype)


@functools.lru_cache(maxsize=64)
def _page_body(schema: type[Schema], render: Callable | None, items: tuple, total: int, page: int,
               page_size: int) -> bytes:
    rendered = [render(item) for item in items] if render is not None else list(items)
    result = {"items": rendered, "total": total, "page": page, "page_size": page_size}
    return jsonify(schema().dump(result)).get_data()


def items_page_response(item_schema: type[Schema], render: Callable, page) -> Response:
    """``page`` (a ``services.pages.Page`` of frozen items) as a 200 JSON response of the list
    convention, as the page's schema (``trading_schemas._page_schema(.., item_schema)``) renders
    it, each item ``render(item)`` through ``item_schema`` once per distinct item."""
    items = [_item_body(item_schema, render, item) for item in page.items]
    return jsonify({"items": items, "total": page.total, "page": page.page, "page_size": page.page_size})


@functools.lru_cache(maxsize=4096)  # an order with its fills is about a kilobyte rendered
def _item_body(item_schema: type[Schema], render: Callable, item) -> dict:
    return _schema(item_schema).dump(render(item))


@functools.cache
def _schema(schema: type[Schema]) -> Schema:
    """One instance per schema class, shared by threads: a dump keeps nothing on the schema."""
    return schema()

"""REST endpoints for indices: each parses, calls one service, and renders."""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app
from hashedge.web.api.parsing import Blueprint
from marshmallow import RAISE

from hashedge.services import index_queries
from hashedge.web.api import examples as ex
from hashedge.web.api.rendered import page_response
from hashedge.web.api.schemas import (
    FixingSchema,
    FixingsPageSchema,
    FixingsQuerySchema,
    ForecastSchema,
    IndexOverviewSchema,
    IndexPageSchema,
    IndexValueSchema,
    PageQuerySchema,
    ValueQuerySchema,
)

blp = Blueprint("indices", __name__, description="Indices, fixings and the difficulty forecast")


def _uow():
    return current_app.extensions["hashedge"].uow()


@blp.route("/indices", methods=["GET"])
@blp.arguments(PageQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, IndexPageSchema, example=ex.INDEX_PAGE)
@blp.alt_response(400, description="Invalid parameters, with field messages")
def list_indices(**query):
    """Every published index with its definition and latest fixing.

    A page of the list convention (one page holds the whole family): each index's name, title,
    unit, methodology version and formula, with its most recent fixing (``null`` before the first)."""
    return page_response(IndexPageSchema, None, index_queries.index_page(_uow(), **query))


@blp.route("/indices/<string:name>", methods=["GET"])
@blp.response(200, IndexOverviewSchema, example=ex.INDEX_OVERVIEW)
@blp.alt_response(404, description="Unknown index")
def get_index(name: str):
    """One index: definition (formula, unit, methodology version) and latest fixing.

    ``name`` is case-insensitive (``bme14`` answers as ``BME14``); an unknown name is a 404."""
    return index_queries.describe_index(_uow(), name)


@blp.route("/indices/<string:name>/latest", methods=["GET"])
@blp.response(200, FixingSchema, example=ex.FIXING)
@blp.alt_response(404, description="Unknown index")
def latest_fixing(name: str):
    """The most recent published fixing of an index.

    A fixing is immutable: value, unit, methodology version, the block range it used and the
    SHA-256 digest of its inputs, so anyone can recompute it; a 409 before the first fixing."""
    return index_queries.latest_fixing(_uow(), name)


@blp.route("/indices/<string:name>/fixings", methods=["GET"])
@blp.arguments(FixingsQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, FixingsPageSchema, example=ex.FIXINGS_PAGE)
@blp.alt_response(400, description="Invalid parameters, with field messages")
@blp.alt_response(404, description="Unknown index")
def list_fixings(name: str, **query):
    """Published fixings (latest version of each), oldest first, paginated.

    A page of the list convention (``items``, ``total``, ``page``, ``page_size``), filtered by
    ``kind`` (daily or retarget) and by ``start``/``end`` on the as-of time (inclusive)."""
    return index_queries.fixings_page(_uow(), name, **query)


@blp.route("/indices/<string:name>/value", methods=["GET"])
@blp.arguments(ValueQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, IndexValueSchema, example=ex.INDEX_VALUE)
def value_at_height(name: str, height: int):
    """The index computed at a block height from stored chain data (not a fixing).

    From the stored blocks where they cover the height; epoch indices (DIFF, BME) from the epoch
    history where the blocks cannot answer. A 409 when no stored data covers the height."""
    return index_queries.value_at_height(_uow(), name, height)


@blp.route("/forecast", methods=["GET"])
@blp.response(200, ForecastSchema, example=ex.FORECAST)
def forecast():
    """Next-difficulty forecast from the current epoch and the trailing 2016 blocks.

    The headline estimate from the epoch's blocks so far, the trailing-2016 estimate, both with
    the 4x clamp, and 68%/95% bands from Poisson block arrivals; a 409 before any block is stored."""
    return asdict(index_queries.difficulty_forecast(_uow()))

"""REST endpoints for indices: each parses, calls one service, and renders."""

from __future__ import annotations

from dataclasses import asdict

from flask import current_app
from hashedge.web.api.parsing import Blueprint
from marshmallow import RAISE

from hashedge.services import index_queries
from hashedge.web.api.schemas import (
    FixingSchema,
    FixingsPageSchema,
    FixingsQuerySchema,
    ForecastSchema,
    IndexOverviewSchema,
    IndexValueSchema,
    ValueQuerySchema,
)

blp = Blueprint("indices", __name__, description="Indices, fixings and the difficulty forecast")


def _uow():
    return current_app.extensions["hashedge"].uow()


@blp.route("/indices", methods=["GET"])
@blp.response(200, IndexOverviewSchema(many=True))
def list_indices():
    """Every published index with its definition and latest fixing."""
    return index_queries.list_indices(_uow())


@blp.route("/indices/<string:name>", methods=["GET"])
@blp.response(200, IndexOverviewSchema)
@blp.alt_response(404, description="Unknown index")
def get_index(name: str):
    """One index: definition (formula, unit, methodology version) and latest fixing."""
    return index_queries.describe_index(_uow(), name)


@blp.route("/indices/<string:name>/latest", methods=["GET"])
@blp.response(200, FixingSchema)
@blp.alt_response(404, description="Unknown index")
def latest_fixing(name: str):
    """The most recent published fixing of an index."""
    return index_queries.latest_fixing(_uow(), name)


@blp.route("/indices/<string:name>/fixings", methods=["GET"])
@blp.arguments(FixingsQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, FixingsPageSchema)
@blp.alt_response(400, description="Invalid parameters, with field messages")
@blp.alt_response(404, description="Unknown index")
def list_fixings(name: str, **query):
    """Published fixings (latest version of each), oldest first, paginated."""
    return index_queries.fixings_page(_uow(), name, **query)


@blp.route("/indices/<string:name>/value", methods=["GET"])
@blp.arguments(ValueQuerySchema, location="query", as_kwargs=True, unknown=RAISE)
@blp.response(200, IndexValueSchema)
def value_at_height(name: str, height: int):
    """The index computed at a block height from stored chain data (not a fixing)."""
    return index_queries.value_at_height(_uow(), name, height)


@blp.route("/forecast", methods=["GET"])
@blp.response(200, ForecastSchema)
def forecast():
    """Next-difficulty forecast from the current epoch and the trailing 2016 blocks."""
    return asdict(index_queries.difficulty_forecast(_uow()))

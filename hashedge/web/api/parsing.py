"""The API's request parsing: flask-smorest blueprints whose argument parser reads JSON bodies
through the edge's checks (``hashedge.web.edge``: media type, depth, text, exact decimals)."""

from __future__ import annotations

import threading

import flask_smorest
from marshmallow import Schema, missing
from webargs.flaskparser import FlaskParser

from hashedge.web import edge


class EdgeParser(FlaskParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[Schema], Schema] = {}
        self._schemas_lock = threading.Lock()

    def _get_schema(self, argmap, req) -> Schema:
        """One instance per schema class, made on first use: webargs makes a new one per request
        when given a class, which deep-copies every declared field (about a twentieth of a
        ``POST /orders``' CPU in a web worker). A marshmallow 4 schema keeps nothing of a load on
        itself, so threads share it; webargs is pinned (setup.cfg) for this hook."""
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                with self._schemas_lock:
                    schema = self._schemas.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)

    def load_json(self, req, schema):
        edge.require_json_body()
        if not edge.has_body():
            return missing
        return edge.decode_json(edge.read_body())


class Blueprint(flask_smorest.Blueprint):
    """Every API blueprint: arguments parsed by ``EdgeParser``."""

    ARGUMENTS_PARSER = EdgeParser()

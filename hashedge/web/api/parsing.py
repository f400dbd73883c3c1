"""The API's request parsing: flask-smorest blueprints whose argument parser reads JSON bodies
through the edge's checks (``hashedge.web.edge``: media type, depth, text, exact decimals)."""

from __future__ import annotations

import flask_smorest
from marshmallow import missing
from webargs.flaskparser import FlaskParser

from hashedge.web import edge


class EdgeParser(FlaskParser):
    def load_json(self, req, schema):
        edge.require_json_body()
        if not edge.has_body():
            return missing
        return edge.decode_json(edge.read_body())


class Blueprint(flask_smorest.Blueprint):
    """Every API blueprint: arguments parsed by ``EdgeParser``."""

    ARGUMENTS_PARSER = EdgeParser()

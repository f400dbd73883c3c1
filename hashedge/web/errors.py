"""Map every failure to a JSON error (API) or an error page (desk), in one module.

API errors look like {"error": {"code": ..., "message": ..., "fields": {field: [messages]}}}.
Bad input is always a 4xx; a lost database connection a 503 (retry); an unexpected failure is a
500 that shows no stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from hashedge.errors import DatabaseUnavailable, HashEdgeError, Unauthenticated

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    if _wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def _flatten_webargs_messages(messages: dict) -> dict[str, list[str]]:
    """webargs nests messages by location ({"query": {"page": [...]}}); clients want fields."""
    fields: dict[str, list[str]] = {}
    for location_messages in messages.values():
        if isinstance(location_messages, dict):
            for field, field_messages in location_messages.items():
                fields[field] = field_messages if isinstance(field_messages, list) else [str(field_messages)]
    return fields


def register(app: Flask) -> None:
    @app.errorhandler(HashEdgeError)
    def _domain_error(exc: HashEdgeError):
        response = make_response(error_response(exc.http_status, exc.code, exc.message, exc.fields))
        if isinstance(exc, Unauthenticated):
            response.headers["WWW-Authenticate"] = 'Bearer realm="hashedge"'
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages")
        if exc.code == 422 and messages:  # webargs validation: bad parameters are a 400
            fields = _flatten_webargs_messages(messages)
            return error_response(400, "invalid_input", "request parameters are invalid", fields)
        code = (exc.name or "error").lower().replace(" ", "_")
        response = make_response(error_response(exc.code or 500, code, exc.description or exc.name))
        for name, value in exc.get_headers():  # e.g. Allow on a 405
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        if exc.connection_invalidated:  # SQLAlchemy saw a disconnect and replaced the pool's connections
            log.warning("database connection lost on %s %s: %s", request.method, request.path, exc.orig)
            failure = DatabaseUnavailable()
            response = make_response(error_response(failure.http_status, failure.code, failure.message))
            response.headers["Retry-After"] = "1"
            return response
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; it has been logged")

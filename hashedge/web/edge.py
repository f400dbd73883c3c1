"""What every request passes through at the edge, before any view, schema or service sees it.

- Size: bodies above ``MAX_CONTENT_LENGTH`` (1 MiB; orders and withdrawals are a few hundred
  bytes) are refused with a 413 before a byte of them is read.
- Text: every path segment, query parameter (name and value) and string of a JSON body (keys
  included) is refused with a 400 naming the field if it holds a control character (U+0000 to
  U+001F, U+007F to U+009F) or half of a UTF-16 surrogate pair: no identifier, symbol, key or
  status the API takes has a use for them, and PostgreSQL cannot store a NUL at all.
- JSON bodies (``decode_json``, used by the API's argument parser): a body on a JSON endpoint
  must be ``application/json`` (415 otherwise), valid UTF-8 JSON without NaN/Infinity, nested at
  most ``MAX_JSON_DEPTH`` deep (400 otherwise; Python's parser would recurse until it fails).
  Numbers with a fraction are read as exact decimals, never floats.
- Answers: ``X-Content-Type-Options: nosniff`` always, ``Cache-Control: no-store`` on anything
  that needs or carries an API key, and no server version in ``Server`` (``RequestHandler`` for
  the development server; gunicorn's own header carries no version).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.serving import WSGIRequestHandler

from hashedge.errors import InvalidInput

MAX_CONTENT_LENGTH = 1024 * 1024
MAX_JSON_DEPTH = 32
SERVER_NAME = "HashEdge"
AUTHENTICATED_BLUEPRINTS = frozenset({"account", "trading"})
_FORBIDDEN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or ``None``."""
    found = _FORBIDDEN_TEXT.search(value)
    if found is None:
        return None
    character = found.group()
    kind = "a surrogate code point" if "\ud800" <= character <= "\udfff" else "a control character"
    return f"must not contain {kind} (U+{ord(character):04X} at position {found.start()})"


def _refuse_text(field: str, value: str) -> None:
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{field} {problem}", fields={field: [problem]})


def check_path_and_query() -> None:
    """The path parameters and query string of the current request (a ``before_request`` hook)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            _refuse_text(name, value)
    for name, values in request.args.lists():
        _refuse_text(name, name)
        for value in values:
            _refuse_text(name, value)


def _check_json_text(value: object) -> None:
    """Every string (and key) of a decoded body, depth first, without recursion."""
    pending: list[tuple[str, object]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            _refuse_text(path or "body", item)
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else key
                _refuse_text(child_path, key)
                pending.append((child_path, child))
        elif isinstance(item, list):
            pending.extend((f"{path}.{index}" if path else str(index), child) for index, child in enumerate(item))


def _depth(value: object) -> int:
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _invalid_body(message: str) -> InvalidInput:
    return InvalidInput(f"request body: {message}", fields={"body": [message]})


def decode_json(raw: bytes) -> object:
    """A JSON body as Python values (decimals for fractional numbers), checked as described above."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid_body("must be UTF-8 encoded JSON") from None
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise _invalid_body(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError included
        raise _invalid_body(f"not valid JSON: {exc}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise _invalid_body(f"nested deeper than {MAX_JSON_DEPTH} levels")
    _check_json_text(value)
    return value


def read_body() -> bytes:
    """The request body, at most the limit: a streamed body (no Content-Length) is read one byte
    past the limit to tell a body of exactly the limit from a longer one (werkzeug would cut it
    off silently), and a longer one is a 413."""
    limit = request.max_content_length
    if limit is not None and request.content_length is None:
        request.max_content_length = limit + 1  # before anything opens the stream
    data = request.get_data(cache=True)
    if limit is not None and len(data) > limit:
        raise RequestEntityTooLarge(f"the request body is longer than the limit of {limit} bytes")
    return data


def has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def require_json_body() -> None:
    """A body sent to a JSON endpoint must say it is JSON."""
    if has_body() and not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        shown = request.mimetype or "no Content-Type"
        raise UnsupportedMediaType(f"the request body must be application/json, not {shown}")


def refuse_large_bodies() -> None:
    """Before anything reads the body: a declared length above the limit is a 413 at once (a
    streamed body without a length is cut off at the limit by werkzeug, with the same 413)."""
    limit = request.max_content_length
    if request.content_length is not None and limit is not None and request.content_length > limit:
        raise RequestEntityTooLarge(f"the request body is {request.content_length} bytes; the limit is {limit}")


def secure_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.blueprint in AUTHENTICATED_BLUEPRINTS or "Authorization" in request.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


class RequestHandler(WSGIRequestHandler):
    """werkzeug's request handler without "Werkzeug/x.y Python/x.y" in the ``Server`` header (the
    server sends that header itself, whatever the app sets)."""

    def version_string(self) -> str:
        return SERVER_NAME


def register(app: Flask) -> None:
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is no limit at all
        app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.before_request(refuse_large_bodies)
    app.before_request(check_path_and_query)
    app.after_request(secure_headers)

"""The API's edge on SQLite and PostgreSQL (``hashedge/web/edge.py``): text with control
characters, deep JSON, huge and non-JSON bodies are 4xx JSON errors with field messages, never a
500; 405 answers say what is allowed; every answer carries the security headers."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from decimal import Decimal

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger
from hashedge.web import create_app
from hashedge.web.edge import MAX_CONTENT_LENGTH, MAX_JSON_DEPTH, RequestHandler

SYMBOL = "HP-2026-12"


@pytest.fixture
def api(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "edge")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000_000, "seed")
    return create_app(runtime).test_client(), {"Authorization": f"Bearer {key}"}


def order(**changes) -> dict:
    return {"instrument": SYMBOL, "side": "buy", "type": "limit", "quantity": 1, "price": "49000", **changes}


def assert_field_error(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"} and field in error["fields"], error
    return error


@pytest.mark.parametrize("method, path, field", [
    ("GET", "/api/v1/instruments/a%00b/book", "symbol"),
    ("GET", "/api/v1/orders/a%00b", "order_id"),
    ("DELETE", "/api/v1/orders/a%00b", "order_id"),
    ("PATCH", "/api/v1/orders/a%00b", "order_id"),
    ("GET", "/api/v1/orders?instrument=a%00b", "instrument"),
    ("GET", "/api/v1/trades?instrument=a%00b", "instrument"),
    ("GET", "/api/v1/orders?instrument=a%01b", "instrument"),
    ("GET", "/api/v1/orders?a%00b=1", "a\x00b"),
    ("GET", "/api/v1/indices/DIFF%7F/latest", "name"),
    ("GET", "/api/v1/statements?start=2026-01-01T00:00:00%C2%85", "start"),  # U+0085, a C1 control
])
def test_control_characters_in_paths_and_queries_are_a_400_naming_the_field(api, method, path, field):
    client, auth = api
    response = client.open(path, method=method, headers=auth, json={"price": "50000"} if method == "PATCH" else None)
    error = assert_field_error(response, 400, field)
    assert error["code"] == "invalid_input" and "control character" in error["fields"][field][0]


@pytest.mark.parametrize("body, field", [
    (order(instrument="a\u0000b"), "instrument"),
    (order(side="b\u001buy"), "side"),
    (order(instrument="HP\ud800"), "instrument"),  # half a surrogate pair: not storable text
    ({**order(), "a\u0000b": 1}, "a\u0000b"),
])
def test_control_characters_in_a_json_body_are_a_400_naming_the_field(api, body, field):
    client, auth = api
    raw = json.dumps(body)  # escapes: "\u0000", "\ud800"
    response = client.post("/api/v1/orders", data=raw, content_type="application/json", headers=auth)
    assert_field_error(response, 400, field)
    assert client.get("/api/v1/orders", headers=auth).get_json()["items"] == []


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_json_nested_too_deep_is_a_400_not_a_recursion_error(api, depth):
    client, auth = api
    response = client.post("/api/v1/orders", data="[" * depth + "]" * depth, content_type="application/json",
                           headers=auth)
    error = assert_field_error(response, 400, "body")
    assert f"nested deeper than {MAX_JSON_DEPTH}" in error["message"]


def test_json_within_the_depth_limit_reaches_the_schema(api):
    client, auth = api
    nested = {"instrument": SYMBOL, "side": "buy", "quantity": 1, "price": [[["49000"]]]}
    assert_field_error(client.post("/api/v1/orders", json=nested, headers=auth), 400, "price")


def test_requests_parsed_at_once_each_get_their_own_values_and_errors(api):
    """The parser shares one schema instance per class between requests (``EdgeParser``): threads
    parsing at the same time must still each get their own body's values, or their own field's
    error, and nothing of another request's."""
    client, auth = api
    app = client.application
    threads, per_thread = 6, 8
    answers: dict[tuple[int, int], tuple[dict, int, dict]] = {}

    def send(t: int) -> None:
        own = app.test_client()
        for n in range(per_thread):
            if n % 2:  # an invalid field of this thread's own choosing
                field, body = ("quantity", order(quantity=0)) if t % 2 else ("side", order(side=f"up{t}"))
                body |= {"price": str(40000 + 100 * t + n)}
            else:
                field, body = None, order(quantity=t + 1, price=str(40000 + 100 * t + n))
            response = own.post("/api/v1/orders", json=body, headers=auth)
            answers[(t, n)] = (body, response.status_code, {"field": field, "json": response.get_json()})

    workers = [threading.Thread(target=send, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert len(answers) == threads * per_thread
    for (t, n), (body, status, seen) in answers.items():
        if seen["field"] is None:
            assert status == 201, seen
            assert (seen["json"]["quantity"], seen["json"]["price"]) == (body["quantity"], body["price"])
        else:
            assert status == 400 and set(seen["json"]["error"]["fields"]) == {seen["field"]}, seen
    placed = client.get("/api/v1/orders?page_size=100", headers=auth).get_json()["items"]
    assert sorted((o["quantity"], o["price"]) for o in placed) == sorted(
        (body["quantity"], body["price"]) for body, status, _ in answers.values() if status == 201)


@pytest.mark.parametrize("raw", [b'{"instrument": ', b"\xff\xfe{}", b'{"price": NaN}'])
def test_malformed_json_is_a_400(api, raw):
    client, auth = api
    assert_field_error(client.post("/api/v1/orders", data=raw, content_type="application/json", headers=auth),
                       400, "body")


class CountingBody(io.RawIOBase):
    """A request body that never ends, counting what the server reads of it."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def seek(self, offset, whence=0) -> int:  # the test client asks where the stream is
        return 0

    def tell(self) -> int:
        return 0

    def readinto(self, buffer) -> int:
        buffer[:] = b"x" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


@pytest.mark.parametrize("path, authorized", [("/api/v1/orders", True), ("/api/v1/orders", False),
                                              ("/api/v1/withdrawals", True)])
def test_a_200_mb_body_is_a_413_before_it_is_read(api, path, authorized):
    client, auth = api
    body = CountingBody()
    started = time.monotonic()
    response = client.post(path, input_stream=body, content_type="application/json", headers=auth if authorized else {},
                           environ_overrides={"CONTENT_LENGTH": str(200 * 10**6)})
    assert time.monotonic() - started < 5
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "request_entity_too_large"
    assert body.read_bytes == 0


@contextlib.contextmanager
def served(app):
    """The app on a loopback port behind werkzeug's server (which handles chunked bodies)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_a_streamed_body_without_a_length_is_cut_off_at_the_limit(runtime, api):
    """A chunked upload that never ends, as a server that decodes chunks hands it to the app
    (``wsgi.input_terminated``, no Content-Length): read up to the limit, then a 413."""
    _, auth = api
    body = CountingBody()
    environ = EnvironBuilder(path="/api/v1/orders", method="POST", content_type="application/json",
                             headers={**auth, "Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": body, "wsgi.input_terminated": True})
    answered = {}
    chunks = create_app(runtime)(environ, lambda status, headers, exc_info=None: answered.update(status=status))
    payload = json.loads(b"".join(chunks))
    assert answered["status"].startswith("413") and payload["error"]["code"] == "request_entity_too_large"
    assert MAX_CONTENT_LENGTH < body.read_bytes <= MAX_CONTENT_LENGTH + 64 * 1024


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_a_415(api, content_type):
    client, auth = api
    headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
    response = client.post("/api/v1/orders", data=json.dumps(order()).encode(), headers=headers)
    assert response.status_code == 415 and response.get_json()["error"]["code"] == "unsupported_media_type"


def test_a_method_the_route_does_not_take_is_a_405_that_says_what_is_allowed(api):
    client, auth = api
    response = client.put("/api/v1/orders", json=order(), headers=auth)
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    public = client.post("/api/v1/instruments")
    assert public.status_code == 405 and "GET" in public.headers["Allow"] and "POST" not in public.headers["Allow"]


def test_answers_carry_security_headers_and_authenticated_ones_are_never_cached(api):
    client, auth = api
    public = client.get("/api/v1/instruments")
    private = client.get("/api/v1/orders", headers=auth)
    refused = client.get("/api/v1/orders")
    for response in (public, private, refused, client.get("/desk/indices")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert private.headers["Cache-Control"] == "no-store" and refused.headers["Cache-Control"] == "no-store"
    assert "no-store" not in public.headers.get("Cache-Control", "")


def test_the_server_header_names_no_version(runtime):
    with served(create_app(runtime)) as port:
        response = requests.get(f"http://127.0.0.1:{port}/api/v1/instruments", timeout=10)
    assert response.status_code == 200 and response.headers["Server"] == "HashEdge"

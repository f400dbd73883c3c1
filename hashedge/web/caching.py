"""HTTP caching of public market data: clients and proxies may keep it briefly.

- Index data (definitions, fixings, point values, the forecast) changes when a fixing is
  published or a block arrives: ``Cache-Control: public, max-age=10``.
- Instruments change with the marking run (every few minutes) or a listing: ``max-age=5``.
- Book depth changes with every order: ``no-cache`` (a cache must revalidate every time).
- Every successful public GET carries a strong ETag of its body, so revalidating (``If-None-Match``)
  costs a 304 without the body.
- Every other answer of the public endpoints (errors, other methods) is ``no-store``.
  Authenticated answers, and any answer to a request that carries an ``Authorization`` header,
  are ``no-store`` by the edge's rule (``web/edge.py``), applied after this one.

Nothing is served from the server's memory that the database does not hold now, so any number of
workers agree: each answer is worked out from the database and only described to caches
downstream. (The list of instruments and the indices' latest fixings are kept between requests,
but under a version read from the database on every request: ``services.versioned_reads``.)
"""

from __future__ import annotations

from flask import Flask, Response, request

PUBLIC_MAX_AGE_SECONDS = {"indices": 10, "market": 5}  # blueprint name -> max-age
REVALIDATE_ALWAYS = {"market.book"}  # endpoints whose answers go stale with every order


def cache_headers(response: Response) -> Response:
    blueprint = request.blueprint
    if blueprint not in PUBLIC_MAX_AGE_SECONDS:
        return response
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        response.headers["Cache-Control"] = "no-store"
        return response
    if request.endpoint in REVALIDATE_ALWAYS:
        response.headers["Cache-Control"] = "public, no-cache"
    else:
        response.headers["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE_SECONDS[blueprint]}"
    response.add_etag()
    response.make_conditional(request)
    return response


def register(app: Flask) -> None:
    app.after_request(cache_headers)

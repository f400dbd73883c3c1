"""``/api/docs``: the OpenAPI document as a human-readable page (Swagger UI, vendored under
``static/vendor/swagger-ui-5.35.0``; nothing is fetched from elsewhere)."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

bp = Blueprint("api_docs", __name__)


@bp.get("/api/docs")
def api_docs():
    return render_template("api_docs.html", spec_url=url_for("api-docs.openapi_json"))

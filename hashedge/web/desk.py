"""The desk's web pages. Views call services and render; no rule lives here."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from hashedge.errors import DataUnavailable
from hashedge.services import index_queries

bp = Blueprint("desk", __name__, url_prefix="/desk")

CHARTED_INDICES = ["DIFF", "BME14", "BME84", "HASHPRICE"]


def _point(fixing) -> dict:
    return {"t": int(fixing.as_of.timestamp() * 1000), "v": float(fixing.value)}


@bp.get("/indices")
def indices():
    runtime = current_app.extensions["hashedge"]
    overviews = index_queries.list_indices(runtime.uow())
    series = index_queries.series(runtime.uow(), CHARTED_INDICES)
    try:
        forecast = index_queries.difficulty_forecast(runtime.uow())
    except DataUnavailable:
        forecast = None
    chart_data = {
        "series": {name: [_point(f) for f in fixings] for name, fixings in series.items()},
        "forecast": None if forecast is None else {
            "t": int(forecast.expected_retarget_time.timestamp() * 1000),
            "next": forecast.next_difficulty,
            "low95": forecast.low_95,
            "high95": forecast.high_95,
            "low68": forecast.low_68,
            "high68": forecast.high_68,
        },
    }
    return render_template("desk/indices.html", overviews=overviews, forecast=forecast,
                           chart_data=chart_data)

"""Analytics: the index charts, and per listed contract the implied difficulty, growth and
leverage, with the hedge calculator."""

from __future__ import annotations

from flask import render_template, request

from hashedge.domain.instruments import SATS_PER_PHD_PER_BTC_PER_THD
from hashedge.errors import DataUnavailable, HashEdgeError
from hashedge.services import analytics, index_queries
from hashedge.web.desk import bp
from hashedge.web.desk.forms import HedgeForm, apply_errors
from hashedge.web.desk.views._common import runtime

CHARTED_INDICES = ["DIFF", "BME14", "BME84", "HASHPRICE"]
# BME is published in BTC/TH/day (about 6.5e-7); the desk charts it in the contracts' quote unit.
IN_QUOTE_UNIT = {"BME14": SATS_PER_PHD_PER_BTC_PER_THD, "BME84": SATS_PER_PHD_PER_BTC_PER_THD}


def _point(fixing, factor: int = 1) -> dict:
    return {"t": int(fixing.as_of.timestamp() * 1000), "v": float(fixing.value * factor)}


@bp.get("/indices", endpoint="indices")
def indices():
    rt = runtime()
    overviews = index_queries.list_indices(rt.uow())
    series = index_queries.series(rt.uow(), CHARTED_INDICES)
    try:
        forecast = index_queries.difficulty_forecast(rt.uow())
    except DataUnavailable:
        forecast = None
    chart_data = {
        "series": {name: [_point(f, IN_QUOTE_UNIT.get(name, 1)) for f in fixings] for name, fixings in series.items()},
        "forecast": None if forecast is None else {
            "t": int(forecast.expected_retarget_time.timestamp() * 1000), "next": forecast.next_difficulty,
            "low95": forecast.low_95, "high95": forecast.high_95, "low68": forecast.low_68, "high68": forecast.high_68,
        },
    }
    return render_template("desk/indices.html", overviews=overviews, forecast=forecast, chart_data=chart_data)


@bp.get("/analytics", endpoint="analytics")
def analytics_page():
    rt = runtime()
    try:
        state, rows = analytics.contract_analytics(rt.uow(), rt.clock)
    except DataUnavailable as exc:
        state, rows, note = None, [], exc.message
    else:
        note = None
    form = HedgeForm(request.args)
    form.instrument.choices = [(r.view.record.symbol, r.view.record.symbol) for r in rows if r.view.mark_price]
    quote, status = None, 200
    if request.args.get("hashrate_phs") is not None:
        if form.validate():
            try:
                quote = analytics.hedge(rt.uow(), rt.clock, hashrate_phs=form.hashrate_phs.data.strip(),
                                        instrument=form.instrument.data)
            except HashEdgeError as exc:
                apply_errors(form, exc, default="hashrate_phs")
                status = exc.http_status
        else:
            status = 400
    return render_template("desk/analytics.html", state=state, rows=rows, note=note, form=form, quote=quote), status

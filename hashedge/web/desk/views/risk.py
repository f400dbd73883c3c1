"""Risk: the live margin monitor (accounts by margin usage, margin calls, liquidatable)."""

from __future__ import annotations

from flask import render_template, request

from hashedge.errors import DataUnavailable
from hashedge.services import risk
from hashedge.web.desk import bp
from hashedge.web.desk.views._common import runtime

STATUSES = ("margin_call", "liquidatable", "healthy")


@bp.get("/risk", endpoint="risk")
def risk_page():
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    try:
        sweep, lines = risk.margin_monitor(runtime().uow(), runtime().clock, status=status or None)
    except DataUnavailable as exc:
        return render_template("desk/risk.html", sweep=None, lines=[], note=exc.message, status=status,
                               statuses=STATUSES)
    return render_template("desk/risk.html", sweep=sweep, lines=lines, note=None, status=status, statuses=STATUSES)

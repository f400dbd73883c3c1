"""The desk's home page: a status overview of accounts, chain, risk, requests and jobs."""

from __future__ import annotations

from flask import render_template

from hashedge.services import operations
from hashedge.web.desk import bp
from hashedge.web.desk.views._common import runtime


@bp.get("/")
def home():
    overview = operations.overview(runtime().uow(), runtime().clock)
    return render_template("desk/home.html", overview=overview)

"""Risk: the backstop pool (NAV, positions, exposure, NAV history, withdrawal queue) and the
standing backstop offers (BACKSTOP.md). Read-only: LPs and backstoppers act through the API/CLI."""

from __future__ import annotations

from fractions import Fraction

from flask import render_template

from hashedge.services import backstop_offers, pool
from hashedge.web.api.backstop_schemas import nav_text
from hashedge.web.desk import bp
from hashedge.web.desk.views._common import runtime


@bp.get("/backstop", endpoint="backstop")
def backstop_page():
    uow = runtime().uow
    view = pool.overview(uow())
    return render_template("desk/backstop.html", pool=view, nav_per_share=nav_text(view.nav_per_share),
                           pnl=view.pnl_by_day(), queue=pool.withdrawal_queue(uow()),
                           offers=backstop_offers.list_offers(uow()),
                           history=[(p, nav_text(Fraction(p.nav_sats, p.shares_outstanding))
                                     if p.shares_outstanding else None) for p in view.history])

"""The OTC desk: server-rendered pages behind a login, one module per area under ``views/``.

``init_desk(app)`` wires everything the desk needs onto the app: Flask-Login (``auth``), CSRF on
every desk form (Flask-WTF), session timeouts, secure cookies and security headers (``security``),
and the blueprint with every area's routes. Pages are listed in ``nav.NAV``; the rules for who may
do what are ``hashedge.domain.desk_access``'s. See ``SECURITY.md`` beside this file.

Adding an area (liquidations, backstop, protection, governance, ...): a module under ``views/``
that adds routes to ``bp`` (each view: parse a form, call a service, render), templates under
``templates/desk/``, its entries in ``nav.NAV`` (and, for a panel on the account page,
``nav.ACCOUNT_PANELS``), and its name in ``VIEW_MODULES``.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask

bp = Blueprint("desk", __name__, url_prefix="/desk")

VIEW_MODULES = ("home", "accounts", "cash", "approvals", "trading", "risk", "liquidations", "insurance", "backstop",
                "protection", "operations", "governance", "analytics", "audit")


def init_desk(app: Flask) -> None:
    from hashedge.web.desk import auth, pages, security

    security.init_security(app)
    auth.init_auth(app)
    pages.init_filters(app)
    for name in VIEW_MODULES:
        importlib.import_module(f"hashedge.web.desk.views.{name}")
    app.register_blueprint(bp)

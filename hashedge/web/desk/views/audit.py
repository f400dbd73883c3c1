"""The audit log: every state-changing desk action, newest first, filtered and paginated."""

from __future__ import annotations

from flask import render_template, request

from hashedge.services import audit
from hashedge.web.desk import bp
from hashedge.web.desk.pages import page_args, pager_of
from hashedge.web.desk.views._common import runtime


@bp.get("/audit", endpoint="audit")
def audit_page():
    filters = {name: request.args.get(name, "").strip()[:128] for name in ("actor", "action", "target")}
    page, size = page_args(default_size=50)
    result = audit.audit_page(runtime().uow(), page=page, page_size=size, **filters)
    return render_template("desk/audit.html", result=result, pager=pager_of(result), filters=filters)

"""Desk login: Flask-Login sessions, timeouts, CSRF on every desk POST, and role checks.

Every ``/desk`` request except the login page needs a logged-in, enabled user; a user disabled or
whose password changed is logged out at the next request. Sessions end after the idle and absolute
timeouts of ``domain.desk_access.SessionPolicy`` (measured on the runtime's clock). Every POST
under ``/desk`` must carry the session's CSRF token (Flask-WTF); a view that changes state names
the permission it needs with ``@requires`` and answers 403 to a role without it. The API never
reads these sessions: it authenticates API keys only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from hashedge.domain.desk_access import Permission, SessionPolicy, allows, permissions_of
from hashedge.errors import LoginRefused, TooManyAttempts
from hashedge.services import desk_users
from hashedge.services.audit import Actor
from hashedge.web.desk import bp
from hashedge.web.desk.forms import LoginForm

csrf = CSRFProtect()
login_manager = LoginManager()
PUBLIC_ENDPOINTS = {"desk.login"}


class DeskUser(UserMixin):
    """The logged-in desk user; the id carries the password's change time so that a password
    change ends the sessions opened before it."""

    def __init__(self, record):
        self.record = record
        self.username, self.role = record.username, record.role

    def get_id(self) -> str:
        return f"{self.record.id}:{int(self.record.password_changed_at.timestamp())}"

    def can(self, permission: Permission | str) -> bool:
        return allows(self.role, Permission(permission))

    @property
    def permissions(self):
        return permissions_of(self.role)


def _runtime():
    return current_app.extensions["hashedge"]


@login_manager.user_loader
def _load_user(user_id: str) -> DeskUser | None:
    try:
        raw_id, stamp = user_id.split(":")
        record = desk_users.get_user(_runtime().uow(), int(raw_id))
    except (ValueError, TypeError):
        return None
    if record is None or record.disabled or int(record.password_changed_at.timestamp()) != int(stamp):
        return None
    return DeskUser(record)


def actor() -> Actor:
    return Actor(current_user.username, current_user.role)


def requires(permission: Permission):
    """403 unless the logged-in user's role has ``permission``."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.can(permission):
                abort(403, description=f"the {current_user.role} role may not do this ({permission.value})")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/desk...``), else None: no open redirects."""
    if not target or not isinstance(target, str) or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target if target.startswith("/desk") else None


def _now_seconds() -> int:
    return int(_runtime().clock.now().timestamp())


def _policy() -> SessionPolicy:
    return current_app.config["DESK_SESSION_POLICY"]


@bp.before_request
def _guard():
    if request.endpoint not in PUBLIC_ENDPOINTS:
        if not current_user.is_authenticated:
            return redirect(url_for("desk.login", next=request.full_path.rstrip("?")))
        now = _now_seconds()
        logged_in, seen = session.get("login_at", 0), session.get("seen_at", 0)
        as_time = lambda seconds: datetime.fromtimestamp(seconds, tz=timezone.utc)  # noqa: E731
        if _policy().expired(as_time(logged_in), as_time(seen), as_time(now)):
            desk_users.record_logout(_runtime().uow(), _runtime().clock, current_user.username, "session timeout")
            logout_user()
            session.clear()
            flash("Your session timed out; please log in again.", "warning")
            return redirect(url_for("desk.login", next=request.full_path.rstrip("?")))
        session["seen_at"] = now
    if request.method == "POST":
        csrf.protect()
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if request.method == "POST" and form.validate():
        runtime = _runtime()
        try:
            record = desk_users.authenticate(runtime.uow(), runtime.clock, form.username.data, form.password.data,
                                             request.remote_addr or "-")
        except TooManyAttempts as exc:
            form.username.errors = [exc.message]
            status = 429
        except LoginRefused as exc:
            form.password.errors = [exc.message]
            status = 401
        else:
            target = safe_next(request.args.get("next"))
            session.clear()  # a fresh session: nothing from before the login survives (fixation)
            login_user(DeskUser(record))
            session["login_at"] = session["seen_at"] = _now_seconds()
            session.permanent = False
            return redirect(target or url_for("desk.home"))
    elif request.method == "POST":
        status = 400
    form.password.data = ""
    return render_template("desk/login.html", form=form), status


@bp.post("/logout")
def logout():
    desk_users.record_logout(_runtime().uow(), _runtime().clock, current_user.username, "logout")
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("desk.login"))


def init_auth(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # the desk checks its POSTs; the API uses keys
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session, which times out itself
    app.config.setdefault("WTF_CSRF_SSL_STRICT", True)
    app.config.setdefault("DESK_SESSION_POLICY", SessionPolicy())
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "basic"
    login_manager.login_view = "desk.login"

    @app.context_processor
    def _desk_context():
        from hashedge.web.desk.nav import sections_for

        if request.path.startswith("/desk") and current_user and current_user.is_authenticated:
            return {"nav_sections": sections_for(current_user.role), "desk_user": current_user}
        return {"nav_sections": [], "desk_user": None}

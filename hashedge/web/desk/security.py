"""Cookies and headers: what keeps desk sessions from being stolen, framed or sniffed.

- The session cookie is HttpOnly, SameSite=Lax, and Secure when the request came over https
  (``HASHEDGE_COOKIE_SECURE=auto``, the default; ``true`` or ``false`` to force it). Behind a TLS
  proxy, let werkzeug's ProxyFix set the scheme.
- Every response: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: same-origin``; HTML adds a Content-Security-Policy allowing only this origin's
  scripts, styles and images (no inline script or style: page data travels in JSON script tags
  and data attributes), ``frame-ancestors 'none'`` and ``form-action 'self'``.
- Desk pages are never cached (``Cache-Control: no-store``): a back button after logout shows
  nothing.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")


class DeskSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose Secure flag follows ``SESSION_COOKIE_SECURE_MODE``; none at all
    for the API, which authenticates by key only: its requests never read a desk cookie (nor pay
    for checking its signature) and never set one."""

    def open_session(self, app: Flask, request):
        if request.path.startswith("/api/"):
            return None  # Flask's null session: empty, refuses writes, never saved
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        mode = app.config.get("SESSION_COOKIE_SECURE_MODE", "auto")
        if mode == "auto":
            return bool(request and request.is_secure)
        return mode == "true"


def init_security(app: Flask) -> None:
    runtime = app.extensions["hashedge"]
    app.config.update(SESSION_COOKIE_NAME="hashedge_desk", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax")
    app.config.setdefault("SESSION_COOKIE_SECURE_MODE", runtime.settings.cookie_secure)
    app.session_interface = DeskSessionInterface()

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if request.path.startswith("/desk"):
            headers["Cache-Control"] = "no-store"
        return response

"""The desk over HTTP (Flask's test client, SQLite and PostgreSQL): login and its redirects, CSRF on
every form, roles enforced on every POST, session timeouts, cookies and security headers, and the
API never accepting a desk session."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import flask
import pytest

from hashedge.domain.desk_access import Permission
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, audit, desk_users
from hashedge.web import create_app
from hashedge.web.desk.auth import safe_next

PASSWORD = "a long enough password"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def app(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add("HP-2026-12", runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    for name, role in (("vera", "viewer"), ("tina", "trader"), ("rick", "risk"), ("ada", "admin")):
        desk_users.create_user(runtime.uow(), runtime.clock, "test", name, role, PASSWORD)
    return create_app(runtime)


def token_of(html: str) -> str:
    found = TOKEN.search(html) or re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client, username: str, password: str = PASSWORD, next_url: str | None = None):
    page = client.get("/desk/login")
    query = f"?next={next_url}" if next_url else ""
    return client.post(f"/desk/login{query}", data={"csrf_token": token_of(page.text), "username": username,
                                                     "password": password})


def test_every_desk_page_needs_a_login_and_sends_you_back_after_it(app):
    client = app.test_client()
    response = client.get("/desk/cash")
    assert response.status_code == 302 and response.headers["Location"] == "/desk/login?next=/desk/cash"
    response = login(client, "tina", next_url="/desk/cash")
    assert response.status_code == 302 and response.headers["Location"] == "/desk/cash"
    assert client.get("/desk/cash").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/desk", "//evil.example/desk", "/\\evil.example",
                                    "javascript:alert(1)", "/api/v1/account", "desk/cash"])
def test_next_never_leads_off_the_desk(target):
    assert safe_next(target) is None


def test_next_to_a_desk_path_is_kept_and_an_external_one_is_dropped(app):
    client = app.test_client()
    response = login(client, "tina", next_url="https://evil.example/")
    assert response.headers["Location"] == "/desk/"
    assert safe_next("/desk/accounts/3?page=2") == "/desk/accounts/3?page=2"


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong_and_keeps_the_name(app, runtime):
    client = app.test_client()
    response = login(client, "tina", "not the password")
    assert response.status_code == 401
    assert "wrong user name or password" in response.text and 'value="tina"' in response.text
    assert 'value="not the password"' not in response.text
    response = login(client, "nobody", "not the password")
    assert response.status_code == 401 and "wrong user name or password" in response.text


def test_a_login_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    response = client.post("/desk/login", data={"username": "tina", "password": PASSWORD})
    assert response.status_code == 400 and "CSRF" in response.text


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(app, runtime):
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, "alice")
    client = app.test_client()
    login(client, "tina")
    response = client.post("/desk/cash/deposits", data={"deposit-account": "alice", "deposit-amount_sats": "1000",
                                                         "deposit-idempotency_key": "k1"})
    assert response.status_code == 400 and "CSRF token is missing" in response.text
    assert accounts.account_summary(runtime.uow(), account.id).collateral_sats == 0
    response = client.post("/desk/cash/deposits", data={"csrf_token": "forged", "deposit-account": "alice",
                                                         "deposit-amount_sats": "1000", "deposit-idempotency_key": "k2"})
    assert response.status_code == 400 and accounts.account_summary(runtime.uow(), account.id).collateral_sats == 0


def _desk_post_rules(app):
    """Every POST the desk serves, with placeholder arguments, except logging in and out."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/desk") and "POST" in rule.methods and rule.endpoint not in ("desk.login", "desk.logout"):
            yield rule.endpoint, re.sub(r"<(int:)?[a-z_]+>", "1", rule.rule)


def test_a_viewer_cannot_post_any_form(app, runtime):
    accounts.create_account(runtime.uow(), runtime.clock, "alice")
    client = app.test_client()
    login(client, "vera")
    token = token_of(client.get("/desk/").text)
    posts = list(_desk_post_rules(app))
    assert len(posts) >= 10
    for endpoint, path in posts:
        response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 403, (endpoint, response.status_code)
    assert audit.audit_page(runtime.uow(), action="cash").total == 0


def test_each_role_may_post_exactly_what_its_permissions_say(app):
    from hashedge.domain.desk_access import allows

    assert allows("trader", Permission.DEPOSIT) and not allows("trader", Permission.APPROVE)
    assert allows("risk", Permission.APPROVE) and not allows("risk", Permission.DEPOSIT)
    client = app.test_client()
    login(client, "rick")
    token = token_of(client.get("/desk/").text)
    assert client.post("/desk/cash/deposits", data={"csrf_token": token}).status_code == 403
    assert client.post("/desk/operations/settlement", data={"csrf_token": token}).status_code == 400  # allowed; no date


def test_a_deposit_with_a_bad_amount_shows_the_error_next_to_the_field_and_keeps_what_was_typed(app, runtime):
    accounts.create_account(runtime.uow(), runtime.clock, "alice")
    client = app.test_client()
    login(client, "tina")
    page = client.get("/desk/cash")
    response = client.post("/desk/cash/deposits", data={
        "csrf_token": token_of(page.text), "deposit-account": "alice", "deposit-amount_sats": "-5",
        "deposit-memo": "txid abc", "deposit-idempotency_key": "k3"})
    assert response.status_code == 400
    assert 'data-field="deposit-amount_sats"' in response.text
    assert 'value="alice"' in response.text and 'value="txid abc"' in response.text
    response = client.post("/desk/cash/deposits", data={
        "csrf_token": token_of(page.text), "deposit-account": "nobody", "deposit-amount_sats": "5",
        "deposit-idempotency_key": "k4"})
    assert response.status_code == 404 and 'data-field="deposit-account"' in response.text


def test_a_session_ends_after_thirty_idle_minutes_and_is_recorded(app, runtime):
    client = app.test_client()
    login(client, "tina")
    runtime.clock.advance(timedelta(minutes=29))
    assert client.get("/desk/").status_code == 200
    runtime.clock.advance(timedelta(minutes=30))
    response = client.get("/desk/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/desk/login")
    assert client.get("/desk/").status_code == 302  # the session is gone, not only refused once
    logout = audit.audit_page(runtime.uow(), action="logout").items[0]
    assert logout.actor == "tina" and logout.details == {"reason": "session timeout"}


def test_a_session_ends_twelve_hours_after_login_however_busy(app, runtime):
    client = app.test_client()
    login(client, "tina")
    for _ in range(35):  # every 20 minutes: never idle
        runtime.clock.advance(timedelta(minutes=20))
        assert client.get("/desk/").status_code == 200
    runtime.clock.advance(timedelta(minutes=20))  # 12 hours after login
    assert client.get("/desk/").status_code == 302


def test_a_disabled_user_is_logged_out_at_the_next_request(app, runtime):
    client = app.test_client()
    login(client, "tina")
    assert client.get("/desk/").status_code == 200
    desk_users.set_disabled(runtime.uow(), runtime.clock, "test", "tina", True)
    assert client.get("/desk/").status_code == 302


def test_a_desk_session_never_authenticates_the_api(app):
    client = app.test_client()
    login(client, "ada")
    response = client.get("/api/v1/account")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthenticated"
    # the API does not even open the desk's session: it neither refreshes nor clears the cookie
    public = client.get("/api/v1/instruments")
    assert public.status_code == 200 and "Set-Cookie" not in public.headers and "Cookie" not in public.vary
    assert client.get("/desk/cash").status_code == 200  # the desk session itself is untouched


def test_only_the_desk_opens_a_cookie_session(app):
    client = app.test_client()
    login(client, "ada")
    cookie = client.get_cookie("hashedge_desk").value
    for path, opened in (("/api/v1/account", False), ("/desk/cash", True), ("/desk/login", True)):
        with app.test_request_context(path, headers={"Cookie": f"hashedge_desk={cookie}"}):
            session = app.session_interface.open_session(app, flask.request)
            assert (session is not None) is opened, path
            if opened:  # the logged-in user's session, read from the cookie
                assert "login_at" in session and session.get("_user_id")


def test_cookies_are_httponly_and_lax_and_secure_over_https(app):
    client = app.test_client()
    response = login(client, "tina")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client()
    page = secure.get("/desk/login", base_url="https://desk.example")
    response = secure.post("/desk/login", base_url="https://desk.example",
                           headers={"Referer": "https://desk.example/desk/login"},
                           data={"csrf_token": token_of(page.text), "username": "tina", "password": PASSWORD})
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]


def test_desk_pages_send_security_headers_and_a_policy_without_inline_scripts(app):
    client = app.test_client()
    login(client, "tina")
    for path in ("/desk/login", "/desk/", "/desk/indices", "/desk/block-trades/new"):
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", response.text)
        assert scripts == [], (path, scripts)  # data only in JSON script tags, code only from files
        assert " style=" not in response.text


def test_logging_out_needs_a_post_with_the_token_and_ends_the_session(app, runtime):
    client = app.test_client()
    login(client, "tina")
    token = token_of(client.get("/desk/").text)
    assert client.get("/desk/logout").status_code == 405
    response = client.post("/desk/logout", data={"csrf_token": token})
    assert response.status_code == 302 and client.get("/desk/").status_code == 302
    assert [r.action for r in audit.audit_page(runtime.uow(), actor="tina").items][:2] == ["logout", "login"]

"""/api/docs in headless Chromium: Swagger UI renders every operation of the OpenAPI document from
assets this server serves (nothing requested elsewhere), under the app's Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import VIEWPORT, screenshot

pytestmark = pytest.mark.browser


def test_the_api_page_renders_every_operation_offline(browser, live_desk):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems, hosts = [], set()
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    try:
        response = page.goto(f"{live_desk.url}/api/docs")
        assert response.status == 200
        page.wait_for_selector(".opblock-summary-path")
        spec = page.evaluate("fetch('/api/openapi.json').then(r => r.json())")
        expected = sum(1 for methods in spec["paths"].values() for m in methods if m != "parameters")
        shown = page.locator(".opblock").count()
        assert shown == expected >= 19
        assert "HashEdge API" in page.locator(".info .title").inner_text()
        page.locator(".opblock-summary-path", has_text="/api/v1/orders").first.click()
        page.wait_for_selector(".opblock-description-wrapper")
        screenshot(page, "api-docs")
    finally:
        context.close()
    assert hosts == {"127.0.0.1"}, hosts
    assert problems == [], problems

"""The desk's main flows in headless Chromium, logged in as each role: onboarding, a deposit, a block
trade with its margin preview, a refused block trade outside the band, a four-eyes withdrawal, a
settlement run; a viewer refused on every form, a form without its CSRF token refused; and a
screenshot of every main page at 1400x900 (tests/browser/artifacts/)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from hashedge.services import accounts, approvals, instruments
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def collateral(live_desk, name: str) -> int:
    found = accounts.resolve_account(live_desk.runtime.uow(), name)
    return accounts.account_summary(live_desk.runtime.uow(), found.id).collateral_sats


def mark_of(live_desk) -> Decimal:
    views = instruments.list_instruments(live_desk.runtime.uow(), live_desk.runtime.clock)
    return next(v.mark_price for v in views if v.record.symbol == live_desk.instrument)


def test_a_trader_onboards_a_counterparty_and_sees_its_api_key_once(desk_page, live_desk):
    page = desk_page("trader")
    page.click("nav.side >> text=Accounts")
    page.fill("#name", "Gamma Hashing")
    page.click("#onboard-form button[type=submit]")
    key = page.locator("#new-api-key code").inner_text()
    assert re.fullmatch(r"he_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)
    assert "Gamma Hashing" in page.locator("h1").inner_text()
    assert accounts.authenticate_api_key(live_desk.runtime.uow(), key)  # the key works on the API
    screenshot(page, "account-created")
    account_id = accounts.resolve_account(live_desk.runtime.uow(), "Gamma Hashing").id
    page.goto(f"{live_desk.url}/desk/accounts/{account_id}")  # the account page never shows the key again
    assert page.locator("#new-api-key").count() == 0
    assert page.locator("#api-keys tbody").inner_text().count("ACTIVE") == 1
    assert page.problems == []
    page.goto(f"{live_desk.url}/desk/accounts")  # a second account of that name is refused (409)
    page.fill("#name", "Gamma Hashing")
    page.click("#onboard-form button[type=submit]")
    assert "already taken" in page.locator(".field.has-error .error").inner_text()
    assert page.input_value("#name") == "Gamma Hashing"


def test_a_trader_records_a_deposit_and_lands_on_the_account(desk_page, live_desk):
    before = collateral(live_desk, "Alpha Mining")
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/cash")
    page.fill("#deposit-account", "Alpha Mining")
    page.fill("#deposit-amount_sats", "2500000")
    page.fill("#deposit-memo", "txid 4f2a")
    screenshot(page, "cash")
    page.click("#deposit-form button[type=submit]")
    assert "Deposit of 2,500,000 sats recorded" in page.locator(".flash-success").inner_text()
    assert collateral(live_desk, "Alpha Mining") == before + 2_500_000
    assert page.locator("#collateral-sats").inner_text() == f"{before + 2_500_000:,}"
    assert "txid 4f2a" in page.locator("#statement").inner_text()
    assert page.problems == []


def test_a_block_trade_is_previewed_for_both_sides_then_booked(desk_page, live_desk):
    mark = mark_of(live_desk)
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/block-trades/new")
    page.wait_for_selector("body[data-band-ready='1']")
    page.fill("#buyer", "Alpha Mining")
    page.fill("#seller", "Beta Trading")
    page.select_option("#instrument", live_desk.instrument)
    assert page.locator("[data-band=mark]").inner_text() == format(mark, "f")  # the band, live from the mark
    page.fill("#quantity", "10")
    page.fill("#price", format(mark, "f"))
    assert page.locator("#price-check").inner_text() == "inside the OTC band"
    page.click("#preview-button")
    preview = page.locator("#margin-preview")
    assert "passes" in preview.inner_text().lower()
    with live_desk.runtime.uow() as uow:
        notional = 10 * mark * uow.instruments.get(live_desk.instrument).spec.multiplier
    assert f"{int(notional):,}" in preview.inner_text()
    rows = preview.locator("tbody tr")
    assert rows.count() == 8 and "Initial margin" in rows.nth(3).inner_text()
    assert page.input_value("#quantity") == "10" and page.input_value("#buyer") == "Alpha Mining"
    screenshot(page, "block-trade-preview")
    page.click("#book-button")
    assert "booked" in page.locator(".flash-success").inner_text()
    assert live_desk.instrument in page.locator("#block-trades tbody tr").first.inner_text()
    assert page.problems == []


def test_a_block_trade_outside_the_band_is_refused_next_to_the_price_and_keeps_the_form(desk_page, live_desk):
    mark = mark_of(live_desk)
    outside = format((mark * Decimal("1.10")).to_integral_value(), "f")
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/block-trades/new")
    page.fill("#buyer", "Beta Trading")
    page.fill("#seller", "Alpha Mining")
    page.select_option("#instrument", live_desk.instrument)
    page.fill("#quantity", "3")
    page.fill("#price", outside)
    assert "outside the OTC band" in page.locator("#price-check").inner_text()
    with page.expect_response(lambda r: r.url.endswith("/desk/block-trades")) as answer:
        page.click("#book-button")
    assert answer.value.status == 422
    error = page.locator(".field.has-error [data-field=price]")
    assert "outside the OTC band" in error.inner_text()
    assert page.input_value("#price") == outside and page.input_value("#quantity") == "3"
    assert page.input_value("#buyer") == "Beta Trading"
    screenshot(page, "block-trade-refused")


def test_a_large_withdrawal_waits_for_a_risk_officer_and_is_paid_once_approved(desk_page, live_desk):
    threshold = approvals.desk_parameters().withdrawal_threshold_sats
    amount = threshold + 5_000_000
    before = collateral(live_desk, "Beta Trading")
    trader = desk_page("trader")
    trader.goto(f"{live_desk.url}/desk/cash")
    trader.fill("#withdrawal-account", "Beta Trading")
    trader.fill("#withdrawal-amount_sats", str(amount))
    trader.click("#withdrawal-form button[type=submit]")
    assert "waits for a second user's approval" in trader.locator(".flash-warning").inner_text()
    row = trader.locator("#requests tbody tr").first
    assert "awaiting a second user" in row.inner_text() and row.locator("button").count() == 0
    assert collateral(live_desk, "Beta Trading") == before

    risk = desk_page("risk")
    risk.goto(f"{live_desk.url}/desk/approvals")
    row = risk.locator("#requests tbody tr").first
    assert f"{amount:,}" in row.inner_text() and "tina" in row.inner_text()
    screenshot(risk, "approvals")
    row.locator("input[name=reason]").fill("call-back verified")
    row.locator("button", has_text="Approve").click()
    assert "approved and executed" in risk.locator(".flash-success").inner_text()
    assert collateral(live_desk, "Beta Trading") == before - amount
    risk.goto(f"{live_desk.url}/desk/audit?action=request")
    log = risk.locator("#audit-log").inner_text()
    assert "request.approve" in log and "request.create" in log
    assert trader.problems == [] and risk.problems == []


def test_a_risk_officer_runs_a_days_settlement_once(desk_page, live_desk):
    page = desk_page("risk")
    page.goto(f"{live_desk.url}/desk/operations/settlement")
    page.fill("#business_date", "2026-10-31")  # before the first listing (1 November): refused at the field
    page.click("#settlement-form button[type=submit]")
    assert "2026-11-01 or later" in page.locator("#settlement-form").inner_text()
    page.fill("#business_date", "2026-11-01")  # today on the desk's clock: settled provisionally
    page.click("#settlement-form button[type=submit]")
    assert "Provisionally settled 2026-11-01" in page.locator(".flash-success").inner_text()
    assert "2026-11-01" in page.locator("#settlement-runs tbody tr").first.inner_text()
    page.fill("#business_date", "2026-11-01")
    page.click("#settlement-form button[type=submit]")
    assert "already done; nothing changed" in page.locator(".flash-info").inner_text()
    assert page.locator("#settlement-runs tbody tr").count() == 1
    screenshot(page, "settlement")


def test_a_viewer_sees_the_pages_but_cannot_post_any_form(desk_page, live_desk):
    page = desk_page("viewer")
    page.goto(f"{live_desk.url}/desk/cash")
    assert "Your role cannot record deposits" in page.locator("#deposit-form").inner_text()
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    targets = ["/desk/accounts", "/desk/accounts/1/keys", "/desk/accounts/1/keys/revoke", "/desk/cash/deposits",
               "/desk/cash/withdrawals", "/desk/approvals/1/approve", "/desk/approvals/1/reject", "/desk/block-trades",
               "/desk/block-trades/BLOCK-x/reverse", "/desk/operations/settlement"]
    for target in targets:
        response = page.request.post(f"{live_desk.url}{target}", form={"csrf_token": token})
        assert response.status == 403, target


def test_a_form_without_its_csrf_token_is_refused(desk_page, live_desk):
    before = collateral(live_desk, "Alpha Mining")
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/cash")
    page.evaluate("document.querySelector('#deposit-form input[name$=csrf_token]').remove()")
    page.fill("#deposit-account", "Alpha Mining")
    page.fill("#deposit-amount_sats", "1000")
    with page.expect_response(lambda r: r.url.endswith("/desk/cash/deposits")) as answer:
        page.click("#deposit-form button[type=submit]")
    assert answer.value.status == 400 and "CSRF token is missing" in page.locator("main").inner_text()
    assert collateral(live_desk, "Alpha Mining") == before


MAIN_PAGES = {
    "home": "/desk/", "accounts": "/desk/accounts", "account": "/desk/accounts/1", "instruments": "/desk/instruments",
    "block-trades": "/desk/block-trades", "block-trade-new": "/desk/block-trades/new", "risk": "/desk/risk",
    "jobs": "/desk/operations/jobs", "fixings": "/desk/operations/fixings?index=DIFF&verify=1",
    "analytics": "/desk/analytics?hashrate_phs=100&instrument={instrument}", "audit": "/desk/audit",
    "approvals-all": "/desk/approvals?status=all", "instrument": "/desk/instruments/{instrument}",
    "backstop": "/desk/backstop",
}


def test_an_admin_tours_the_main_pages_without_an_error(desk_page, live_desk):
    page = desk_page("admin")
    for name, path in MAIN_PAGES.items():
        response = page.goto(live_desk.url + path.format(instrument=live_desk.instrument))
        assert response.status == 200, (name, response.status)
        assert page.locator("nav.side a.active").count() == 1, name
        screenshot(page, name)
    page.goto(f"{live_desk.url}/desk/analytics?hashrate_phs=100&instrument={live_desk.instrument}")
    assert "sell 100" in page.locator("#hedge-result").inner_text()
    assert page.locator("#contract-analytics tbody tr").count() >= 12
    page.goto(f"{live_desk.url}/desk/operations/fixings?index=DIFF&verify=1")
    assert page.locator("#fixings .badge-verified").count() >= 1 and page.locator("#fixings .badge-mismatch").count() == 0
    assert page.problems == []

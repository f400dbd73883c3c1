"""The desk's protection pages in headless Chromium: a trader quotes protection on an account (the
fair premium with its inputs), books it within the band (a premium outside it is refused next to the
field, the form kept), lands on the contract with the seller's collateral in escrow; the pages tour
without an error; a viewer cannot book."""

from __future__ import annotations

import pytest

from hashedge.services import accounts, ledger, protection
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reference(live_desk):
    """A third party to protect against: Gamma Capital, 50,000,000 sats."""
    rt = live_desk.runtime
    found = next((a for a in accounts.account_names(rt.uow(), limit=500) if a == "Gamma Capital"), None)
    if found is None:
        account, _ = accounts.create_account(rt.uow(), rt.clock, "Gamma Capital")
        ledger.deposit(rt.uow(), rt.clock, account.id, 50_000_000, f"seed-{account.id}")
    return "Gamma Capital"


def test_a_trader_quotes_then_books_protection_and_sees_the_seller_collateral(desk_page, live_desk, reference):
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/protection/quote")
    page.fill("#reference", reference)
    page.fill("#notional_sats", "10000000")
    page.click("#quote-button")
    assert page.locator("#quote-premium").inner_text() == "0.0000"  # no positions: it cannot default
    assert "reference equity" in page.locator("#protection-quote").inner_text().lower()
    screenshot(page, "protection-quote")

    page.goto(f"{live_desk.url}/desk/protection/new")
    page.fill("#buyer", "Alpha Mining")
    page.fill("#seller", "Beta Trading")
    page.fill("#reference", reference)
    page.fill("#notional_sats", "10000000")
    page.fill("#premium_bps", "400")  # the band is 0 to 25 bps around a fair premium of zero
    page.fill("#maturity", "2027-03-20")
    page.select_option("#settlement", "cash")
    page.click("#book-protection-button")
    assert "outside the band" in page.locator(".error[data-field=premium_bps]").inner_text()
    assert page.input_value("#buyer") == "Alpha Mining"  # the form is kept
    page.fill("#premium_bps", "20")
    page.click("#book-protection-button")
    assert "booked" in page.locator(".flash-success").inner_text()
    assert page.locator("#protection-collateral").inner_text() == "5,000,000"
    assert "booked" in page.locator("#protection-history").inner_text()
    screenshot(page, "protection-contract")
    page.goto(f"{live_desk.url}/desk/protection")
    assert "Gamma" not in page.locator("#protection-contracts").inner_text()  # accounts by id
    assert page.locator("#protection-contracts tbody tr").count() >= 1
    assert [p for p in page.problems if "422" not in p] == []  # the refused booking answered 422, as it should
    booked = protection.list_protection(live_desk.runtime.uow())
    assert any(s.contract.notional_sats == 10_000_000 and s.collateral_sats == 5_000_000 for s in booked)


def test_the_protection_pages_tour_without_an_error_and_a_viewer_cannot_book(desk_page, live_desk, reference):
    page = desk_page("admin")
    for name, path in {"protection-contracts": "/desk/protection", "protection-events": "/desk/protection/credit-events",
                       "protection-book": "/desk/protection/new", "protection-quote-empty": "/desk/protection/quote"
                       }.items():
        response = page.goto(live_desk.url + path)
        assert response.status == 200, (name, response.status)
        assert page.locator("nav.side a.active").count() == 1, name
        screenshot(page, name)
    assert page.problems == []
    viewer = desk_page("viewer")
    assert viewer.goto(f"{live_desk.url}/desk/protection/new").status == 403

"""The desk's backstop page in headless Chromium: the pool's NAV, shares, positions, history and
withdrawal queue, and the standing offers, as a viewer sees them; a trader deposits into the pool
for an LP and queues its withdrawal (a request for more than it owns refused next to the field)."""

from __future__ import annotations

import pytest

from hashedge.services import accounts, backstop_offers, ledger, pool
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


def test_a_viewer_sees_the_pool_its_queue_and_the_offers(desk_page, live_desk):
    runtime = live_desk.runtime
    lp, _ = accounts.create_account(runtime.uow(), runtime.clock, "Pool LP")
    ledger.deposit(runtime.uow(), runtime.clock, lp.id, 50_000_000, "seed-pool-lp")
    pool.deposit(runtime.uow(), runtime.clock, lp.id, 40_000_000, "desk-lp")
    queued, _ = pool.request_withdrawal(runtime.uow(), runtime.clock, lp.id, 1_000_000, "desk-exit")
    backstopper, _ = accounts.create_account(runtime.uow(), runtime.clock, "Backstopper")
    offer = backstop_offers.post_offer(runtime.uow(), runtime.clock, backstopper.id, instrument=live_desk.instrument,
                                       side="buy", max_quantity=7, max_discount_bps=150)
    page = desk_page("viewer")
    response = page.goto(f"{live_desk.url}/desk/backstop")
    assert response.status == 200
    assert page.locator("nav.side a.active").inner_text() == "Backstop pool & offers"
    tiles = page.locator("#pool-tiles").inner_text()
    assert "40,000,000" in tiles and "1.000000000000" in tiles
    assert page.locator("#pool-positions").inner_text().count("holds no position") == 1
    queue = page.locator("#pool-queue tbody tr")
    assert queue.count() == 1 and "1,000,000" in queue.first.inner_text() and f"#{lp.id}" in queue.first.inner_text()
    offers = page.locator("#backstop-offers tbody").inner_text()
    assert str(offer.id) in offers and live_desk.instrument in offers and "0 / 7" in offers and "-150 bps" in offers
    screenshot(page, "backstop")
    assert page.problems == []
    assert queued.status == "queued"


def test_a_trader_deposits_for_an_lp_and_queues_its_withdrawal(desk_page, live_desk):
    runtime = live_desk.runtime
    lp, _ = accounts.create_account(runtime.uow(), runtime.clock, "Desk LP")
    ledger.deposit(runtime.uow(), runtime.clock, lp.id, 30_000_000, "seed-desk-lp")
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/backstop")
    before = pool.lp_shares(runtime.uow(), lp.id).shares
    page.fill("#pool-deposit-account", "Desk LP")
    page.fill("#pool-deposit-amount_sats", "20000000")
    page.click("#pool-deposit-form button[type=submit]")
    assert "deposited into the pool" in page.locator(".flash-success").inner_text()
    minted = pool.lp_shares(runtime.uow(), lp.id).shares - before
    assert minted > 0
    page.fill("#pool-withdrawal-account", "Desk LP")
    page.fill("#pool-withdrawal-shares", str(minted + 1))  # more than it owns: refused next to the field
    with page.expect_response(lambda r: r.url.endswith("/desk/backstop/withdrawals")) as answer:
        page.click("#pool-withdrawal-form button[type=submit]")
    assert answer.value.status == 400
    assert f"at most {minted}" in page.locator("#pool-withdrawal-form").inner_text()
    page.problems.clear()  # the browser logs the 400 of the refused form
    page.fill("#pool-withdrawal-shares", str(minted))
    page.click("#pool-withdrawal-form button[type=submit]")
    assert "queued" in page.locator(".flash-success").inner_text()
    assert pool.lp_shares(runtime.uow(), lp.id).queued_shares == minted
    assert page.problems == []

"""The desk's backstop page in headless Chromium: the pool's NAV, shares, positions, history and
withdrawal queue, and the standing offers, as a viewer sees them."""

from __future__ import annotations

from conftest import screenshot

from hashedge.services import accounts, backstop_offers, ledger, pool


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

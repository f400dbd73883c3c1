"""The desk's governance pages in headless Chromium: the parameters in force with their history, a
member's vote recorded by a trader (the tally moves by its snapshot shares; a second vote is refused
next to the field), and the risk committee's emergency tightening refused to a risk officer who is
not on the committee."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hashedge.services import accounts, governance
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


class SnapshotPool:
    """The pool's shares as of any instant (the snapshot is all a vote reads): a fake of the port."""

    def __init__(self, shares: dict[int, int]):
        self.shares = shares

    def shares_at(self, uow, instant):
        return dict(self.shares)

    def total_at(self, uow, instant):
        return sum(self.shares.values())

    def execute_withdrawal_now(self, new_uow, clock, account_id, idempotency_key):
        raise AssertionError("no ragequit here")


@pytest.fixture
def proposal(live_desk):
    runtime = live_desk.runtime
    alpha = accounts.resolve_account(runtime.uow(), "Alpha Mining").id
    beta = accounts.resolve_account(runtime.uow(), "Beta Trading").id
    pool = SnapshotPool({alpha: 600, beta: 400})
    return governance.propose(runtime.uow(), runtime.clock, pool, beta, {"liquidation.penalty_ratio": "0.015"},
                              "a penalty closer to the pool's risk")


def test_a_trader_records_a_members_vote_and_the_tally_moves(desk_page, live_desk, proposal):
    page = desk_page("trader")
    page.goto(f"{live_desk.url}/desk/governance/proposals")
    page.click(f"#proposals a:text('#{proposal.id}')")
    assert page.locator("#proposal-status").inner_text().lower() == "voting"
    page.fill("#account", "Alpha Mining")
    page.select_option("#choice", "yes")
    page.click("#vote-form button[type=submit]")
    assert "voted yes: yes 600, no 0 of 1,000 shares" in page.locator(".flash-success").inner_text()
    assert page.locator("#yes-weight").inner_text() == "600"
    assert "Alpha Mining" not in page.locator("#votes").inner_text()  # listed by account id
    assert page.locator("#votes tbody tr").count() == 1
    page.fill("#account", "Alpha Mining")
    page.select_option("#choice", "no")
    page.click("#vote-form button[type=submit]")
    assert "a vote is final" in page.locator("#vote-form").inner_text()
    assert page.locator("#no-weight").inner_text() == "0"
    screenshot(page, "governance-proposal")
    assert [p for p in page.problems if "409" not in p] == []  # the refused vote answered 409


def test_the_parameters_page_shows_the_registry_and_refuses_an_emergency_outside_the_committee(desk_page, live_desk):
    page = desk_page("risk")
    page.goto(f"{live_desk.url}/desk/governance/parameters")
    row = page.locator("#parameters tr[data-name='liquidation.penalty_ratio']").inner_text()
    assert "0.01" in row and "[0, 0.05]" in row and "ratio" in row
    assert "Version 1 in force" in page.locator("#version-in-force").inner_text()
    page.select_option("#name", "margin.initial.diff_epoch")
    page.fill("#value", "0.2")
    page.fill("#reason", "hashrate crash")
    page.click("#emergency-form button[type=submit]")
    assert "not on the risk committee" in page.locator("#emergency-form").inner_text()
    screenshot(page, "governance-parameters")
    assert [p for p in page.problems if "403" not in p] == []  # the refused change answered 403

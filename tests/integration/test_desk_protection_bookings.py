"""Protection booked on the desk (SQLite and PostgreSQL): audited like every desk action, and above
the four-eyes notional a request that a second user approves (``services.approvals``)."""

from __future__ import annotations

from datetime import date

import pytest

from hashedge.domain import ledger as journal
from hashedge.domain.four_eyes import DeskParameters
from hashedge.errors import Forbidden, InvalidInput, NotFound
from hashedge.services import approvals, audit, desk_users, ledger, protection
from hashedge.services.audit import Actor
from hashedge.web import create_app
from protection_setup import market

TRADER = Actor("tina", "trader")
RISK = Actor("rick", "risk")
MATURITY = date(2027, 3, 20)
THRESHOLD_SATS = DeskParameters().protection_notional_threshold_sats
PASSWORD = "a long enough password"


def terms(m, **changes) -> dict:
    return dict(buyer_id=m.ids["miner"], seller_id=m.ids["seller"], reference_id=m.ids["trader"],
                notional_sats=5_000_000, premium_bps="20", maturity=MATURITY, settlement="cash") | changes


def escrow_sats(runtime) -> int:
    with runtime.uow() as uow:
        return uow.ledger.balances([journal.PROTECTION_ESCROW]).get(journal.PROTECTION_ESCROW, 0)


def actions(runtime) -> list[str]:
    return [r.action for r in reversed(audit.audit_page(runtime.uow(), page_size=500).items)]


def test_a_booking_up_to_the_four_eyes_notional_is_booked_at_once_and_audited(runtime):
    m = market(runtime)
    submitted = approvals.submit_protection_booking(runtime.session_factory, runtime.clock, TRADER, **terms(m))
    assert not submitted.pending and submitted.contract.contract.notional_sats == 5_000_000
    assert escrow_sats(runtime) == submitted.contract.collateral_sats
    record = audit.audit_page(runtime.uow(), page_size=10).items[0]
    seller = f"collateral_sats:{m.ids['seller']}"
    assert (record.action, record.actor, record.target) == ("protection.book", "tina", f"account:{m.ids['trader']}")
    assert record.before[seller] - record.after[seller] == submitted.contract.collateral_sats


def test_a_booking_above_it_waits_for_a_second_user_then_books_with_the_request_s_terms(runtime):
    m = market(runtime)
    large = terms(m, notional_sats=THRESHOLD_SATS + 1)
    submitted = approvals.submit_protection_booking(runtime.session_factory, runtime.clock, TRADER, **large)
    assert submitted.pending and submitted.request.amount_sats == THRESHOLD_SATS + 1
    assert protection.list_protection(runtime.uow()) == [] and escrow_sats(runtime) == 0  # nothing booked yet
    with pytest.raises(Forbidden):
        approvals.decide(runtime.session_factory, runtime.clock, Actor("tina", "risk"), submitted.request.id,
                         approve=True)  # the requester, whatever their role
    decided = approvals.decide(runtime.session_factory, runtime.clock, RISK, submitted.request.id, approve=True)
    assert decided.status == "executed"
    [booked] = protection.list_protection(runtime.uow())
    c = booked.contract
    assert decided.result["contract_id"] == c.contract_id
    assert (c.buyer_account_id, c.seller_account_id, c.reference_account_id) == (
        str(m.ids["miner"]), str(m.ids["seller"]), str(m.ids["trader"]))
    assert (c.notional_sats, c.premium_bps, c.maturity_date, c.settlement.value) == (
        THRESHOLD_SATS + 1, 20, MATURITY, "cash")
    assert escrow_sats(runtime) == booked.collateral_sats
    recorded = actions(runtime)
    assert recorded[-3] == "request.create" and set(recorded[-2:]) == {"protection.book", "request.approve"}


def test_an_approved_booking_the_seller_can_no_longer_collateralize_fails_and_books_nothing(runtime):
    m = market(runtime)
    submitted = approvals.submit_protection_booking(runtime.session_factory, runtime.clock, TRADER,
                                                    **terms(m, notional_sats=THRESHOLD_SATS + 1))
    ledger.withdraw(runtime.uow(), runtime.clock, m.ids["seller"], 190_000_000, "seller-leaves")
    decided = approvals.decide(runtime.session_factory, runtime.clock, RISK, submitted.request.id, approve=True)
    assert decided.status == "failed" and "cannot post" in decided.reason
    assert protection.list_protection(runtime.uow()) == [] and escrow_sats(runtime) == 0


@pytest.mark.parametrize("bad, field", [({"maturity": date(2027, 3, 21)}, "maturity"),
                                        ({"premium_bps": "-1"}, "premium_bps"),
                                        ({"settlement": "gold"}, "settlement")])
def test_a_large_booking_with_bad_terms_is_refused_at_once_and_stores_no_request(runtime, bad, field):
    m = market(runtime)
    with pytest.raises(InvalidInput) as refused:
        approvals.submit_protection_booking(runtime.session_factory, runtime.clock, TRADER,
                                            **terms(m, notional_sats=THRESHOLD_SATS + 1, **bad))
    assert field in refused.value.fields
    assert approvals.list_requests(runtime.uow()).total == 0


def test_a_large_booking_naming_an_unknown_party_is_refused_at_once(runtime):
    m = market(runtime)
    with pytest.raises(NotFound):
        approvals.submit_protection_booking(runtime.session_factory, runtime.clock, TRADER,
                                            **terms(m, notional_sats=THRESHOLD_SATS + 1, seller_id=999))
    assert approvals.list_requests(runtime.uow()).total == 0


def test_the_desk_form_sends_a_large_booking_to_the_approvals_page(runtime):
    from test_desk_web import login, token_of

    market(runtime)
    desk_users.create_user(runtime.uow(), runtime.clock, "test", "tina", "trader", PASSWORD)
    client = create_app(runtime).test_client()
    login(client, "tina", PASSWORD)
    form = client.get("/desk/protection/new")
    answer = client.post("/desk/protection", data={
        "csrf_token": token_of(form.text), "buyer": "miner", "seller": "seller", "reference": "trader",
        "notional_sats": str(THRESHOLD_SATS + 1), "premium_bps": "20", "maturity": MATURITY.isoformat(),
        "settlement": "cash", "upfront_sats": "0"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/desk/approvals")
    [pending] = approvals.list_requests(runtime.uow(), status="pending").items
    assert pending.kind == "protection_booking" and pending.requested_by == "tina"
    assert protection.list_protection(runtime.uow()) == []

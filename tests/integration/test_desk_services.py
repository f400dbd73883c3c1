"""The desk's services on SQLite and PostgreSQL: desk users and login throttling, actions audited in
their own transaction, four-eyes withdrawals and block trades, block trade previews and reversals,
and an audit log the database keeps append-only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hashedge.domain.instruments import hashprice_monthly
from hashedge.errors import (
    Conflict,
    Forbidden,
    InsufficientCollateral,
    InvalidInput,
    LoginRefused,
    NotFound,
    TooManyAttempts,
)
from hashedge.services import accounts, approvals, audit, block_trades, desk_actions, desk_users, ledger, trading
from hashedge.services.audit import Actor

SYMBOL = "HP-2026-12"
MARK = Decimal(50000)
DEPOSIT_SATS = 200_000_000
TRADER = Actor("tina", "trader")
RISK = Actor("rick", "risk")
VIEWER = Actor("vera", "viewer")


@pytest.fixture
def desk(runtime):
    """HP-2026-12 marked at 50,000; alice, bob and carol with 2 BTC each, deposited through the desk."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    ids = {}
    for name in ("alice", "bob", "carol"):
        account, _ = desk_actions.onboard_account(runtime.session_factory, runtime.clock, TRADER, name)
        desk_actions.deposit(runtime.session_factory, runtime.clock, TRADER, account.id, DEPOSIT_SATS, f"seed-{name}")
        ids[name] = account.id
    return ids


def collateral(runtime, account_id: int) -> int:
    return accounts.account_summary(runtime.uow(), account_id).collateral_sats


def audit_log(runtime, **filters):
    return audit.audit_page(runtime.uow(), page_size=500, **filters).items


# --- users and login --------------------------------------------------------------------------


def test_a_desk_user_logs_in_with_the_password_it_was_given_and_the_hash_is_not_the_password(runtime):
    user, generated = desk_users.create_user(runtime.uow(), runtime.clock, "cli", "tina", "trader")
    assert generated is not None and len(generated) >= 24
    assert generated not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    logged_in = desk_users.authenticate(runtime.uow(), runtime.clock, "tina", generated, "10.0.0.1")
    assert (logged_in.username, logged_in.role) == ("tina", "trader")
    with pytest.raises(LoginRefused):
        desk_users.authenticate(runtime.uow(), runtime.clock, "tina", generated + "x", "10.0.0.1")
    with pytest.raises(LoginRefused):  # an unknown user gets the same answer
        desk_users.authenticate(runtime.uow(), runtime.clock, "nobody", generated, "10.0.0.1")
    actions = [r.action for r in audit_log(runtime)]
    assert actions == ["login.failed", "login.failed", "login", "user.create"]


def test_bad_user_names_roles_and_short_passwords_are_refused_with_field_errors(runtime):
    for username, role, password, field in (("Tina", "trader", None, "username"), ("tina", "boss", None, "role"),
                                            ("tina", "trader", "short", "password")):
        with pytest.raises(InvalidInput) as refused:
            desk_users.create_user(runtime.uow(), runtime.clock, "cli", username, role, password)
        assert field in refused.value.fields
    desk_users.create_user(runtime.uow(), runtime.clock, "cli", "tina", "trader", "a long enough password")
    with pytest.raises(Conflict):
        desk_users.create_user(runtime.uow(), runtime.clock, "cli", "tina", "viewer", "another long password")
    assert [u.username for u in desk_users.list_users(runtime.uow())] == ["tina"]


def test_logins_are_throttled_after_five_failures_until_the_window_passes(runtime):
    password = "correct horse battery"
    desk_users.create_user(runtime.uow(), runtime.clock, "cli", "tina", "trader", password)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            desk_users.authenticate(runtime.uow(), runtime.clock, "tina", "guess guess guess", "10.0.0.2")
    with pytest.raises(TooManyAttempts) as throttled:  # even the right password waits
        desk_users.authenticate(runtime.uow(), runtime.clock, "tina", password, "10.0.0.2")
    assert throttled.value.retry_after_seconds == 15 * 60
    runtime.clock.advance(timedelta(minutes=15))
    assert desk_users.authenticate(runtime.uow(), runtime.clock, "tina", password, "10.0.0.2").username == "tina"


def test_a_disabled_user_cannot_log_in_and_role_changes_are_audited(runtime):
    password = "correct horse battery"
    desk_users.create_user(runtime.uow(), runtime.clock, "cli", "tina", "trader", password)
    desk_users.set_role(runtime.uow(), runtime.clock, "cli", "tina", "risk")
    desk_users.set_disabled(runtime.uow(), runtime.clock, "cli", "tina", True)
    with pytest.raises(LoginRefused):
        desk_users.authenticate(runtime.uow(), runtime.clock, "tina", password, "10.0.0.3")
    changes = {r.action: (r.before, r.after) for r in audit_log(runtime, target="user:tina")}
    assert changes["user.set_role"][0]["role"] == "trader" and changes["user.set_role"][1]["role"] == "risk"
    assert changes["user.disable"][1]["disabled"] is True


# --- audited actions --------------------------------------------------------------------------


def test_a_desk_deposit_is_recorded_with_who_and_the_balance_before_and_after(runtime, desk):
    alice = desk["alice"]
    desk_actions.deposit(runtime.session_factory, runtime.clock, TRADER, alice, 5_000, "top-up", "txid 1")
    record = audit_log(runtime, action="cash.deposit", target=f"account:{alice}")[0]
    assert record.actor == "tina" and record.details["amount_sats"] == 5_000
    assert record.before == {f"collateral_sats:{alice}": DEPOSIT_SATS}
    assert record.after == {f"collateral_sats:{alice}": DEPOSIT_SATS + 5_000}


def test_a_refused_action_leaves_no_audit_record_and_no_money_moved(runtime, desk):
    alice = desk["alice"]
    before = len(audit_log(runtime))
    with pytest.raises(InsufficientCollateral):
        desk_actions.withdraw(runtime.session_factory, runtime.clock, TRADER, alice, DEPOSIT_SATS + 1, "too-much")
    assert len(audit_log(runtime)) == before and collateral(runtime, alice) == DEPOSIT_SATS


def test_the_audit_log_refuses_updates_and_deletes(runtime, desk):
    for statement in ("UPDATE desk_audit SET actor = 'mallory'", "DELETE FROM desk_audit"):
        with runtime.engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
    assert {r.actor for r in audit_log(runtime)} == {"tina"}


def test_onboarding_then_revoking_a_key_is_recorded_against_the_new_account(runtime, desk):
    account, key = desk_actions.onboard_account(runtime.session_factory, runtime.clock, TRADER, "dave")
    assert accounts.authenticate_api_key(runtime.uow(), key) == account.id
    prefix = key.split("_")[1]
    with pytest.raises(NotFound):  # another account's key is not this account's to revoke
        desk_actions.revoke_api_key(runtime.session_factory, runtime.clock, TRADER, desk["alice"], prefix)
    desk_actions.revoke_api_key(runtime.session_factory, runtime.clock, TRADER, account.id, prefix)
    records = audit_log(runtime, target=f"account:{account.id}")
    assert [r.action for r in records] == ["account.revoke_key", "account.create"]
    assert records[0].before["api_keys"] == [{"prefix": prefix, "revoked": False}]
    assert records[0].after["api_keys"] == [{"prefix": prefix, "revoked": True}]


# --- four eyes ----------------------------------------------------------------------------------


def test_a_small_withdrawal_runs_at_once_and_a_large_one_waits_for_a_second_user(runtime, desk):
    alice = desk["alice"]
    small = approvals.submit_withdrawal(runtime.session_factory, runtime.clock, TRADER, alice, 10_000_000,
                                        idempotency_key="w-small")
    assert not small.pending and small.movement.amount_sats == 10_000_000
    large = approvals.submit_withdrawal(runtime.session_factory, runtime.clock, TRADER, alice, 10_000_001,
                                        idempotency_key="w-large", memo="to cold storage")
    assert large.pending and large.request.status == "pending"
    assert collateral(runtime, alice) == DEPOSIT_SATS - 10_000_000
    request_id = large.request.id
    with pytest.raises(Forbidden, match="cannot decide their own"):
        approvals.decide(runtime.session_factory, runtime.clock, Actor("tina", "admin"), request_id, approve=True)
    with pytest.raises(Forbidden, match="cannot approve"):
        approvals.decide(runtime.session_factory, runtime.clock, VIEWER, request_id, approve=True)
    assert collateral(runtime, alice) == DEPOSIT_SATS - 10_000_000
    decided = approvals.decide(runtime.session_factory, runtime.clock, RISK, request_id, approve=True)
    assert (decided.status, decided.decided_by) == ("executed", "rick")
    assert collateral(runtime, alice) == DEPOSIT_SATS - 20_000_001
    with pytest.raises(Conflict, match="already executed"):  # approving twice pays once
        approvals.decide(runtime.session_factory, runtime.clock, Actor("ada", "admin"), request_id, approve=True)
    assert collateral(runtime, alice) == DEPOSIT_SATS - 20_000_001
    actions = [r.action for r in audit_log(runtime, actor="rick")]
    assert actions == ["cash.withdraw", "request.approve"]  # newest first, one transaction
    assert ledger.check_balances(runtime.uow()).ok


def test_rejected_expired_and_failed_requests_stay_on_record_and_move_nothing(runtime, desk):
    alice, bob = desk["alice"], desk["bob"]
    first = approvals.submit_withdrawal(runtime.session_factory, runtime.clock, TRADER, alice, 50_000_000,
                                        idempotency_key="w1").request
    with pytest.raises(InvalidInput):  # a rejection needs a reason
        approvals.decide(runtime.session_factory, runtime.clock, RISK, first.id, approve=False)
    rejected = approvals.decide(runtime.session_factory, runtime.clock, RISK, first.id, approve=False,
                                reason="no instruction on file")
    assert (rejected.status, rejected.reason) == ("rejected", "no instruction on file")
    second = approvals.submit_withdrawal(runtime.session_factory, runtime.clock, TRADER, alice, 50_000_000,
                                         idempotency_key="w2").request
    runtime.clock.advance(timedelta(hours=24))
    with pytest.raises(Conflict, match="expired"):
        approvals.decide(runtime.session_factory, runtime.clock, RISK, second.id, approve=True)
    assert approvals.get_request(runtime.uow(), second.id).status == "expired"
    third = approvals.submit_withdrawal(runtime.session_factory, runtime.clock, TRADER, bob, DEPOSIT_SATS,
                                        idempotency_key="w3").request
    desk_actions.withdraw(runtime.session_factory, runtime.clock, TRADER, bob, 1, "meanwhile")
    failed = approvals.decide(runtime.session_factory, runtime.clock, RISK, third.id, approve=True)
    assert failed.status == "failed" and "exceeds" in failed.reason
    assert collateral(runtime, alice) == DEPOSIT_SATS and collateral(runtime, bob) == DEPOSIT_SATS - 1
    statuses = {r.status for r in approvals.list_requests(runtime.uow()).items}
    assert statuses == {"rejected", "expired", "failed"}


def test_a_withdrawal_that_could_not_pass_now_is_refused_before_it_becomes_a_request(runtime, desk):
    with pytest.raises(InsufficientCollateral):
        approvals.submit_withdrawal(runtime.session_factory, runtime.clock, TRADER, desk["alice"], DEPOSIT_SATS + 1,
                                    idempotency_key="w-too-much")
    assert approvals.list_requests(runtime.uow()).total == 0


def test_a_large_block_trade_waits_for_approval_then_books_both_sides(runtime, desk):
    alice, bob = desk["alice"], desk["bob"]
    small = approvals.submit_block_trade(runtime.session_factory, runtime.clock, TRADER, buyer_id=alice,
                                         seller_id=bob, instrument=SYMBOL, quantity=10, price="50000")
    assert not small.pending and small.trade.fill.quantity == 10  # 15,500,000 sats of notional
    large = approvals.submit_block_trade(runtime.session_factory, runtime.clock, TRADER, buyer_id=alice,
                                         seller_id=bob, instrument=SYMBOL, quantity=70, price="50000")
    assert large.pending and large.request.amount_sats == 70 * 50000 * 31
    approvals.decide(runtime.session_factory, runtime.clock, RISK, large.request.id, approve=True)
    positions = {p.position.account_id: p.position.quantity
                 for a in (alice, bob) for p in trading.list_positions(runtime.uow(), a)}
    assert positions == {str(alice): 80, str(bob): -80}
    record = approvals.get_request(runtime.uow(), large.request.id)
    assert record.status == "executed" and record.result["trade_id"].startswith("BLOCK-")


# --- block trade preview and reversal -----------------------------------------------------------


def test_the_preview_shows_both_sides_margin_after_the_trade_without_booking_it(runtime, desk):
    alice, bob = desk["alice"], desk["bob"]
    preview = block_trades.preview_block_trade(runtime.uow(), runtime.clock, buyer_id=alice, seller_id=bob,
                                               instrument=SYMBOL, quantity=10, price="51000")
    notional = 10 * 51000 * 31
    fee = -(-notional * 5 // 10_000)
    initial_at_mark = -(-10 * 50000 * 31 * 15 // 100)
    assert preview.ok and preview.notional_sats == notional
    assert (preview.band_low, preview.band_high) == (Decimal(47500), Decimal(52500))
    assert preview.buyer.before.initial_margin_sats == 0
    assert preview.buyer.after.initial_margin_sats == initial_at_mark
    assert preview.buyer.after.collateral_sats == DEPOSIT_SATS - fee
    assert preview.buyer.after.unrealized_pnl_sats == -10 * 1000 * 31  # bought 1,000 above the mark
    assert preview.seller.after.unrealized_pnl_sats == 10 * 1000 * 31
    booked = block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=alice, seller_id=bob,
                                           instrument=SYMBOL, quantity=10, price="51000")
    with runtime.uow() as uow:
        from hashedge.services.margin import margin_of
        assert margin_of(uow, alice) == preview.buyer.after
        assert margin_of(uow, bob) == preview.seller.after
    assert booked.buyer_fee_sats == fee


def test_a_preview_reports_a_price_outside_the_band_and_a_side_short_of_margin(runtime, desk):
    preview = block_trades.preview_block_trade(runtime.uow(), runtime.clock, buyer_id=desk["alice"],
                                               seller_id=desk["bob"], instrument=SYMBOL, quantity=1, price="60000")
    assert not preview.ok and "outside the OTC band 47500 to 52500" in preview.price_refusal
    preview = block_trades.preview_block_trade(runtime.uow(), runtime.clock, buyer_id=desk["alice"],
                                               seller_id=desk["bob"], instrument=SYMBOL, quantity=1000, price="50000")
    assert preview.buyer.refusal and preview.buyer.shortfall_sats > 0 and preview.price_refusal is None


def test_reversing_a_block_trade_restores_positions_and_refunds_its_fees_once(runtime, desk):
    alice, bob = desk["alice"], desk["bob"]
    trade = block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=alice, seller_id=bob,
                                          instrument=SYMBOL, quantity=4, price="50500")
    reversal = desk_actions.reverse_block_trade(runtime.session_factory, runtime.clock, TRADER,
                                                trade_id=trade.fill.fill_id, reason="wrong counterparty")
    assert reversal.fill.buyer_account_id == str(bob) and reversal.fill.price == Decimal(50500)
    assert trading.list_positions(runtime.uow(), alice) == trading.list_positions(runtime.uow(), bob) == []
    assert collateral(runtime, alice) == collateral(runtime, bob) == DEPOSIT_SATS
    for trade_id in (trade.fill.fill_id, reversal.fill.fill_id):
        with pytest.raises(Conflict):
            desk_actions.reverse_block_trade(runtime.session_factory, runtime.clock, TRADER, trade_id=trade_id,
                                             reason="again")
    lines, total = block_trades.recent_block_trades(runtime.uow())
    assert total == 2
    by_id = {line.trade.fill.fill_id: line for line in lines}
    assert by_id[trade.fill.fill_id].reversed_by == reversal.fill.fill_id
    assert by_id[reversal.fill.fill_id].reverses == trade.fill.fill_id
    assert by_id[trade.fill.fill_id].reason == "wrong counterparty"
    assert ledger.check_balances(runtime.uow()).ok


def test_the_account_list_filters_by_name_in_any_case_and_pages(runtime, desk):
    for name in ("Delta_Hash", "deltahash", "Echo"):
        desk_actions.onboard_account(runtime.session_factory, runtime.clock, TRADER, name)
    found = accounts.list_accounts(runtime.uow(), name_contains="DELTA")
    assert [line.account.name for line in found.items] == ["Delta_Hash", "deltahash"] and found.total == 2
    underscore = accounts.list_accounts(runtime.uow(), name_contains="a_h")  # "_" is a letter here, not a wildcard
    assert [line.account.name for line in underscore.items] == ["Delta_Hash"]
    second = accounts.list_accounts(runtime.uow(), page=2, page_size=2)
    assert [line.account.name for line in second.items] == ["carol", "Delta_Hash"] and second.total == 6
    assert second.items[0].collateral_sats == DEPOSIT_SATS and second.items[0].active_keys == 1
    with pytest.raises(InvalidInput):
        accounts.list_accounts(runtime.uow(), page=0)

"""Accounts, API keys, deposits, withdrawals and statements through the services, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hashedge.domain.ledger import EXTERNAL_CUSTODY, Ledger
from hashedge.errors import (
    Conflict,
    IdempotencyKeyReused,
    InsufficientCollateral,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from hashedge.services import accounts, ledger
from hashedge.services.ledger import MAX_AMOUNT_SATS


@pytest.fixture
def alice(runtime):
    account, _key = accounts.create_account(runtime.uow(), runtime.clock, "alice")
    return account


def balance_of(runtime, account_id: int) -> int:
    return accounts.account_summary(runtime.uow(), account_id).collateral_sats


# --- accounts and keys ------------------------------------------------------------------


def test_a_new_account_has_an_empty_collateral_account_and_a_key_that_authenticates(runtime):
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "  Miner One ")
    assert account.name == "Miner One" and account.created_at == runtime.clock.now()
    assert key.startswith("he_") and accounts.authenticate_api_key(runtime.uow(), key) == account.id
    summary = accounts.account_summary(runtime.uow(), account.id)
    assert (summary.collateral_sats, summary.equity_sats, summary.free_collateral_sats) == (0, 0, 0)
    assert (summary.initial_margin_sats, summary.maintenance_margin_sats, summary.status) == (0, 0, "healthy")


def test_the_key_itself_is_never_stored(runtime):
    _account, key = accounts.create_account(runtime.uow(), runtime.clock, "alice")
    with runtime.uow() as uow:
        record = uow.api_keys.by_prefix(key.split("_")[1])
    assert key not in record.secret_hash and key.split("_", 2)[2] not in record.secret_hash
    assert record.secret_hash.startswith("pbkdf2_sha256$")


@pytest.mark.parametrize("name", ["", "   ", "12345", "-dash-first", "x" * 65, "semi;colon", "tab\tname"])
def test_account_names_must_be_readable_and_never_look_like_ids(runtime, name):
    with pytest.raises(InvalidInput) as raised:
        accounts.create_account(runtime.uow(), runtime.clock, name)
    assert "name" in raised.value.fields


def test_an_account_name_is_taken_once(runtime, alice):
    with pytest.raises(Conflict, match="already exists"):
        accounts.create_account(runtime.uow(), runtime.clock, "alice")


def test_accounts_are_found_by_id_or_by_name(runtime, alice):
    assert accounts.resolve_account(runtime.uow(), str(alice.id)) == alice
    assert accounts.resolve_account(runtime.uow(), "alice") == alice
    for unknown in ("bob", "999", "9" * 40):
        with pytest.raises(NotFound):
            accounts.resolve_account(runtime.uow(), unknown)


def test_wrong_malformed_missing_and_revoked_keys_are_all_refused_alike(runtime, alice):
    key = accounts.issue_api_key(runtime.uow(), runtime.clock, alice.id)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for candidate in (None, "", "nonsense", forged, key + "x", "he_000000000000_" + "A" * 43):
        with pytest.raises(Unauthenticated):
            accounts.authenticate_api_key(runtime.uow(), candidate)
    accounts.revoke_api_key(runtime.uow(), runtime.clock, key.split("_")[1])
    with pytest.raises(Unauthenticated):
        accounts.authenticate_api_key(runtime.uow(), key)


# --- deposits and withdrawals ----------------------------------------------------------


def test_a_deposit_credits_collateral_against_custody(runtime, alice):
    movement = ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100_000, "d-1")
    assert (movement.kind, movement.amount_sats, movement.idempotency_key, movement.replayed) == (
        "deposit", 100_000, "d-1", False)
    with runtime.uow() as uow:
        balances = uow.ledger.balances()
    assert balances[alice.collateral] == 100_000 and balances[EXTERNAL_CUSTODY] == -100_000


def test_the_same_request_twice_is_posted_once(runtime, alice):
    first = ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100_000, "d-1")
    runtime.clock.advance(timedelta(seconds=30))
    again = ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100_000, "d-1")
    assert again.replayed and again.entry_id == first.entry_id and again.occurred_at == first.occurred_at
    assert balance_of(runtime, alice.id) == 100_000


def test_a_key_reused_for_another_request_is_a_conflict(runtime, alice):
    ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100_000, "k")
    with pytest.raises(IdempotencyKeyReused, match="'k'"):
        ledger.deposit(runtime.uow(), runtime.clock, alice.id, 99_999, "k")
    with pytest.raises(IdempotencyKeyReused):
        ledger.withdraw(runtime.uow(), runtime.clock, alice.id, 100_000, "k")
    assert balance_of(runtime, alice.id) == 100_000


def test_idempotency_keys_belong_to_one_account(runtime, alice):
    bob, _ = accounts.create_account(runtime.uow(), runtime.clock, "bob")
    ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100, "same-key")
    assert not ledger.deposit(runtime.uow(), runtime.clock, bob.id, 200, "same-key").replayed
    assert (balance_of(runtime, alice.id), balance_of(runtime, bob.id)) == (100, 200)


def test_a_withdrawal_may_take_everything_free_and_not_a_satoshi_more(runtime, alice):
    ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100_000, "d")
    with pytest.raises(InsufficientCollateral) as raised:
        ledger.withdraw(runtime.uow(), runtime.clock, alice.id, 100_001, "w-1")
    denial = raised.value
    assert (denial.amount_sats, denial.balance_sats, denial.free_collateral_sats, denial.shortfall_sats) == (
        100_001, 100_000, 100_000, 1)
    assert denial.fields == {"amount_sats": [denial.message]}
    ledger.withdraw(runtime.uow(), runtime.clock, alice.id, 100_000, "w-1")  # the refused key is free
    assert balance_of(runtime, alice.id) == 0


def test_a_withdrawal_never_takes_free_collateral_below_initial_margin(runtime, alice):
    ledger.deposit(runtime.uow(), runtime.clock, alice.id, 100_000, "d")
    seen = []

    def open_positions_need_60_000(account_id, uow):
        seen.append(account_id)
        return 60_000

    with pytest.raises(InsufficientCollateral, match="initial margin 60000 sats") as raised:
        ledger.withdraw(runtime.uow(), runtime.clock, alice.id, 40_001, "w", open_positions_need_60_000)
    assert raised.value.initial_margin_sats == 60_000 and raised.value.shortfall_sats == 1
    ledger.withdraw(runtime.uow(), runtime.clock, alice.id, 40_000, "w", open_positions_need_60_000)
    assert balance_of(runtime, alice.id) == 60_000 and seen == [alice.id, alice.id]


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT_SATS + 1, 1.5, "100", True, None])
def test_amounts_must_be_whole_positive_satoshis(runtime, alice, amount):
    for call in (ledger.deposit, ledger.withdraw):
        with pytest.raises(InvalidInput) as raised:
            call(runtime.uow(), runtime.clock, alice.id, amount, "key")
        assert "amount_sats" in raised.value.fields


@pytest.mark.parametrize("key", ["", "has space", "x" * 101, "caf\u00e9", None])
def test_idempotency_keys_are_short_visible_ascii(runtime, alice, key):
    with pytest.raises(InvalidInput) as raised:
        ledger.deposit(runtime.uow(), runtime.clock, alice.id, 1, key)
    assert "idempotency_key" in raised.value.fields


def test_money_for_an_unknown_account_is_refused(runtime):
    with pytest.raises(NotFound):
        ledger.deposit(runtime.uow(), runtime.clock, 42, 1_000, "d")


# --- statements and reconciliation -------------------------------------------------------


@pytest.fixture
def history(runtime, alice):
    """Five movements, an hour apart: +100,000  -30,000  +5,000  -1,000  +20,000."""
    for n, amount in enumerate([100_000, -30_000, 5_000, -1_000, 20_000]):
        call = ledger.deposit if amount > 0 else ledger.withdraw
        call(runtime.uow(), runtime.clock, alice.id, abs(amount), f"m-{n}")
        runtime.clock.advance(timedelta(hours=1))
    return alice


def test_a_statement_lists_entries_with_running_balances(runtime, history):
    page = ledger.statement(runtime.uow(), history.id)
    assert [line.amount_sats for line in page.lines] == [100_000, -30_000, 5_000, -1_000, 20_000]
    assert [line.balance_after_sats for line in page.lines] == [100_000, 70_000, 75_000, 74_000, 94_000]
    assert (page.opening_balance_sats, page.closing_balance_sats, page.total) == (0, 94_000, 5)
    assert page.lines[1].kind == "withdrawal"


def test_statement_pages_carry_the_balance_forward(runtime, history):
    pages = [ledger.statement(runtime.uow(), history.id, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [p.opening_balance_sats for p in pages] == [0, 70_000, 74_000, 94_000]
    assert [p.closing_balance_sats for p in pages] == [70_000, 74_000, 94_000, 94_000]
    assert [len(p.lines) for p in pages] == [2, 2, 1, 0]


def test_a_statement_can_cover_a_time_window(runtime, history):
    start = runtime.clock.now() - timedelta(hours=4)  # the second movement, inclusive
    page = ledger.statement(runtime.uow(), history.id, start, start + timedelta(hours=2))
    assert [line.amount_sats for line in page.lines] == [-30_000, 5_000, -1_000]
    assert (page.opening_balance_sats, page.closing_balance_sats) == (100_000, 74_000)
    empty = ledger.statement(runtime.uow(), history.id, start + timedelta(minutes=1), start + timedelta(minutes=2))
    assert (empty.total, empty.opening_balance_sats, empty.closing_balance_sats) == (0, 70_000, 70_000)


@pytest.mark.parametrize("query, field", [
    ({"page": 0}, "page"), ({"page": 10**30}, "page"), ({"page_size": 0}, "page_size"),
    ({"page_size": 1001}, "page_size")])
def test_bad_statement_queries_name_the_field(runtime, alice, query, field):
    with pytest.raises(InvalidInput) as raised:
        ledger.statement(runtime.uow(), alice.id, **query)
    assert field in raised.value.fields


def test_the_stored_journal_rebuilds_the_stored_balances_in_the_domain_ledger(runtime, history):
    with runtime.uow() as uow:
        journal = Ledger(recorded.entry for recorded in uow.ledger.entries())
        stored = uow.ledger.balances()
    journal.verify()
    assert {a: b for a, b in stored.items() if b} == journal.balances()
    assert ledger.check_balances(runtime.uow()).ok

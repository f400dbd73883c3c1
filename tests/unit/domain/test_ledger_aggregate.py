from datetime import datetime, timedelta, timezone

import pytest

from hashedge.domain import ledger
from hashedge.domain.denials import RejectReason
from hashedge.domain.errors import IdempotencyConflict, LedgerOutOfBalance
from hashedge.domain.ledger import EXTERNAL_CUSTODY, FEES, Ledger, collateral

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)

ALICE, BOB = collateral("alice"), collateral("bob")


def funded_ledger() -> Ledger:
    book = Ledger()
    book.apply(ledger.deposit("alice", 1_000, idempotency_key="d1", occurred_at=T0))
    book.apply(ledger.deposit("bob", 500, idempotency_key="d2", occurred_at=T0))
    book.apply(ledger.fee("alice", 10, idempotency_key="f1", occurred_at=T0))
    return book


def test_balances_are_derived_from_the_entries_applied():
    book = funded_ledger()
    assert book.balance(ALICE) == 990
    assert book.balance(BOB) == 500
    assert book.balance(FEES) == 10
    assert book.balance(EXTERNAL_CUSTODY) == -1_500
    assert book.balance(collateral("nobody")) == 0


def test_custody_goes_negative_by_what_the_platform_holds_so_all_balances_sum_to_zero():
    book = funded_ledger()
    assert book.total_sats() == 0
    book.verify()


def test_applying_the_same_entry_twice_returns_the_original_and_changes_nothing():
    book = funded_ledger()
    first = book.get("d1")
    retry = ledger.deposit("alice", 1_000, idempotency_key="d1", occurred_at=T0 + timedelta(seconds=5), memo="retry")
    assert book.apply(retry) is first
    assert book.balance(ALICE) == 990 and len(book.entries) == 3


def test_reusing_an_idempotency_key_for_different_content_is_a_conflict():
    book = funded_ledger()
    other = ledger.deposit("alice", 999, idempotency_key="d1", occurred_at=T0)
    with pytest.raises(IdempotencyConflict) as raised:
        book.apply(other)
    assert raised.value.idempotency_key == "d1"
    assert raised.value.original is book.get("d1") and raised.value.proposed is other
    assert book.balance(ALICE) == 990


def test_a_ledger_can_be_rebuilt_from_its_journal():
    book = funded_ledger()
    assert Ledger(book.entries).balances() == book.balances()


def test_stored_balances_that_disagree_with_the_journal_fail_loudly():
    book = funded_ledger()
    stored = book.balances() | {ALICE: 991}
    with pytest.raises(LedgerOutOfBalance) as raised:
        ledger.check_balances(stored, book.entries)
    assert raised.value.differences == {"collateral:alice": (991, 990)}


def test_a_withdrawal_within_free_collateral_is_allowed():
    assert ledger.withdrawal_denial(400, free_collateral_sats=400) is None


def test_a_withdrawal_above_free_collateral_is_denied_with_the_shortfall():
    denial = ledger.withdrawal_denial(500, free_collateral_sats=380)
    assert denial.reason is RejectReason.INSUFFICIENT_FREE_COLLATERAL
    assert denial.field == "amount_sats" and denial.shortfall_sats == 120
    assert denial.message == "withdrawal of 500 sats exceeds free collateral of 380 sats by 120 sats"


def test_negative_free_collateral_counts_as_none():
    assert ledger.withdrawal_denial(1, free_collateral_sats=-50).shortfall_sats == 1


def test_a_withdrawal_of_nothing_is_denied():
    assert ledger.withdrawal_denial(0, free_collateral_sats=10).reason is RejectReason.AMOUNT_NOT_POSITIVE

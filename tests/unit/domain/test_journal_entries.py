from datetime import datetime, timezone
from decimal import Decimal

import pytest

from hashedge.domain import ledger
from hashedge.domain.errors import InvalidEntry, InvalidValue, UnbalancedEntry
from hashedge.domain.ledger import (
    EXTERNAL_CUSTODY,
    FEES,
    INSURANCE_FUND,
    SETTLEMENT_CLEARING,
    AccountKind,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    Posting,
    collateral,
)

T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)

ALICE, BOB = collateral("alice"), collateral("bob")


def entry(*postings: Posting, key: str = "k1") -> JournalEntry:
    return JournalEntry(kind=EntryKind.TRANSFER, idempotency_key=key, postings=postings, occurred_at=T0)


def test_an_entry_whose_postings_sum_to_zero_is_accepted():
    e = entry(Posting(ALICE, -30), Posting(BOB, 20), Posting(FEES, 10))
    assert e.amount_for(BOB) == 20


def test_an_unbalanced_entry_is_refused_with_its_total():
    with pytest.raises(UnbalancedEntry) as raised:
        entry(Posting(ALICE, -30), Posting(BOB, 29), key="dep-7")
    assert raised.value.total_sats == -1
    assert raised.value.idempotency_key == "dep-7"
    assert str(raised.value) == "journal entry 'dep-7' does not balance: postings sum to -1 sats, expected 0"


@pytest.mark.parametrize("amount", [True, 1.0, Decimal("1"), "1"])
def test_a_posting_amount_must_be_an_int_of_sats(amount):
    with pytest.raises(InvalidValue) as raised:
        Posting(ALICE, amount)
    assert raised.value.field == "amount_sats"


def test_a_posting_of_zero_is_refused():
    with pytest.raises(InvalidValue):
        Posting(ALICE, 0)


def test_an_entry_needs_at_least_two_postings():
    with pytest.raises(InvalidEntry, match="at least two postings"):
        entry()


def test_an_account_appears_at_most_once_in_an_entry():
    with pytest.raises(InvalidEntry, match="more than one posting"):
        entry(Posting(ALICE, -5), Posting(ALICE, 5))


def test_an_entry_needs_an_aware_time_and_a_key():
    with pytest.raises(InvalidEntry, match="timezone-aware"):
        JournalEntry(kind="fee", idempotency_key="k", postings=(Posting(ALICE, -1), Posting(FEES, 1)),
                     occurred_at=datetime(2026, 1, 1))
    with pytest.raises(InvalidValue):
        entry(Posting(ALICE, -1), Posting(FEES, 1), key="")


def test_account_kinds_and_owners_go_together():
    assert collateral("alice").key == "collateral:alice"
    assert LedgerAccount.parse("collateral:alice") == ALICE
    assert LedgerAccount.parse("fees") == FEES
    with pytest.raises(InvalidValue):
        LedgerAccount(AccountKind.COLLATERAL)
    with pytest.raises(InvalidValue):
        LedgerAccount(AccountKind.FEES, "alice")


def test_a_deposit_moves_sats_from_custody_into_collateral():
    e = ledger.deposit("alice", 1_000, idempotency_key="d1", occurred_at=T0)
    assert e.kind is EntryKind.DEPOSIT
    assert {(p.account, p.amount_sats) for p in e.postings} == {(EXTERNAL_CUSTODY, -1_000), (ALICE, 1_000)}


def test_a_withdrawal_moves_sats_from_collateral_back_to_custody():
    e = ledger.withdrawal("alice", 400, idempotency_key="w1", occurred_at=T0)
    assert {(p.account, p.amount_sats) for p in e.postings} == {(ALICE, -400), (EXTERNAL_CUSTODY, 400)}


def test_a_fee_moves_sats_from_collateral_to_the_fees_account():
    e = ledger.fee("bob", 7, idempotency_key="f1", occurred_at=T0, memo="taker fee")
    assert {(p.account, p.amount_sats) for p in e.postings} == {(BOB, -7), (FEES, 7)}
    assert e.memo == "taker fee"


@pytest.mark.parametrize("amount", [0, -5])
def test_builders_refuse_amounts_that_are_not_positive(amount):
    with pytest.raises(InvalidValue):
        ledger.deposit("alice", amount, idempotency_key="d", occurred_at=T0)


def test_a_transfer_between_two_accounts_of_the_platform():
    e = ledger.transfer(FEES, INSURANCE_FUND, 30, idempotency_key="t1", occurred_at=T0)
    assert {(p.account, p.amount_sats) for p in e.postings} == {(FEES, -30), (INSURANCE_FUND, 30)}
    with pytest.raises(InvalidValue):
        ledger.transfer(FEES, FEES, 30, idempotency_key="t2", occurred_at=T0)


def test_variation_margin_pays_gains_and_collects_losses_through_clearing():
    e = ledger.variation_margin({"alice": 120, "bob": -125}, idempotency_key="vm", occurred_at=T0)
    assert e.kind is EntryKind.VARIATION_MARGIN
    assert {(p.account, p.amount_sats) for p in e.postings} == {(ALICE, 120), (BOB, -125), (SETTLEMENT_CLEARING, 5)}


def test_variation_margin_that_nets_out_leaves_clearing_untouched():
    e = ledger.variation_margin({"alice": 50, "bob": -50, "carol": 0}, idempotency_key="vm", occurred_at=T0)
    assert {p.account for p in e.postings} == {ALICE, BOB}


def test_variation_margin_with_nothing_to_move_is_no_entry():
    assert ledger.variation_margin({"alice": 0}, idempotency_key="vm", occurred_at=T0) is None
    assert ledger.final_settlement({}, idempotency_key="fs", occurred_at=T0) is None


def test_final_settlement_is_posted_against_clearing():
    e = ledger.final_settlement({"alice": -10, "bob": 10}, idempotency_key="fs", occurred_at=T0)
    assert e.kind is EntryKind.FINAL_SETTLEMENT and sum(p.amount_sats for p in e.postings) == 0


def test_a_reversal_undoes_every_posting_of_the_original():
    original = ledger.fee("bob", 7, idempotency_key="f1", occurred_at=T0)
    undo = ledger.reversal(original, idempotency_key="f1-rev", occurred_at=T0)
    assert undo.kind is EntryKind.REVERSAL and undo.memo == "reverses f1"
    assert {(p.account, p.amount_sats) for p in undo.postings} == {(BOB, 7), (FEES, -7)}

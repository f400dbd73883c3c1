"""The journal's invariants held by the database itself, on SQLite and PostgreSQL: raw SQL that
would unbalance or rewrite the journal is refused, whatever the application does."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from hashedge.adapters.orm import Base
from hashedge.adapters.orm.ledger import AccountRow
from hashedge.services import accounts, ledger

LEDGER_TABLES = {"accounts", "api_keys", "ledger_balances", "journal_entries", "journal_postings", "journal_chain"}


@pytest.fixture
def funded(runtime):
    """One participant with 100,000 sats deposited (entry 1)."""
    account, _key = accounts.create_account(runtime.uow(), runtime.clock, "alice")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000, "first-deposit")
    return account


def raw(runtime, *statements: str) -> None:
    """Run statements in one transaction, committing at the end."""
    with runtime.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def postings(entry_id: int, *moves: tuple[str, int]) -> str:
    values = ", ".join(f"({entry_id}, '{key}', {amount})" for key, amount in moves)
    return f"INSERT INTO journal_postings (entry_id, account_key, amount_sats) VALUES {values}"


def entry(entry_id: int, key: str) -> str:
    return ("INSERT INTO journal_entries (id, kind, idempotency_key, memo, occurred_at, recorded_at) "
            f"VALUES ({entry_id}, 'transfer', '{key}', '', '2026-11-01 00:00:00', '2026-11-01 00:00:00')")


def test_a_balanced_entry_written_postings_first_is_accepted(runtime, funded):
    raw(runtime, postings(100, ("collateral:1", -10), ("fees", 10)), entry(100, "raw-fee"))
    with runtime.uow() as uow:
        stored = uow.ledger.find("raw-fee")
    assert stored.entry.content[1] == (("collateral:1", -10), ("fees", 10))


def test_an_unbalanced_entry_is_refused_by_the_database(runtime, funded):
    with pytest.raises(DBAPIError, match="sum to zero"):
        raw(runtime, postings(100, ("collateral:1", -10), ("fees", 9)), entry(100, "unbalanced"))
    assert ledger.check_balances(runtime.uow()).ok


def test_an_entry_with_a_single_posting_or_none_is_refused(runtime, funded):
    with pytest.raises(DBAPIError, match="at least two postings"):
        raw(runtime, postings(100, ("fees", 10)), entry(100, "lonely"))
    with pytest.raises(DBAPIError, match="at least two postings"):
        raw(runtime, entry(101, "empty"))


def test_postings_whose_entry_never_arrives_fail_the_commit(runtime, funded):
    with pytest.raises(IntegrityError):
        raw(runtime, postings(100, ("collateral:1", -10), ("fees", 10)))
    with runtime.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM journal_postings")).scalar() == 2


def test_a_chain_link_needs_a_written_entry(runtime, funded):
    with runtime.uow() as uow:
        head = uow.ledger.chain.head()
    link = (f"INSERT INTO journal_chain (seq, entry_id, content_sha256, chain_sha256) "
            f"VALUES ({head.seq + 1}, {{entry}}, '{'0' * 64}', '{'1' * 64}')")
    with pytest.raises(IntegrityError):
        raw(runtime, link.format(entry=head.entry_id + 1))  # no such entry
    with pytest.raises(IntegrityError):  # the entry's postings and row in the same transaction, after its link
        raw(runtime, link.format(entry=100), postings(100, ("collateral:1", -10), ("fees", 10)), entry(100, "late"))
    with runtime.uow() as uow:
        assert uow.ledger.chain.head() == head
        assert uow.ledger.find("late") is None


def test_a_written_entry_takes_no_more_postings(runtime, funded):
    with pytest.raises(DBAPIError, match="already written"):
        raw(runtime, postings(1, ("fees", 1), ("insurance_fund", -1)))


def test_journal_rows_cannot_be_updated_or_deleted(runtime, funded):
    for statement in ("UPDATE journal_postings SET amount_sats = 1",
                      "DELETE FROM journal_postings",
                      "UPDATE journal_entries SET memo = 'edited'",
                      "DELETE FROM journal_entries"):
        with pytest.raises(DBAPIError, match="immutable"):
            raw(runtime, statement)
    assert ledger.statement(runtime.uow(), funded.id).closing_balance_sats == 100_000


def test_zero_postings_and_unknown_accounts_are_refused(runtime, funded):
    with pytest.raises(IntegrityError):
        raw(runtime, postings(100, ("collateral:1", 0), ("fees", 0)), entry(100, "zeros"))
    with pytest.raises(IntegrityError):
        raw(runtime, postings(100, ("collateral:999", -5), ("fees", 5)), entry(100, "stranger"))


def test_an_idempotency_key_names_one_entry(runtime, funded):
    with pytest.raises(IntegrityError):
        raw(runtime, postings(100, ("fees", -5), ("insurance_fund", 5)),
            entry(100, "account:1:first-deposit"))


def test_a_tampered_balance_shows_up_in_the_reconciliation(runtime, funded):
    raw(runtime, "UPDATE ledger_balances SET balance_sats = balance_sats + 7 WHERE account_key = 'collateral:1'")
    check = ledger.check_balances(runtime.uow())
    assert not check.ok
    assert check.differences == {"collateral:1": (100_007, 100_000)}
    assert check.unbalanced_entries == {} and check.total_sats == 0


def test_platform_accounts_exist_from_the_start_with_zero_balances(runtime):
    with runtime.uow() as uow:
        balances = {account.key: amount for account, amount in uow.ledger.balances().items()}
    assert balances == {key: 0 for key in ("fees", "insurance_fund", "backstop_pool", "community_fund",
                                           "settlement_clearing", "external_custody", "penalty_escrow",
                                           "protection_escrow")}


def test_the_orm_describes_the_migrated_ledger_tables(runtime):
    assert AccountRow.__table__.metadata is Base.metadata
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to:
                type_ != "table" or name in LEDGER_TABLES,
        })
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_append_returns_the_entry_exactly_as_it_reads_back(runtime, funded):
    from datetime import timedelta, timezone

    from hashedge.domain import ledger as journal

    elsewhere = timezone(timedelta(hours=5))  # an aware time in another zone: stored and returned in UTC
    entry = journal.transfer(journal.FEES, journal.collateral(str(funded.id)), 25, idempotency_key="rebate-1",
                             occurred_at=runtime.clock.now().astimezone(elsewhere), memo="fee rebate")
    with runtime.uow() as uow:
        appended = uow.ledger.append(entry, runtime.clock.now().astimezone(elsewhere))
        uow.commit()
    with runtime.uow() as uow:
        assert uow.ledger.find("rebate-1") == appended
    assert appended.entry.occurred_at.utcoffset() == timedelta(0)
    assert ledger.check_balances(runtime.uow()).ok

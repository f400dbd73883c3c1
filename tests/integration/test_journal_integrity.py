"""Tamper evidence on SQLite and PostgreSQL: an upsert cannot rewrite a fixing or a journal entry,
and a rewrite made after dropping the triggers is still found by ``hashedge ledger check``, which
names the entry (the journal's hash chain, ``hashedge/domain/JOURNAL.md``)."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from hashedge.domain.journal_chain import GENESIS, StoredContent, next_link_sha256
from hashedge.services import accounts, ledger
from tests.integration.test_storage import SampleFixing

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def raw(runtime, *statements: str) -> None:
    with runtime.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def dialect(runtime) -> str:
    return runtime.engine.dialect.name


def ledger_check(runtime) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    environment["HASHEDGE_DATABASE_URL"] = runtime.settings.database_url
    environment["HASHEDGE_INSTANCE_DIR"] = str(runtime.settings.instance_dir)
    return subprocess.run([HASHEDGE, "ledger", "check"], env=environment, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def journal(runtime):
    """alice deposits 100,000 (entry 1), bob 50,000 (entry 2), alice withdraws 30,000 (entry 3)."""
    clock = runtime.clock
    alice, _ = accounts.create_account(runtime.uow(), clock, "alice")
    bob, _ = accounts.create_account(runtime.uow(), clock, "bob")
    ledger.deposit(runtime.uow(), clock, alice.id, 100_000, "d-1")
    ledger.deposit(runtime.uow(), clock, bob.id, 50_000, "d-2")
    ledger.withdraw(runtime.uow(), clock, alice.id, 30_000, "w-1")
    return alice, bob


def drop_immutability_triggers(runtime) -> None:
    """What someone with owner rights on the database can do."""
    if dialect(runtime) == "postgresql":
        raw(runtime, *(f"ALTER TABLE {table} DISABLE TRIGGER USER"
                       for table in ("journal_entries", "journal_postings", "journal_chain")))
        return
    with runtime.engine.connect() as connection:
        names = connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'journal%'")).scalars().all()
    raw(runtime, *(f"DROP TRIGGER {name}" for name in names))


def test_a_fresh_journal_passes_and_the_check_prints_the_chain_head(runtime, journal):
    result = ledger_check(runtime)
    assert result.returncode == 0, result.stderr
    with runtime.uow() as uow:
        head = uow.ledger.chain.head()
        entries = uow.ledger.entries()
    assert head.seq == 3 and f"head {head.chain_sha256}" in result.stdout
    chain = GENESIS  # the head follows from the entries as the documented formula says
    for recorded in entries:
        content = StoredContent.of(recorded.id, recorded.entry, recorded.recorded_at).sha256()
        chain = next_link_sha256(chain, content)
    assert chain == head.chain_sha256


def test_an_upsert_cannot_rewrite_a_journal_entry(runtime, journal):
    columns = "id, kind, idempotency_key, memo, occurred_at, recorded_at"
    select = ("SELECT id, kind, idempotency_key, 'rewritten', occurred_at, recorded_at "
              "FROM journal_entries WHERE id = 2")
    if dialect(runtime) == "sqlite":
        statement = f"INSERT OR REPLACE INTO journal_entries ({columns}) {select}"
    else:
        statement = (f"INSERT INTO journal_entries ({columns}) {select} "
                     "ON CONFLICT (id) DO UPDATE SET memo = 'rewritten'")
    with pytest.raises(DBAPIError, match="immutable"):
        raw(runtime, statement)
    with runtime.uow() as uow:
        assert uow.ledger.find("account:2:d-2").entry.memo == ""
    assert ledger.check_balances(runtime.uow()).ok


def test_an_upsert_cannot_rewrite_a_fixing(runtime, clock):
    with runtime.uow() as uow:
        uow.fixings.add([SampleFixing()], published_at=clock.now())
        uow.commit()
    columns = [column["name"] for column in inspect(runtime.engine).get_columns("fixings")]
    values = ", ".join("'1'" if name == "value" else name for name in columns)
    select = f"SELECT {values} FROM fixings"
    if dialect(runtime) == "sqlite":
        statement = f"INSERT OR REPLACE INTO fixings ({', '.join(columns)}) {select}"
    else:
        statement = f"INSERT INTO fixings ({', '.join(columns)}) {select} ON CONFLICT (id) DO UPDATE SET value = '1'"
    with pytest.raises(DBAPIError, match="immutable"):
        raw(runtime, statement)
    with runtime.uow() as uow:
        [stored] = uow.fixings.latest()
    assert stored.value == Decimal("86388558925171.02")


def test_moving_money_between_entries_with_the_triggers_dropped_is_found_and_named(runtime, journal):
    """The careful forger: entry 2's deposit is cut by 20,000 which entry 1 gains, and the stored
    balances are adjusted to match, so every balance agrees with the journal; only the chain
    sees that entries 1 and 2 are not what was written."""
    alice, bob = journal
    drop_immutability_triggers(runtime)
    def posting(entry_id: int, key: str, amount: int) -> str:
        return (f"UPDATE journal_postings SET amount_sats = {amount} "
                f"WHERE entry_id = {entry_id} AND account_key = '{key}'")

    raw(runtime,
        posting(1, f"collateral:{alice.id}", 120_000), posting(1, "external_custody", -120_000),
        posting(2, f"collateral:{bob.id}", 30_000), posting(2, "external_custody", -30_000),
        f"UPDATE ledger_balances SET balance_sats = balance_sats + 20000 WHERE account_key = 'collateral:{alice.id}'",
        f"UPDATE ledger_balances SET balance_sats = balance_sats - 20000 WHERE account_key = 'collateral:{bob.id}'")

    check = ledger.check_balances(runtime.uow())
    assert check.differences == {} and check.unbalanced_entries == {} and check.total_sats == 0
    assert [fault.entry_id for fault in check.chain_faults] == [1, 2] and not check.ok
    result = ledger_check(runtime)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "TAMPERED entry 1 was rewritten" in result.stderr
    assert "TAMPERED entry 2 was rewritten" in result.stderr


def test_a_memo_rewritten_by_insert_or_replace_without_triggers_is_found(runtime, journal):
    drop_immutability_triggers(runtime)
    if dialect(runtime) == "sqlite":
        raw(runtime, "INSERT OR REPLACE INTO journal_entries (id, kind, idempotency_key, memo, occurred_at, "
                     "recorded_at) SELECT id, kind, idempotency_key, 'refund', occurred_at, recorded_at "
                     "FROM journal_entries WHERE id = 3")
    else:
        raw(runtime, "UPDATE journal_entries SET memo = 'refund' WHERE id = 3")
    result = ledger_check(runtime)
    assert result.returncode == 1
    assert "TAMPERED entry 3 was rewritten" in result.stderr


def test_rewriting_an_entry_and_its_own_link_breaks_the_next_link(runtime, journal):
    """Recomputing the rewritten entry's hashes is not enough: the link after it was computed from
    the old chain hash. (Rewriting every later link too is only caught against a published head.)"""
    drop_immutability_triggers(runtime)
    raw(runtime, "UPDATE journal_entries SET memo = 'refund' WHERE id = 2")
    with runtime.uow() as uow:
        [recorded] = [r for r in uow.ledger.entries() if r.id == 2]
        previous = uow.session.execute(text("SELECT chain_sha256 FROM journal_chain WHERE seq = 1")).scalar()
    content = StoredContent.of(2, recorded.entry, recorded.recorded_at).sha256()
    raw(runtime, f"UPDATE journal_chain SET content_sha256 = '{content}', "
                 f"chain_sha256 = '{next_link_sha256(previous, content)}' WHERE seq = 2")
    faults = ledger.check_balances(runtime.uow()).chain_faults
    assert [(f.entry_id, "does not follow" in f.message) for f in faults] == [(3, True)]


def test_an_entry_slipped_in_or_removed_is_found(runtime, journal):
    alice, _bob = journal
    drop_immutability_triggers(runtime)
    raw(runtime,
        f"INSERT INTO journal_postings (entry_id, account_key, amount_sats) VALUES (9, 'collateral:{alice.id}', 5), "
        "(9, 'fees', -5)",
        "INSERT INTO journal_entries (id, kind, idempotency_key, memo, occurred_at, recorded_at) "
        "VALUES (9, 'transfer', 'slipped-in', '', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        "DELETE FROM journal_chain WHERE seq = 2", "DELETE FROM journal_postings WHERE entry_id = 2",
        "DELETE FROM journal_entries WHERE id = 2")
    faults = ledger.check_balances(runtime.uow()).chain_faults
    assert [(f.entry_id, f.message) for f in faults] == [
        (None, "link 2 of the hash chain is missing"),
        (9, "entry 9 is not in the hash chain (written outside the ledger)")]


def test_migration_0005_links_the_entries_written_before_it(runtime, journal):
    """Down to the revision before 0005 (no chain), one more entry written the old way, back up
    to head: every entry is linked in id order and the journal verifies."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from hashedge.adapters.database import _alembic_config

    def migrate(step, revision: str) -> None:
        config = _alembic_config()
        with runtime.engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    alice, _bob = journal
    migrate(command.downgrade, ScriptDirectory.from_config(_alembic_config()).get_revision("0005").down_revision)
    raw(runtime,
        f"INSERT INTO journal_postings (entry_id, account_key, amount_sats) VALUES (4, 'collateral:{alice.id}', -7), "
        "(4, 'fees', 7)",
        "INSERT INTO journal_entries (id, kind, idempotency_key, memo, occurred_at, recorded_at) "
        "VALUES (4, 'fee', 'old-fee', 'before 0005', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
        f"UPDATE ledger_balances SET balance_sats = balance_sats - 7 WHERE account_key = 'collateral:{alice.id}'",
        "UPDATE ledger_balances SET balance_sats = balance_sats + 7 WHERE account_key = 'fees'")
    migrate(command.upgrade, "head")

    check = ledger.check_balances(runtime.uow())
    assert check.ok, check
    assert check.chain_head.seq == 4 and check.chain_head.entry_id == 4
    with runtime.uow() as uow:
        entries = uow.ledger.entries()
    chain = GENESIS
    for recorded in entries:
        chain = next_link_sha256(chain, StoredContent.of(recorded.id, recorded.entry, recorded.recorded_at).sha256())
    assert chain == check.chain_head.chain_sha256

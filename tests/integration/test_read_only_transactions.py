"""Read-only units of work on SQLite and PostgreSQL: reads never queue behind a writer (on SQLite
they do not take the write lock), see one snapshot, and refuse writes; the API's GETs use them."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hashedge.adapters import api_keys
from hashedge.adapters.orm.ledger import AccountRow
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger
from hashedge.web import create_app

SYMBOL = "HP-2026-12"
PATIENCE_SECONDS = 10  # far below SQLite's 30 s busy timeout, far above a read's few milliseconds


@pytest.fixture
def api(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "reader")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000_000, "seed")
    return create_app(runtime).test_client(), {"Authorization": f"Bearer {key}"}


def _account_count(uow) -> int:
    return uow.session.scalar(text("SELECT count(*) FROM accounts"))


def test_a_read_only_unit_of_work_refuses_writes_and_the_next_one_may_write(runtime):
    uow = runtime.uow()
    with uow.read_only():
        with pytest.raises(DBAPIError, match="read-?only"):
            uow.accounts.add("sneaky", runtime.clock.now())
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, "honest")  # same pooled connection
    assert accounts.resolve_account(runtime.uow(), "honest").id == account.id
    with runtime.uow() as uow:
        assert uow.accounts.by_name("sneaky") is None


def test_a_read_only_unit_of_work_sees_one_snapshot(runtime):
    reader = runtime.uow()
    with reader.read_only():
        before = _account_count(reader)
        accounts.create_account(runtime.uow(), runtime.clock, "committed-meanwhile")
        assert _account_count(reader) == before
    with runtime.uow().read_only() as fresh:
        assert _account_count(fresh) == before + 1


def test_read_only_mode_lasts_one_block(runtime):
    uow = runtime.uow()
    with uow.read_only():
        pass
    with uow:  # a plain block again: writes are allowed
        uow.accounts.add("writer", runtime.clock.now())
        uow.commit()
    assert accounts.resolve_account(runtime.uow(), "writer").name == "writer"


def test_on_postgresql_a_read_is_a_repeatable_read_read_only_transaction(runtime):
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL transaction modes")
    with runtime.uow().read_only() as uow:
        assert uow.session.scalar(text("SHOW transaction_isolation")) == "repeatable read"
        assert uow.session.scalar(text("SHOW transaction_read_only")) == "on"
    with runtime.uow() as uow:  # the pooled connection is back to the defaults
        assert uow.session.scalar(text("SHOW transaction_isolation")) == "read committed"
        assert uow.session.scalar(text("SHOW transaction_read_only")) == "off"


def test_a_read_that_changed_an_object_in_memory_ends_quietly_and_stores_nothing(runtime):
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, "unchanged")
    with runtime.uow().read_only() as uow:
        uow.session.get(AccountRow, account.id).name = "changed in memory"
    with runtime.uow().read_only() as uow:
        assert uow.accounts.names()[account.id] == "unchanged"


def test_on_postgresql_reads_keep_the_statements_psycopg_prepared(runtime):
    """A read-only block ends with COMMIT (``UnitOfWork._end_read``): psycopg forgets what it
    prepared on a connection at every ROLLBACK, so reads never reused a plan."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL prepared statements")
    accounts.create_account(runtime.uow(), runtime.clock, "named")
    with runtime.uow().read_only() as uow:
        threshold = uow.session.connection().connection.driver_connection.prepare_threshold
    for _ in range(threshold + 1):  # one thread, one after another: one pooled connection
        with runtime.uow().read_only() as uow:
            assert "named" in uow.accounts.names().values()
    with runtime.uow().read_only() as uow:
        prepared = uow.session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any("FROM accounts" in statement for statement in prepared), prepared


def test_the_key_check_reads_the_key_as_a_read_only_unit_of_work_does(runtime):
    """``UnitOfWork.read_api_key`` (every authenticated request) reads without a session: the same
    record as ``api_keys.by_prefix`` in a read-only block, a revocation seen by the next call."""
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "keyed")
    prefix = api_keys.prefix_of(key)

    def through_a_session():
        with (uow := runtime.uow()).read_only():
            return uow.api_keys.by_prefix(prefix)

    issued = runtime.uow().read_api_key(prefix)
    assert issued == through_a_session() and issued.account_id == account.id and issued.revoked_at is None
    accounts.revoke_api_key(runtime.uow(), runtime.clock, prefix)
    revoked = runtime.uow().read_api_key(prefix)
    assert revoked == through_a_session() and revoked.revoked_at is not None
    assert runtime.uow().read_api_key("0" * 12) is None
    with (uow := runtime.uow()).read_only():
        with pytest.raises(RuntimeError, match="outside the with block"):
            uow.read_api_key(prefix)


def test_gets_do_not_wait_for_a_write_transaction_in_progress(runtime, api):
    client, key = api
    answers: dict[str, int] = {}

    def read_everything() -> None:
        for path, headers in [("/api/v1/indices", {}), ("/api/v1/instruments", {}),
                              (f"/api/v1/instruments/{SYMBOL}/book", {}), ("/api/v1/account", key),
                              ("/api/v1/positions", key), ("/api/v1/orders", key), ("/api/v1/trades", key),
                              ("/api/v1/statements", key)]:
            answers[path] = client.get(path, headers=headers).status_code

    writer = runtime.uow()
    with writer:  # holds SQLite's write lock (BEGIN IMMEDIATE) and a written, uncommitted row
        writer.accounts.add("slow-writer", runtime.clock.now())
        writer.session.flush()
        reader = threading.Thread(target=read_everything)
        reader.start()
        reader.join(PATIENCE_SECONDS)
        finished_while_writing = not reader.is_alive()
        writer.commit()
    reader.join(PATIENCE_SECONDS)
    assert finished_while_writing, "a GET waited for the write transaction"
    assert set(answers.values()) == {200}, answers

"""The engine keeps what its last batch committed for the next one (``services.exchange_reads``)
only while the database is exactly as that batch left it: on SQLite, same connection, no row
changed through it and no commit by another connection since; on PostgreSQL, the same generation
of writes and no other writer open, at the batch's witness (after its row locks) and at its
commit (migration 0019). Batches served from the kept state give the outcomes and the stored
state of batches that read everything, with fewer statements; a write between batches, on
another connection or on the engine's own, a writer still open, a writer that commits during the
batch, or other governed parameters, make the next batch read everything again.

(The suite also runs with ``HASHEDGE_VERIFY_KEPT_STATE=1``: every answer served from the kept
state is read again and compared, in every test that runs batches.)"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.bootstrap import bootstrap
from hashedge.config import load_settings
from hashedge.errors import HashEdgeError
from hashedge.jobs.engine import EngineProcess
from hashedge.services import ledger
from hashedge.services.exchange import OrderRequest, execute_batch
from hashedge.services.exchange_reads import KEPT
from hashedge.services.margin import parameters_in_force, risk_parameters
from tests.integration.test_exchange_batches import MARK, market, outcome_view, requests_stream, stored_state
from tests.integration.test_order_path import statements_of

SYMBOL = "HP-2026-12"


def run_batches(runtime, batches, *, keep: bool) -> tuple[list, list[int]]:
    """Outcomes and statement counts of ``batches`` run one after the other; ``keep=False``
    forgets the kept state before each, so every batch reads everything."""
    outcomes, counts = [], []
    for batch in batches:
        if not keep:
            KEPT.forget()
        found: list = []
        counts.append(statements_of(runtime, lambda: found.extend(execute_batch(runtime.uow(), runtime.clock, batch))))
        outcomes += [outcome_view(o) for o in found]
    KEPT.forget()
    return outcomes, counts


def test_batches_served_from_the_kept_state_equal_batches_that_read_everything(runtime, twin, monkeypatch):
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # count the statements of the kept path alone
    ids = market(runtime, 7)
    assert market(twin, 7) == ids
    rng = random.Random(3)
    stream = requests_stream(rng, ids, 240, 1)
    batches = [stream[n:n + 12] for n in range(0, len(stream), 12)]
    kept, kept_counts = run_batches(runtime, batches, keep=True)
    read, read_counts = run_batches(twin, batches, keep=False)
    assert kept == read
    assert stored_state(runtime) == stored_state(twin)
    # the first batch reads everything; the others only their book prefixes, sequences and keys
    # (and on PostgreSQL the placing accounts' balances, which it locks)
    assert kept_counts[0] == read_counts[0] and sum(kept_counts[1:]) < sum(read_counts[1:]) * 3 // 4


def poor_order(account: int, request_id: int) -> OrderRequest:
    return OrderRequest(request_id, account, SYMBOL, "buy", "limit", 60, "50000")


def test_a_deposit_between_batches_is_seen_by_the_next_batch_whoever_writes_it(runtime, database_url, tmp_path):
    """A poor account refused for margin is accepted once a deposit lands, whether the deposit
    went through another connection (another process) or through the engine's own pool."""
    ids = market(runtime, 4)
    poor = [ids[0], ids[3]]  # every third account is poor
    other = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": database_url,
                                     "HASHEDGE_INSTANCE_DIR": str(tmp_path / "other")}, secret_key="other"),
                      clock=runtime.clock)
    try:
        for n, writer in enumerate((other, runtime)):
            refused, = execute_batch(runtime.uow(), runtime.clock, [poor_order(poor[n], 10 * n + 1)])
            assert isinstance(refused, HashEdgeError) and refused.code == "insufficient_margin"
            ledger.deposit(writer.uow(), writer.clock, poor[n], 10**10, f"top-up-{n}")
            accepted, = execute_batch(runtime.uow(), runtime.clock, [poor_order(poor[n], 10 * n + 2)])
            assert not isinstance(accepted, HashEdgeError) and accepted.order.quantity == 60
    finally:
        other.close()
        KEPT.forget()


def test_other_parameters_in_force_make_the_next_batch_read_everything(runtime, monkeypatch):
    """A batch under stricter parameters (no write to the database: a simulation's override, or
    a scheduled version coming into force) is not served the last batch's margin state."""
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")
    rich = market(runtime, 3)[1]
    params = risk_parameters(runtime.uow(), runtime.clock.now())
    def one_order(request_id: int) -> int:
        return statements_of(runtime, lambda: execute_batch(
            runtime.uow(), runtime.clock, [OrderRequest(request_id, rich, SYMBOL, "buy", "limit", 1, "49990")]))

    read_all, kept = one_order(1), one_order(2)
    with parameters_in_force(replace(params, taker_fee_bps=params.taker_fee_bps + 5)):
        stricter = one_order(3)
    KEPT.forget()
    # (under an override the parameters themselves are not read: one statement fewer)
    assert read_all > kept and stricter > kept


def test_a_version_that_comes_into_force_between_batches_is_read_though_nothing_was_written(runtime, monkeypatch):
    """The kept governed parameters hold until the next written version's effective time: a
    version written ahead of it (a writer whose clock runs ahead) comes into force for the first
    batch after that time, although nothing was written since the last batch kept its state."""
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # count the statements of the kept path alone
    rich = market(runtime, 3)[1]
    start = runtime.clock.now()
    with runtime.uow() as uow:
        base = uow.parameters.in_force(start)
        uow.parameters.add(effective_at=start + timedelta(seconds=10), recorded_at=start, source="proposal",
                           actor="test", proposal_id=None, reason="a narrower price band ahead of its time",
                           changes={"orders.price_band_ratio": ("0.2", "0.05")},
                           overrides=base.overrides | {"orders.price_band_ratio": "0.05"})
        uow.commit()
    far_price = str(MARK * Decimal("0.9"))  # inside a 20% band around the mark, outside 5%

    def batch(request_id: int) -> tuple[object, int]:
        outcomes = []
        count = statements_of(runtime, lambda: outcomes.extend(execute_batch(
            runtime.uow(), runtime.clock, [OrderRequest(request_id, rich, SYMBOL, "buy", "limit", 1, far_price)])))
        return outcomes[0], count

    first, read_all = batch(1)
    runtime.clock.advance(timedelta(seconds=5))
    second, kept = batch(2)  # the parameters read by the first batch hold: not read again
    runtime.clock.advance(timedelta(seconds=6))
    third, after = batch(3)  # past the new version's effective time: read, and in force
    assert not isinstance(first, HashEdgeError) and not isinstance(second, HashEdgeError)
    assert isinstance(third, HashEdgeError) and third.fields.keys() == {"price"} and "5%" in third.message
    assert kept < read_all and after > kept  # new parameters: the margin state is read again too


def test_a_batch_whose_state_cannot_be_kept_is_still_committed_and_answered(runtime, monkeypatch):
    """Keeping the state comes after the commit: if it fails, the batch's outcomes stand, its
    order is stored, and the next batch reads everything."""
    from hashedge.services import exchange

    rich = market(runtime, 3)[1]

    def broken(self, marker):
        raise RuntimeError("cannot keep")

    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # count the statements of the kept path alone

    def one_order(request_id: int) -> int:
        return statements_of(runtime, lambda: execute_batch(
            runtime.uow(), runtime.clock, [OrderRequest(request_id, rich, SYMBOL, "buy", "limit", 1, "49980")]))

    with monkeypatch.context() as patched:
        patched.setattr(exchange._Batch, "kept", broken)
        placed, = execute_batch(runtime.uow(), runtime.clock,
                                [OrderRequest(1, rich, SYMBOL, "buy", "limit", 2, "49990")])
    assert not isinstance(placed, HashEdgeError)
    with runtime.uow() as uow:
        assert [o.quantity for o in uow.orders.resting_of(rich)] == [2]
    after_failure, kept = one_order(2), one_order(3)
    KEPT.forget()
    assert after_failure > kept  # nothing was kept from the batch that failed to keep it


def test_a_maker_filled_while_placing_nothing_keeps_its_holding_for_the_next_batch(runtime, monkeypatch):
    """A resting order filled in a batch its account places nothing in moves that account's kept
    holding (its order sums, position and collateral) in memory: the next batch it places in reads
    no more than one after a batch it placed in itself. (With verification on, the suite checks
    the moved holding against the database whenever it is served.)"""
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # count the statements of the kept path alone
    ids = market(runtime, 3)
    maker, taker = ids[1], ids[2]  # both rich (every third account is poor)

    def batch(*requests: OrderRequest) -> tuple[list, int]:
        found: list = []
        count = statements_of(runtime, lambda: found.extend(execute_batch(runtime.uow(), runtime.clock, requests)))
        assert not [o for o in found if isinstance(o, HashEdgeError)], found
        return found, count

    try:
        batch(OrderRequest(1, maker, SYMBOL, "sell", "limit", 2, "50010"),
              OrderRequest(2, taker, SYMBOL, "buy", "limit", 1, "49990"))
        (filled,), _ = batch(OrderRequest(3, taker, SYMBOL, "buy", "limit", 1, "50010"))
        assert [f.seller_account_id for f in filled.fills] == [str(maker)]
        _, after_its_fill = batch(OrderRequest(4, maker, SYMBOL, "buy", "limit", 1, "49980"))
        _, after_its_own = batch(OrderRequest(5, maker, SYMBOL, "buy", "limit", 1, "49970"))
    finally:
        KEPT.forget()
    assert after_its_fill == after_its_own


def test_the_engines_lease_renewal_keeps_the_state_of_its_last_batch(runtime, monkeypatch):
    """The engine renews its lease every few seconds: on SQLite in a transaction that reads the
    write marker around its one update, so the next batch still takes the kept state; there a
    renewal through the lease's own transactions (any other write) makes the next batch read
    everything. On PostgreSQL the lease is not among the tables whose writes the witness counts:
    no renewal costs the next batch anything."""
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # count the statements of the kept path alone
    rich = market(runtime, 3)[1]
    engine = EngineProcess(runtime, lease_ttl=timedelta(seconds=30))
    assert engine._lead(wait_s=1)

    def one_order(request_id: int) -> int:
        return statements_of(runtime, lambda: execute_batch(
            runtime.uow(), runtime.clock, [OrderRequest(request_id, rich, SYMBOL, "buy", "limit", 1, "49990")]))

    try:
        read_all, kept = one_order(1), one_order(2)
        renewed_from = datetime.now(timezone.utc)  # the lease runs on the system clock
        assert engine._renew()
        assert engine.lease.current_holder()[1] >= renewed_from + engine.lease.ttl  # renewed
        after_renewal = one_order(3)
        assert engine._lead(wait_s=1)  # the lease's own transactions
        after_plain_renewal = one_order(4)
    finally:
        engine.lease.release()
        KEPT.forget()
    assert read_all > kept and after_renewal == kept
    if runtime.engine.dialect.name == "sqlite":
        assert after_plain_renewal > kept
    else:
        assert after_plain_renewal == kept


def _mark_far_away(writer, clock):
    """A new mark at twice the market's: an order at that price is outside the price band of
    the old mark and inside the new one's (``other`` runtime's own connection)."""
    with writer.uow() as uow:
        uow.marks.add(SYMBOL, clock.now(), MARK * 2, "model", MARK * 2)
        uow.commit()


def _order_at(account: int, request_id: int, price) -> OrderRequest:
    return OrderRequest(request_id, account, SYMBOL, "buy", "limit", 1, str(price))


@pytest.fixture
def other(runtime, database_url, tmp_path):
    """A second runtime on the same database: another process's connections."""
    other = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": database_url,
                                     "HASHEDGE_INSTANCE_DIR": str(tmp_path / "other")}, secret_key="other"),
                      clock=runtime.clock)
    yield other
    other.close()
    KEPT.forget()


def test_a_writer_still_open_at_a_batchs_witness_leaves_that_batch_nothing_to_keep(runtime, other):
    """PostgreSQL: another transaction has written a new mark but not committed when a batch
    takes its witness (its write counted already). That batch cannot keep what it read: the
    commit lands after it, with no further step of the generation, and the next batch must see
    the new mark. (With the witness's lock check removed, the next batch is served the old mark
    and refuses an order priced at the new one.)"""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite a writer holds the database's lock until it commits: no batch runs meanwhile")
    rich = market(runtime, 3)[1]
    assert not isinstance(execute_batch(runtime.uow(), runtime.clock, [_order_at(rich, 1, MARK - 10)])[0],
                          HashEdgeError)
    writer = other.uow()
    with writer:
        writer.marks.add(SYMBOL, runtime.clock.now(), MARK * 2, "model", MARK * 2)
        writer.session.flush()  # written, counted, not committed
        during, = execute_batch(runtime.uow(), runtime.clock, [_order_at(rich, 2, MARK - 20)])
        writer.commit()
    after, = execute_batch(runtime.uow(), runtime.clock, [_order_at(rich, 3, MARK * 2)])
    assert not isinstance(during, HashEdgeError)
    assert not isinstance(after, HashEdgeError), after


def test_a_writer_that_commits_during_a_batch_leaves_that_batch_nothing_to_keep(runtime, other, monkeypatch):
    """PostgreSQL: a new mark committed by another connection while a batch served from the kept
    state runs (after its witness, before its commit). The batch's outcome stands; what it read
    is not kept, and the next batch sees the new mark. (Keeping it whenever the generation at the
    commit was read, as SQLite's marker is, serves the next batch the old mark.)"""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("on SQLite nobody else can commit while a batch holds the database's lock")
    from hashedge.services import exchange

    rich = market(runtime, 3)[1]
    for request_id in (1, 2):  # the second one is served from the kept state
        assert not isinstance(execute_batch(runtime.uow(), runtime.clock,
                                            [_order_at(rich, request_id, MARK - 10 * request_id)])[0], HashEdgeError)
    store = exchange._Batch.store

    def store_after_a_commit_elsewhere(self):
        _mark_far_away(other, runtime.clock)
        store(self)

    with monkeypatch.context() as patched:
        patched.setattr(exchange._Batch, "store", store_after_a_commit_elsewhere)
        during, = execute_batch(runtime.uow(), runtime.clock, [_order_at(rich, 3, MARK - 30)])
    after, = execute_batch(runtime.uow(), runtime.clock, [_order_at(rich, 4, MARK * 2)])
    assert not isinstance(during, HashEdgeError)
    assert not isinstance(after, HashEdgeError), after


def test_every_table_but_the_engines_own_counts_its_writes(runtime):
    """PostgreSQL: every table has the trigger that steps the generation of writes (migration
    0019), except the order inbox and the scheduler's lease, which the engine's own loop writes
    between batches. A table added later without the trigger fails here."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's marker needs no trigger")
    from sqlalchemy import inspect, text

    with runtime.engine.connect() as connection:
        watched = set(connection.execute(text(
            "SELECT event_object_table FROM information_schema.triggers WHERE trigger_name = 'note_write'")).scalars())
    tables = set(inspect(runtime.engine).get_table_names())
    assert watched == tables - {"order_requests", "scheduler_lease", "alembic_version"}


def test_a_writer_open_in_another_database_does_not_stop_a_batch_keeping(runtime, twin, monkeypatch):
    """PostgreSQL: advisory locks belong to one database, but ``pg_locks`` shows the whole
    cluster's. A transaction that wrote in another database on the same server (another venue,
    or another test) leaves the batches here served from what the last one kept."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's witness")
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # count the statements of the kept path alone
    rich = market(runtime, 3)[1]
    market(twin, 3)

    def one_order(request_id: int) -> int:
        return statements_of(runtime, lambda: execute_batch(
            runtime.uow(), runtime.clock, [_order_at(rich, request_id, MARK - 10 - request_id)]))

    try:
        read_all, kept = one_order(1), one_order(2)
        with twin.uow() as writer:
            writer.marks.add(SYMBOL, twin.clock.now(), MARK * 2, "model", MARK * 2)
            writer.session.flush()  # written there, not committed
            while_open = one_order(3)
    finally:
        KEPT.forget()
    assert read_all > kept and while_open == kept

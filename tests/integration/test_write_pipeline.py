"""``adapters.write_pipeline``: inside ``UnitOfWork.pipelined`` on PostgreSQL the bulk writes are
queued and sent together with the next statement that needs an answer; what is stored, what a
read inside the block sees, the checks of rows changed, the errors and the rollbacks are exactly
those of the same writes sent one by one. On SQLite the block changes nothing (no pipeline)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from hashedge.adapters.bulk_rows import insert_rows, update_rows
from hashedge.adapters.entry_id_reserve import EntryIdReserve
from hashedge.adapters.orm.exchange import OrderRequestRow
from hashedge.adapters.orm.ledger import JournalEntryRow
from hashedge.adapters.orm.trading import OrderRow
from hashedge.adapters.repositories.exchange import StaleClaim, TokenRequest
from hashedge.adapters.write_pipeline import observing_sends, pipeline_of
from hashedge import faults
from hashedge.bootstrap import bootstrap
from hashedge.config import load_settings
from hashedge.services import exchange, exchange_engine, ledger, order_inbox
from hashedge.services.exchange import OrderRequest, execute_batch
from tests.integration.test_bulk_rows import AT, TABLE, rows, stored
from tests.integration.test_order_inbox import SYMBOL, market


def _count(runtime) -> int:
    with runtime.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(TABLE))


def test_pipelined_writes_store_what_writes_sent_one_by_one_store(runtime, twin):
    batch = rows(1, 30)
    done = [{"id": n, "status": "done", "outcome": f"o{n}", "done_at": AT + timedelta(seconds=n)} for n in (2, 5, 9)]
    changed = []
    with runtime.uow() as uow:
        with uow.pipelined() as pipeline:
            insert_rows(uow.session, TABLE, batch[:20])
            insert_rows(uow.session, TABLE, batch[20:])
            update_rows(uow.session, TABLE, ["id"], done, only_if={"status": "pending"}, check=changed.append)
            if pipeline is not None:  # PostgreSQL: nothing sent yet, then one round trip for all three
                assert (len(pipeline.queued), pipeline.round_trips, changed) == (3, 0, [])
                pipeline.flush()
                assert (pipeline.queued, pipeline.round_trips) == ([], 1)
        uow.commit()
    with twin.uow() as uow:
        insert_rows(uow.session, TABLE, batch)
        assert update_rows(uow.session, TABLE, ["id"], done, only_if={"status": "pending"}) == 3
        uow.commit()
    assert changed == [3]
    assert stored(runtime) == stored(twin)
    assert (runtime.engine.dialect.name == "postgresql") == (pipeline is not None)


def test_a_statement_inside_the_block_runs_after_everything_queued_before_it(runtime):
    with runtime.uow() as uow:
        with uow.pipelined() as pipeline:
            insert_rows(uow.session, TABLE, rows(1, 7))
            # a read that knows nothing of the pipeline still sees the rows queued before it
            assert uow.session.scalar(select(func.count()).select_from(TABLE)) == 7
            if pipeline is not None:
                assert pipeline.round_trips == 1
            insert_rows(uow.session, TABLE, rows(8, 2))
            uow.commit()  # the COMMIT sends what is still queued first
    assert _count(runtime) == 9
    with runtime.uow() as uow:  # the next transaction on the pooled connection is not pipelined
        assert pipeline_of(uow.session) is None


def test_a_write_that_fails_raises_sqlalchemys_error_and_nothing_of_the_block_is_stored(runtime):
    with runtime.uow() as uow:
        insert_rows(uow.session, TABLE, rows(1, 3))
        uow.commit()
    with runtime.uow() as uow, pytest.raises(IntegrityError):
        with uow.pipelined():
            insert_rows(uow.session, TABLE, rows(4, 3))
            insert_rows(uow.session, TABLE, rows(3, 1))  # id 3 is taken
            uow.commit()
    assert _count(runtime) == 3
    with runtime.uow() as uow:  # the connection serves the next transaction
        insert_rows(uow.session, TABLE, rows(4, 3))
        uow.commit()
    assert _count(runtime) == 6


def test_a_block_left_by_an_exception_stores_nothing_and_forgets_its_queue(runtime):
    with runtime.uow() as uow, pytest.raises(RuntimeError):
        with uow.pipelined():
            insert_rows(uow.session, TABLE, rows(1, 4))
            raise RuntimeError("the batch failed")
    assert _count(runtime) == 0
    with runtime.uow() as uow:
        assert pipeline_of(uow.session) is None
        insert_rows(uow.session, TABLE, rows(1, 2))  # runs at once, not into a forgotten queue
        assert uow.session.scalar(select(func.count()).select_from(TABLE)) == 2
        uow.rollback()
    assert _count(runtime) == 0


@pytest.mark.parametrize("trades", [True, False], ids=["trading", "resting"])
def test_a_batch_whose_inbox_row_was_taken_meanwhile_is_refused_whole_at_its_commit(runtime, trades):
    """``mark_done``'s check arrives with its pipelined answer, and before the COMMIT is sent:
    the batch's orders (and trades and journal), written before it, are rolled back with it,
    whether the check was sent with the chain's head (a batch that traded) or was still queued at
    the commit (one that did not)."""
    maker, taker, _ = market(runtime)
    if trades:
        execute_batch(runtime.uow(), runtime.clock, [OrderRequest(10_000, maker, SYMBOL, "sell", "limit", 1, "50000")])
    ids = [order_inbox.enqueue_order(runtime.uow(), runtime.clock, maker, instrument=SYMBOL, side="sell",
                                     order_type="limit", quantity=1, price=50000) for _ in range(2)]
    with runtime.uow() as uow:
        uow.order_inbox.abandon(ids[1], runtime.clock.now())
        uow.commit()
    with runtime.uow() as uow:
        orders, entries = (uow.session.scalar(select(func.count()).select_from(OrderRow)),
                           uow.session.scalar(text("SELECT count(*) FROM journal_entries")))

    def finish(uow, outcomes):
        uow.order_inbox.mark_done([(request_id, "{}") for request_id in ids], runtime.clock.now())

    requests = [OrderRequest(ids[0], taker, SYMBOL, "buy", "limit", 1, "50000")]
    with pytest.raises(StaleClaim):
        execute_batch(runtime.uow(), runtime.clock, requests, finish=finish)
    with runtime.uow() as uow:  # nothing of the batch is stored
        assert uow.session.scalar(select(func.count()).select_from(OrderRow)) == orders
        assert uow.session.scalar(text("SELECT count(*) FROM journal_entries")) == entries
        assert uow.order_inbox.counts() == {"pending": 1, "abandoned": 1}
    assert bool(execute_batch(runtime.uow(), runtime.clock, requests)[0].fills) == trades  # as it would have
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OrderRow)) == orders + 1
        assert (uow.session.scalar(text("SELECT count(*) FROM journal_entries")) > entries) == trades


def test_a_batch_on_postgresql_takes_the_same_few_round_trips_whatever_its_size(runtime, monkeypatch):
    """Served from the kept state, a batch that trades, with idempotency keys, sends: its locks
    with the write witness, the idempotency keys and the book's prefix; then everything else,
    with the COMMIT: its writes, its journal (ids from the process's reserve) and the chain's
    links after the head it kept, and the witness. Two round trips for 4 orders or for 40."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a pipeline is PostgreSQL's (SQLite runs in process)")
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # the batch's own statements only
    maker, taker, _ = market(runtime)
    sent = {"pipelines": 0, "statements": 0, "commits": 0}

    def counted_send(_statements, commit):
        sent["pipelines"] += 1
        sent["commits"] += commit

    def statement(*_):
        sent["statements"] += 1

    first = 1

    def batch(size: int) -> dict:
        nonlocal first
        sells = [OrderRequest(first + n, maker, SYMBOL, "sell", "limit", 1, str(50000 + n % 3)) for n in range(size)]
        buys = [OrderRequest(first + size + n, taker, SYMBOL, "buy", "limit", 1, "50002",
                             idempotency_key=f"buy-{first + size + n}") for n in range(size)]
        first += 2 * size
        for key in sent:
            sent[key] = 0
        outcomes = execute_batch(runtime.uow(), runtime.clock, sells + buys)
        assert sum(len(o.fills) for o in outcomes) == size  # every buy filled
        return dict(sent)

    event.listen(runtime.engine, "before_cursor_execute", statement)
    try:
        with observing_sends(counted_send):
            batch(3)  # reads everything, and leaves its state for the next batch
            small, large = batch(4), batch(40)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", statement)
    assert small == large == {"pipelines": 2, "statements": 0, "commits": 1}


def test_a_batch_of_socket_requests_sends_their_claim_with_its_locks(runtime, monkeypatch):
    """The engine's claim of the requests handed over its socket is not awaited on its own: it
    goes out with the batch's locks, so such a batch takes the two round trips of any other."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a pipeline is PostgreSQL's (SQLite runs in process)")
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")  # the batch's own statements only
    maker, taker, _ = market(runtime)
    hands = iter(range(1_000))

    def hand(account, side):
        request = order_inbox.order_request(instrument=SYMBOL, side=side, order_type="limit", quantity=1, price=50000)
        return TokenRequest(f"{next(hands):032d}", account, SYMBOL, request)

    # reads everything, draws journal ids into the process's reserve and keeps the chain's head
    exchange_engine.execute_handed(runtime.uow, runtime.clock, [hand(maker, "sell"), hand(taker, "buy")])
    pipelines: list[str] = []
    handed = [hand(maker, "sell"), hand(taker, "buy"), hand(taker, "buy")]
    with observing_sends(lambda statements, _commit: pipelines.append(";".join(statements))):
        executed = exchange_engine.execute_handed(runtime.uow, runtime.clock, handed)
    assert set(executed) == {h.token for h in handed}
    assert len(pipelines) == 2  # the inbox rows it marks are its own: no check holds the COMMIT back
    [claim_with] = [p for p in pipelines if "INSERT INTO order_requests" in p]
    assert "FROM instrument_sequences" in claim_with and claim_with == pipelines[0]


@pytest.mark.parametrize("path", ["socket", "inbox"])
def test_a_batch_whose_kept_chain_head_another_transaction_moved_runs_again_after_it(runtime, monkeypatch, path):
    """A batch served from the kept state links its journal entries after the chain head its
    engine kept, without reading it. Another transaction that links an entry meanwhile (a deposit,
    committed while the batch computes) makes the batch's first link take a ``seq`` that exists:
    the primary key refuses the whole batch, which runs again, reads the head and links after the
    deposit. Nothing is lost or linked twice; the chain verifies. Requests handed over the socket
    and requests taken from the inbox table alike."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a pipeline is PostgreSQL's (SQLite runs in process)")
    maker, taker, thin = market(runtime)
    hands = iter(range(1_000))

    def execute(*orders: tuple[int, str]) -> list[str]:
        """The outcomes (JSON) of one batch of one-lot limit orders at 50,000, as the engine runs it."""
        terms = dict(instrument=SYMBOL, order_type="limit", quantity=1, price=50000)
        if path == "socket":
            handed = [TokenRequest(f"{next(hands):032d}", account, SYMBOL,
                                   order_inbox.order_request(side=side, **terms)) for account, side in orders]
            return [outcome for _, outcome in exchange_engine.execute_handed(runtime.uow, runtime.clock, handed).values()]
        for account, side in orders:
            order_inbox.enqueue_order(runtime.uow(), runtime.clock, account, side=side, **terms)
        return [outcome for _, outcome in exchange_engine.process_batch(runtime.uow, runtime.clock).outcomes]

    # a fill (journal entries): the engine keeps the chain's head; a sell rests for the buy below
    execute((maker, "sell"), (maker, "sell"), (taker, "buy"))
    with runtime.uow() as uow:
        kept_head = uow.ledger.chain.head()
    attempts = []

    def deposit_meanwhile(name):
        if name == "exchange.before_commit":
            attempts.append(name)
            if len(attempts) == 1:  # before the batch's commit, after it computed its links' place
                ledger.deposit(runtime.uow(), runtime.clock, thin, 1_000, "meanwhile")
    monkeypatch.setattr(faults, "checkpoint", deposit_meanwhile)
    [outcome] = execute((taker, "buy"))
    assert len(attempts) == 2  # the first refused whole, the second committed
    assert len(order_inbox.decode_outcome(outcome).fills) == 1
    with runtime.uow() as uow:
        links = uow.session.execute(text("SELECT seq, entry_id FROM journal_chain WHERE seq > :seq ORDER BY seq"),
                                    {"seq": kept_head.seq}).all()
        deposit_ids = set(uow.session.scalars(select(JournalEntryRow.id).where(
            JournalEntryRow.idempotency_key.like("%meanwhile%"))))
        statuses = list(uow.session.scalars(select(OrderRequestRow.status).order_by(OrderRequestRow.id)))
    assert [seq for seq, _ in links] == list(range(kept_head.seq + 1, kept_head.seq + 1 + len(links)))
    assert deposit_ids and {entry for _, entry in links[:len(deposit_ids)]} == deposit_ids  # linked first
    assert statuses == ["done"] * 4  # the buy's once: the refused batch's claim or mark left nothing
    check = ledger.check_balances(runtime.uow())
    assert check.ok and not check.chain_faults


def test_journal_ids_come_once_from_each_processs_reserve_and_a_rolled_back_batchs_are_never_used(
        runtime, clock, tmp_path, monkeypatch):
    """Two engines' processes (two database engines, so two reserves) execute batches on one
    database in turn: each batch's entries take ids from its own process's block, never one id
    twice; a batch rolled back after its journal's writes leaves the ids it took unused, and the
    next batch takes the ones after them. The journal and its chain verify."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a pipeline is PostgreSQL's (SQLite runs in process)")
    maker, taker, _ = market(runtime)
    url = runtime.engine.url.render_as_string(hide_password=False)
    other = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(tmp_path / "other")},
                                    secret_key="test-secret-key-not-for-production"), clock=clock)
    taken: list[tuple[object, list[int]]] = []  # (database engine, ids) of each batch's journal
    real_take = EntryIdReserve.take

    def recorded_take(reserve, count, draw):
        ids = real_take(reserve, count, draw)
        taken.append((reserve, ids))
        return ids
    monkeypatch.setattr(EntryIdReserve, "take", recorded_take)
    requests = iter(range(1, 1_000))

    def crossing(db, finish=None) -> None:
        execute_batch(db.uow(), db.clock, [OrderRequest(next(requests), maker, SYMBOL, "sell", "limit", 1, "50000"),
                                           OrderRequest(next(requests), taker, SYMBOL, "buy", "limit", 1, "50000")],
                      finish=finish)

    def after_the_journal(_uow, _outcomes):
        raise RuntimeError("a failure after the journal's writes")
    try:
        for db in (runtime, other, runtime, other):
            crossing(db)
        with pytest.raises(RuntimeError):
            crossing(runtime, finish=after_the_journal)
        crossing(runtime)
    finally:
        other.close()
    [own, theirs] = {id(reserve): reserve for reserve, _ in taken}.values()
    assert [reserve for reserve, _ in taken] == [own, theirs, own, theirs, own, own]
    every = [i for _, ids in taken for i in ids]
    assert len(every) == len(set(every)) and all(ids == sorted(ids) for _, ids in taken)
    assert max(i for r, ids in taken if r is own for i in ids) < min(i for r, ids in taken if r is theirs for i in ids)
    rolled_back, after = taken[-2][1], taken[-1][1]
    assert min(after) == max(rolled_back) + 1  # taken, never handed out again
    with runtime.uow() as uow:
        written = set(uow.session.scalars(select(JournalEntryRow.id).where(JournalEntryRow.id.in_(every))))
    assert written == set(every) - set(rolled_back)
    check = ledger.check_balances(runtime.uow())
    assert check.ok and not check.chain_faults


def _fill_with_tick_sizes(runtime, monkeypatch, accounts: tuple[int, int], seen: dict, first_id: int
                          ) -> tuple[int, list[str]]:
    """A resting sell of the maker, then a batch of one buy of the taker that crosses it, run with
    ``seen`` as the tick sizes the process has read (``exchange._TICK_SIZES``): the buy's fills,
    and the statements of each pipeline its batch sent, joined."""
    maker, taker = accounts
    execute_batch(runtime.uow(), runtime.clock, [OrderRequest(first_id, maker, SYMBOL, "sell", "limit", 1, "50000")])
    monkeypatch.setattr(exchange, "_TICK_SIZES", dict(seen))
    pipelines = []
    with observing_sends(lambda statements, _commit: pipelines.append(";".join(statements))):
        [outcome] = execute_batch(runtime.uow(), runtime.clock,
                                  [OrderRequest(first_id + 1, taker, SYMBOL, "buy", "limit", 1, "50001")])
    return len(outcome.fills), pipelines


def _listed_market(runtime) -> tuple[tuple[int, int], object]:
    """``market``'s maker and taker, and its contract's tick size as listed."""
    maker, taker, _ = market(runtime)
    with runtime.uow() as uow:
        return (maker, taker), uow.instruments.get_many({SYMBOL})[SYMBOL].spec.tick_size


def _first_rows_with_locks(pipelines: list[str]) -> bool:
    """Whether the books' first rows went in the pipeline of the instruments' locks."""
    [locks] = [p for p in pipelines if "FROM instrument_sequences" in p]
    return "first_sell" in locks


def test_a_batch_reads_the_books_first_rows_with_its_locks_when_it_knows_their_tick_sizes(runtime, monkeypatch):
    """The first rows a batch wants depend on its contracts' tick sizes; when the process has read
    them before, they are read in the locks' round trip, else in one of their own after the
    contracts are read: the same fill either way."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("a pipeline is PostgreSQL's (SQLite runs in process)")
    accounts, tick = _listed_market(runtime)
    known_fills, known = _fill_with_tick_sizes(runtime, monkeypatch, accounts, {SYMBOL: tick}, 1)
    unknown_fills, unknown = _fill_with_tick_sizes(runtime, monkeypatch, accounts, {}, 3)
    assert known_fills == unknown_fills == 1
    assert _first_rows_with_locks(known) and not _first_rows_with_locks(unknown)
    assert sum("first_sell" in p for p in known) == sum("first_sell" in p for p in unknown) == 1


def test_a_batch_never_uses_first_rows_read_for_a_tick_size_that_is_not_its_contracts(runtime, monkeypatch):
    """A tick size remembered wrongly (a thousand times the contract's) bounds the first rows read
    with the locks far below the resting sell: the batch reads them again for the contract's own
    tick size and fills as it would have."""
    accounts, tick = _listed_market(runtime)
    fills, _ = _fill_with_tick_sizes(runtime, monkeypatch, accounts, {SYMBOL: tick * 1000}, 1)
    assert fills == 1

"""The account's reads kept under a marker of the database's writes (``versioned_reads.WITNESSED``
behind ``GET /account``, ``GET /positions`` and ``GET /orders``; PostgreSQL's generation of writes,
SQLite's ``data_version``): after every kind of write that changes them, the kept answer is the
one a fresh read gives; while nothing is written, one statement vouches for each; an answer read
while a writer was open, or while a write committed during the read, is not served after that
write; a simulation's answer is never kept. The suite's ``HASHEDGE_VERIFY_KEPT_STATE=1`` would turn
a stale answer into an error of its own; these tests switch it off to see what is served."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from hashedge.services import accounts, ledger, trading
from hashedge.services.margin import parameters_in_force, risk_parameters
from hashedge.services.pages import Page
from hashedge.services.positions import position_risk_page
from hashedge.services.trading_queries import order_page
from hashedge.services.versioned_reads import WITNESSED, WitnessedReads, unkept
from statements import Statements
from test_order_path import MARK, OTHER, SYMBOL, market, place


@pytest.fixture(autouse=True)
def _served_as_kept(monkeypatch):
    monkeypatch.setenv("HASHEDGE_VERIFY_KEPT_STATE", "0")


def _reads(runtime, account_id) -> tuple:
    """What the three endpoints are answered from, through the process's kept answers."""
    return (accounts.account_summary(runtime.uow(), account_id), position_risk_page(runtime.uow, account_id),
            order_page(runtime.uow(), account_id))


def _fresh(runtime, account_id) -> tuple:
    """The same, read afresh: nothing served from what is kept, nothing kept."""
    with unkept():
        return _reads(runtime, account_id)


def test_after_every_kind_of_write_the_kept_answers_are_a_fresh_reads(runtime):
    holder, other, _ = market(runtime)
    seen = []

    def check():
        kept = _reads(runtime, holder)
        assert kept == _fresh(runtime, holder)
        assert _reads(runtime, holder) == kept  # and again, from what is kept
        seen.append(kept)

    check()
    ledger.deposit(runtime.uow(), runtime.clock, holder, 5_000_000, "more")  # collateral
    check()
    resting = place(runtime, holder, "buy", 3, MARK - 100)  # an order: order margin, a line
    check()
    place(runtime, other, "sell", 2, MARK - 100)  # a fill by another account: a position
    check()
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:  # a mark
        uow.marks.add(SYMBOL, runtime.clock.now(), MARK - 900, "model", MARK - 900)
        uow.commit()
    check()
    with runtime.uow() as uow:  # a parameter version (the reads use the latest written)
        base = uow.parameters.in_force()
        uow.parameters.add(effective_at=runtime.clock.now(), recorded_at=runtime.clock.now(), source="proposal",
                           actor="test", proposal_id=None, reason="a higher maintenance margin",
                           changes={"margin.maintenance.hashprice_monthly": ("0.1", "0.12")},
                           overrides=base.overrides | {"margin.maintenance.hashprice_monthly": "0.12"})
        uow.commit()
    check()
    trading.cancel_order(runtime.uow(), runtime.clock, holder, resting.order.order_id)  # a cancel
    check()
    ledger.withdraw(runtime.uow(), runtime.clock, holder, 1_000, "out")  # a withdrawal
    check()
    place(runtime, holder, "sell", 1, MARK + 500, OTHER)  # another contract's order
    check()
    assert all(a != b for a, b in zip(seen, seen[1:]))  # every step changed what the reads show


def test_with_nothing_written_one_statement_vouches_for_each_read(runtime):
    holder, _, _ = market(runtime)
    place(runtime, holder, "buy", 1, MARK - 100)
    statements = Statements(runtime.engine)
    first = [len(statements.during(lambda r=read: r())) for read in _readers(runtime, holder)]
    again = [statements.during(lambda r=read: r()) for read in _readers(runtime, holder)]
    # SQLite's marker is read on the process's own watching connection, outside the pool
    marker = {"sqlite": [], "postgresql": ["SELECT generation FROM writes_witness()"]}[runtime.engine.dialect.name]
    assert [[sql for sql, _ in sent] for sent in again] == [marker] * 3
    assert all(f >= 3 and f > len(a) for f, a in zip(first, again))  # not kept, the account's rows are read


def _readers(runtime, account_id) -> list:
    return [lambda: accounts.account_summary(runtime.uow(), account_id),
            lambda: position_risk_page(runtime.uow, account_id),
            lambda: order_page(runtime.uow(), account_id)]


def _summary_in(uow, account_id):
    return accounts._account_summary(uow, account_id, accounts.engine_account_margin)


def test_an_answer_read_while_a_writer_is_open_is_not_served_after_its_commit(runtime):
    """On PostgreSQL a writer that has stepped the generation and not yet committed makes it
    None: the answer read meanwhile (without the write) is not kept, so once the writer commits,
    nothing kept under the generation it stepped to hides its write. On SQLite the writer's
    commit moves every other connection's ``data_version``."""
    holder, _, _ = market(runtime)
    def rename(name: str, *, read_before_commit: bool):
        with runtime.engine.connect() as writer:
            writer.execute(text("UPDATE accounts SET name = :name WHERE id = :id"), {"name": name, "id": holder})
            read = accounts.account_summary(runtime.uow(), holder) if read_before_commit else None
            writer.commit()
        return read

    before = rename("renamed", read_before_commit=True)
    assert before.name != "renamed"
    # while another writer is open, the answer read while the first one was open is no answer
    with runtime.engine.connect() as writer:
        writer.execute(text("UPDATE accounts SET name = name WHERE id <> :id"), {"id": holder})
        assert accounts.account_summary(runtime.uow(), holder).name == "renamed"
        writer.rollback()
    assert accounts.account_summary(runtime.uow(), holder).name == "renamed"
    rename("again", read_before_commit=False)
    assert accounts.account_summary(runtime.uow(), holder).name == "again"


def test_a_write_committed_while_an_answer_is_read_is_served_by_the_next_call(runtime):
    """A deposit commits while an answer is read: before the read's snapshot (the answer has it)
    or after it (the answer has not). Either way the deposit moved the marker after the call read
    it, so the next call reads again. Kept under a marker read after the answer's reads, the
    second answer would be served without the deposit."""
    holder, _, _ = market(runtime)
    memo = WitnessedReads()
    balance = accounts.account_summary(runtime.uow(), holder).collateral_sats

    def racing(before_the_snapshot: bool):
        def read(uow):
            if before_the_snapshot:
                ledger.deposit(runtime.uow(), runtime.clock, holder, 9_000, "before")
            accounts.require_account(uow, holder)  # the transaction's first statement: its snapshot
            if not before_the_snapshot:
                ledger.deposit(runtime.uow(), runtime.clock, holder, 1_000, "after")
            return _summary_in(uow, holder)
        return read

    raced = memo.current(runtime.uow(), "summary", racing(before_the_snapshot=True))
    assert raced.collateral_sats == balance + 9_000
    raced = memo.current(runtime.uow(), "summary", racing(before_the_snapshot=False))
    assert raced.collateral_sats == balance + 9_000  # the snapshot predates the second deposit
    served = memo.current(runtime.uow(), "summary", lambda uow: _summary_in(uow, holder))
    assert served.collateral_sats == balance + 10_000
    assert memo.current(runtime.uow(), "summary", lambda uow: pytest.fail("kept: not read")) == served


def test_a_simulations_answer_is_never_kept(runtime):
    holder, other, _ = market(runtime, collateral_sats=lambda i: 2 * 10**6 if i == 0 else 10**12)
    place(runtime, holder, "buy", 4, MARK - 100)
    place(runtime, other, "sell", 4, MARK - 100)  # a position: maintenance margin
    real = accounts.account_summary(runtime.uow(), holder)
    params = risk_parameters(runtime.uow())
    stricter = replace(params, margin={product: replace(ratios, maintenance=ratios.initial)  # the highest allowed
                                       for product, ratios in params.margin.items()})
    with parameters_in_force(stricter):
        simulated = accounts.account_summary(runtime.uow(), holder)
        simulated_page = position_risk_page(runtime.uow, holder)
    assert simulated.maintenance_margin_sats > real.maintenance_margin_sats
    assert simulated_page.items[0].estimated_liquidation_price is not None
    assert accounts.account_summary(runtime.uow(), holder) == real
    assert position_risk_page(runtime.uow, holder) != simulated_page  # a liquidation price nearer the mark
    assert position_risk_page(runtime.uow, holder) == _fresh(runtime, holder)[1]


def test_what_is_kept_weighs_at_most_max_weight_per_database(runtime):
    memo = WitnessedReads(max_weight=4)
    reads = []

    def read(question):
        answer = Page(items=[question] * 2, total=2, page=1, page_size=2) if question == "page" else question
        return lambda uow: reads.append(question) or answer

    for question in ("a", "b", "a", "c", "a", "b", "page", "a", "page", "c"):
        assert memo.current(runtime.uow(), question, read(question)) == read(question)(None)
        reads.pop()  # the expected answer's own read
    # a, b, c weigh one each and fit; the page weighs three: it drops the two least recently used
    assert reads == ["a", "b", "c", "page", "a", "c"]


def test_the_process_memo_is_the_one_the_reads_use(runtime):
    """The endpoints' reads go through ``WITNESSED`` (what the other tests' fresh memos stand
    beside): an answer it keeps is what the next call serves."""
    holder, _, _ = market(runtime)
    first = accounts.account_summary(runtime.uow(), holder)
    assert accounts.account_summary(runtime.uow(), holder) is first
    assert WITNESSED._by_database[runtime.engine]  # it was kept there, not in another memo


def test_unkept_reads_are_read_afresh_and_leave_what_is_kept_alone(runtime):
    """Inside ``unkept()`` a kept answer is not served (the account's rows are read again) and
    what is read is not kept; outside it again, the answer kept before is served."""
    holder, _, _ = market(runtime)
    place(runtime, holder, "buy", 1, MARK - 100)
    kept = _reads(runtime, holder)
    kept_before = dict(WITNESSED._by_database[runtime.engine])
    statements = Statements(runtime.engine)
    with unkept():
        sent = [statements.during(lambda r=read: r()) for read in _readers(runtime, holder)]
        fresh = _reads(runtime, holder)
    assert all(len(statements_sent) >= 3 for statements_sent in sent)  # not one marker: the rows
    assert fresh == kept and all(f is not k for f, k in zip(fresh, kept))
    assert dict(WITNESSED._by_database[runtime.engine]) == kept_before
    assert all(r is k for r, k in zip(_reads(runtime, holder), kept))


def test_sqlites_marker_is_read_on_a_connection_of_the_process_s_own(runtime, monkeypatch):
    """A forked process (gunicorn's workers) must not share its parent's watching connection:
    it makes its own on its first read. Disposing of the engine closes it. An in-memory database
    (one connection) keeps nothing."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's watching connection")
    from sqlalchemy import create_engine

    from hashedge.adapters import reads_marker as module

    module.reads_marker(runtime.engine)
    parents = module._watchers[runtime.engine]._connection
    monkeypatch.setattr(module.os, "getpid", lambda: -1)
    before = module.reads_marker(runtime.engine)
    childs = module._watchers[runtime.engine]._connection
    assert childs is not parents
    ledger.deposit(runtime.uow(), runtime.clock, market(runtime)[0], 1, "moves-it")
    assert module.reads_marker(runtime.engine) != before
    assert module.reads_marker(create_engine("sqlite://")) is None
    runtime.engine.dispose()  # closes it, so the last connection to close folds the WAL back
    assert module._watchers[runtime.engine]._connection is None
    assert module.reads_marker(runtime.engine) == module.reads_marker(runtime.engine)  # and reopens

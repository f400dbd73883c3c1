"""What a process read from the database, kept per database and question while it is current.

Some public reads change far less often than they are asked for: the list of instruments (a
listing, an expiry, a settlement, a mark, a block) and the latest fixing of every index (a
publication). Read every time, they were most of their requests' CPU at 200 requests a second
(BENCHMARKS.md, part P). Each is kept here with its **version**: a tuple that one small statement
reads and that changes with every write that changes the answer
(``adapters.repositories.listing_version``, ``adapters.repositories.indices.fixings_version``,
whose docstrings say why). Every call reads the version; the kept answer is used only if it was
read under that same version, in one read-only transaction with it. Otherwise the answer is read
again with its version and kept. So nothing is served that the database does not hold now, and
any number of processes agree.

Reads that depend on too many tables for a version of their own (an account's summary, its
positions and orders) are kept by ``WITNESSED`` instead, under a marker that every commit of any
write moves (PostgreSQL's generation of writes, SQLite's ``data_version``): one statement while
nothing is written anywhere, and a miss after any write.

Answers are kept per engine (a weak key: a test's engine takes its answers with it) and per
question; one thread's answer replaces another's whole, never in part. They must be immutable
values: every caller gets the same object. Inside ``with unkept():`` every read of both kinds is
read afresh, neither served from nor kept (a check that compares what is kept with the database).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from sqlalchemy import Connection

from hashedge.adapters.reads_marker import reads_marker
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.services.exchange_reads import verifying

T = TypeVar("T")

_unkept: ContextVar[bool] = ContextVar("unkept", default=False)


@contextmanager
def unkept() -> Iterator[None]:
    """Within it (this thread or task), reads are read from the database and not kept."""
    token = _unkept.set(True)
    try:
        yield
    finally:
        _unkept.reset(token)


class VersionedReads:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_database: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def current(self, uow: UnitOfWork, question: Hashable, version_of: Callable[[Connection], tuple],
                read: Callable[[UnitOfWork], T]) -> T:
        """``read(uow)``'s answer as the database holds it now: the kept one if it was read under
        the version ``version_of`` reads now (one statement in a transaction of its own), else
        read with its version inside one ``uow.read_only()`` block, and kept. Outside any ``with``
        block of ``uow``."""
        if _unkept.get():
            with uow.read_only():
                return read(uow)
        database = uow.database
        kept = self._by_database.get(database, {}).get(question)
        if kept is not None and uow.read_detached(version_of) == kept[0]:
            return kept[1]
        with uow.read_only():
            version = uow.on_connection(version_of)
            answer = read(uow)
        with self._lock:
            self._by_database.setdefault(database, {})[question] = (version, answer)
        return answer


VERSIONED = VersionedReads()


class WitnessedReads:
    """Answers kept under a marker of the database's writes (``adapters.reads_marker``): for
    reads that depend on too many tables for a version of their own, such as an account's summary
    (its collateral, positions, resting orders, the marks, specs and parameters). Any commit of
    any write moves the marker, so an answer is kept only until the next write anywhere; it pays
    where an account is read far more often than anything is written, and costs a miss one
    statement more.

    On PostgreSQL the marker is the generation of writes (migration 0019); on SQLite the
    ``data_version`` of a connection the process keeps for reading it, which every commit by any
    other connection moves.

    A call reads the marker first, before and outside the answer's transaction (on PostgreSQL in
    autocommit, on SQLite on the watching connection). If the kept answer was read under
    the same marker, that answer is the database's now. Otherwise the answer is read in one
    read-only transaction (one snapshot) and kept under that marker, unless nothing could vouch
    (None: on PostgreSQL, another writer open). Why that is sound: every commit moves the marker
    (on PostgreSQL a writer steps the generation before it commits, holding the witness's lock
    from before its step until its commit). The snapshot is taken after the marker was read, so it
    holds every write committed by then, and possibly some committed since, which moved the marker
    further. A later call that reads the same marker therefore finds nothing committed after the
    first marker was read: the snapshot is the database now. The order matters: read inside the
    snapshot's transaction, the PostgreSQL generation could count a write that committed after the
    snapshot was taken, and an answer without that write would be kept under it.

    With ``keep=False`` (a simulation's parameters in force) the answer is read as usual, with no
    statement more. With ``HASHEDGE_VERIFY_KEPT_STATE=1`` (the test suite) a kept answer is read
    again and compared, and a difference is an error. Answers must be immutable values that
    compare by content. What is kept per database weighs at most ``max_weight`` (an answer weighs
    one, a page one more a row: a page of 100 orders with their fills is some 100 KB), the least
    recently used dropped first."""

    def __init__(self, *, max_weight: int = 20_000):
        self._lock = threading.Lock()
        self._by_database: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._weights: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # database -> kept weight
        self._max_weight = max_weight

    def current(self, uow: UnitOfWork, question: Hashable, read: Callable[[UnitOfWork], T], *,
                keep: bool = True) -> T:
        """``read(uow)``'s answer as the database holds it now, run inside ``uow.read_only()``
        when it is not kept (class docstring). Outside any ``with`` block of ``uow``."""
        if not keep or _unkept.get():
            with uow.read_only():
                return read(uow)
        database = uow.database
        marker = reads_marker(database)
        if marker is not None:
            with self._lock:
                kept = self._by_database.get(database, {}).get(question)
                hit = kept is not None and kept[0] == marker
                if hit:
                    self._by_database[database].move_to_end(question)
            if hit:
                if verifying():
                    self._verify(uow, question, read, kept[1])
                return kept[1]
        with uow.read_only():
            answer = read(uow)
        if marker is not None:
            self._keep(database, question, marker, answer)
        return answer

    def _keep(self, database, question: Hashable, marker, answer) -> None:
        weight = 1 + len(getattr(answer, "items", ()))  # a page weighs its rows
        with self._lock:
            answers = self._by_database.setdefault(database, OrderedDict())
            kept = self._weights.get(database, 0) + weight
            replaced = answers.pop(question, None)
            if replaced is not None:
                kept -= replaced[2]
            answers[question] = (marker, answer, weight)
            while kept > self._max_weight and answers:
                kept -= answers.popitem(last=False)[1][2]
            self._weights[database] = kept

    @staticmethod
    def _verify(uow: UnitOfWork, question: Hashable, read: Callable[[UnitOfWork], T], kept: T) -> None:
        with uow.read_only():
            fresh = read(uow)
        if fresh != kept:
            raise AssertionError(f"kept answer to {question!r} differs from the database's: {kept!r} != {fresh!r}")


WITNESSED = WitnessedReads()

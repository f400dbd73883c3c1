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

Answers are kept per engine (a weak key: a test's engine takes its answers with it) and per
question; one thread's answer replaces another's whole, never in part. They must be immutable
values: every caller gets the same object.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import Connection

from hashedge.adapters.unit_of_work import UnitOfWork

T = TypeVar("T")


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

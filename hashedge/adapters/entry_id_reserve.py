"""Journal entry ids a process holds in reserve for its pipelined batches (PostgreSQL).

A journal entry's id comes from the sequence ``journal_entry_ids``. The engine's batch writes its
entries inside a write pipeline (``write_pipeline``), where a statement that needs no answer is
queued and goes out with the next one that does. The postings and the entry rows carry the
entries' ids, so drawing them from the sequence was an answer the batch waited for: a round trip
of its own, between the batch's orders and its journal (ORDER_PATH.md, "A batch's round trips").

A sequence never gives a value twice, whether the transaction that drew it commits or rolls back,
so a value drawn in one transaction may be used in a later one: each id still goes to one entry at
most. A pipelined batch therefore takes its ids from this process's reserve, which draws
``RESERVE_BLOCK`` of them at a time (in the batch that finds it short: one round trip every few
hundred entries). What that changes:

- **Order.** An entry's id was never its place in commit order (transactions that post run in
  parallel; JOURNAL.md, "Why links are in commit order"); the hash chain's links give that order.
  Ids from a reserve ascend within a process, as the sequence's values do.
- **Gaps.** An id taken by a batch that rolls back is not used again, as the sequence's values drawn
  by a rolled-back transaction never were; a process that stops leaves the ids still in its reserve
  unused: at most a block of gaps, never a duplicate.
- **Scope.** One reserve per database engine per process. A child forked from a process with a
  reserve starts without one (``os.register_at_fork``), so two processes never hold the same ids.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine

RESERVE_BLOCK = 1024  # ids drawn at a time: one round trip per block; at most this many gaps per stop


class EntryIdReserve:
    """Ids drawn from the journal's sequence and not used yet, ascending."""

    def __init__(self) -> None:
        self._ids: deque[int] = deque()
        self._lock = threading.Lock()

    def take(self, count: int, draw: Callable[[int], list[int]]) -> list[int]:
        """``count`` ids, each given once only; ``draw(n)`` draws ``n`` new values from the
        sequence (at least a block) when the reserve holds fewer than ``count``."""
        with self._lock:
            if len(self._ids) < count:
                self._ids.extend(sorted(draw(max(count - len(self._ids), RESERVE_BLOCK))))
            return [self._ids.popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._ids)


_RESERVES: WeakKeyDictionary[Engine, EntryIdReserve] = WeakKeyDictionary()
_RESERVES_LOCK = threading.Lock()


def reserve_of(engine: Engine) -> EntryIdReserve:
    """This process's reserve of ``engine``'s journal ids."""
    with _RESERVES_LOCK:
        reserve = _RESERVES.get(engine)
        if reserve is None:
            reserve = _RESERVES[engine] = EntryIdReserve()
        return reserve


def _forget_in_child() -> None:
    global _RESERVES_LOCK
    _RESERVES.clear()
    _RESERVES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)

"""The journal ids a process holds in reserve (``adapters.entry_id_reserve``), against a stand-in
for the sequence that counts its draws: every id given once, ascending, drawn a block at a time."""

from __future__ import annotations

import itertools
import os
import threading

import pytest

from hashedge.adapters import entry_id_reserve
from hashedge.adapters.entry_id_reserve import RESERVE_BLOCK, EntryIdReserve

pytestmark = pytest.mark.timeout(30)


class Sequence:
    """What ``nextval`` over ``generate_series(1, n)`` gives: the next ``n`` values, never again."""

    def __init__(self) -> None:
        self._next = itertools.count(1)
        self.draws: list[int] = []

    def draw(self, n: int) -> list[int]:
        self.draws.append(n)
        return [next(self._next) for _ in range(n)][::-1]  # in any order: the reserve sorts them


def test_ids_are_given_once_in_order_and_drawn_a_block_at_a_time():
    sequence, reserve = Sequence(), EntryIdReserve()
    taken = [reserve.take(count, sequence.draw) for count in (3, 1, RESERVE_BLOCK - 4, 2)]
    assert [ids for batch in taken for ids in batch] == list(range(1, RESERVE_BLOCK + 3))
    assert sequence.draws == [RESERVE_BLOCK, RESERVE_BLOCK]  # the fourth take found it short
    assert len(reserve) == RESERVE_BLOCK - 2


def test_a_take_larger_than_a_block_draws_what_it_lacks():
    sequence, reserve = Sequence(), EntryIdReserve()
    reserve.take(RESERVE_BLOCK - 10, sequence.draw)  # 10 left
    ids = reserve.take(3 * RESERVE_BLOCK, sequence.draw)
    assert ids == list(range(RESERVE_BLOCK - 9, 4 * RESERVE_BLOCK - 9))
    assert sequence.draws == [RESERVE_BLOCK, 3 * RESERVE_BLOCK - 10] and len(reserve) == 0


def test_a_failed_draw_gives_nothing_and_leaves_the_reserve_as_it_was():
    sequence, reserve = Sequence(), EntryIdReserve()
    reserve.take(RESERVE_BLOCK - 2, sequence.draw)

    def lost(_n):
        raise ConnectionError("the server went away")
    with pytest.raises(ConnectionError):
        reserve.take(5, lost)
    assert reserve.take(2, lost) == [RESERVE_BLOCK - 1, RESERVE_BLOCK]  # enough held: no draw


def test_threads_taking_at_once_never_get_the_same_id():
    sequence, reserve = Sequence(), EntryIdReserve()
    got: list[list[int]] = []
    start = threading.Barrier(8)

    def worker(count: int) -> None:
        start.wait()
        mine = [i for _ in range(200) for i in reserve.take(count, sequence.draw)]
        got.append(mine)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for mine in got for i in mine]
    assert len(every) == len(set(every)) == 200 * sum(range(1, 9))
    assert all(mine == sorted(mine) for mine in got)  # each thread's ids ascend


def test_a_forked_child_starts_without_its_parents_reserve():
    engine = object.__new__(type("Engine", (), {}))  # any weakly referenced key
    entry_id_reserve._RESERVES[engine] = parent = EntryIdReserve()
    parent.take(1, Sequence().draw)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh reserve for the same engine
        os.write(write, b"1" if entry_id_reserve.reserve_of(engine) is not parent else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert entry_id_reserve.reserve_of(engine) is parent

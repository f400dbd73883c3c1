"""``gc_policy.settle``: what a long-running process holds after start-up leaves the collector's
way, full collections are spaced out, and cycles made later are still collected."""

from __future__ import annotations

import gc
import weakref

from hashedge import gc_policy


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_settle_freezes_what_is_alive_and_still_collects_later_cycles():
    threshold = gc.get_threshold()
    held = [[n] for n in range(20_000)]  # 20,001 tracked containers, alive at start-up
    try:
        frozen_before = gc.get_freeze_count()
        gc_policy.settle()
        assert gc.get_freeze_count() - frozen_before >= len(held)
        assert gc.get_threshold()[:2] == threshold[:2]
        assert gc.get_threshold()[2] > threshold[2]  # full collections spaced out

        first, second = _Node(), _Node()  # a cycle made after: garbage once dropped
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)

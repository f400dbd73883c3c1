"""Garbage collection in the long-running processes that answer orders: the matching engine and
the web workers.

CPython's cyclic collector stops a whole process for a full (generation 2) collection, which walks
every container object the process holds. At 200 orders/s (BENCHMARKS.md, part I) one took
85-176 ms in the engine and up to 155-175 ms in a web worker, a few times a minute each, and
every order in flight in that process waited that long. ``settle`` is called once a process has
started (imports done, app built, engine leading). It collects the start-up garbage, then moves
everything still alive out of the collector's way for good (``gc.freeze``: modules, classes,
the app, SQLAlchemy's metadata and caches), and has a full collection wait for ten times as many
younger collections as CPython's default. Nothing is turned off: young cycles are collected as
before, and reference counting frees everything acyclic at once.
"""

from __future__ import annotations

import gc

YOUNGER_COLLECTIONS_PER_FULL = 100  # CPython's default: 10


def settle() -> None:
    """Freeze what the process has built so far and space out full collections (module docstring)."""
    gc.collect()
    gc.freeze()
    youngest, middle, _ = gc.get_threshold()
    gc.set_threshold(youngest, middle, YOUNGER_COLLECTIONS_PER_FULL)

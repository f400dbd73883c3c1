"""Fault injection for crash tests: ``checkpoint(name)`` kills the process on the spot (SIGKILL, no
cleanup, no rollback handlers: as a power cut would) when ``HASHEDGE_FAULT`` names that point:
``name`` for its first pass, ``name@n`` for its n-th pass in this process.

A checkpoint costs one environment lookup. It exists so tests can prove a use case is crash-safe
(one transaction: killed before the commit, nothing of it remains; run again, it finishes exactly
once). Never set ``HASHEDGE_FAULT`` in production.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

VARIABLE = "HASHEDGE_FAULT"
_passes: Counter[str] = Counter()


def checkpoint(name: str) -> None:
    wanted = os.environ.get(VARIABLE)
    if not wanted or not wanted.startswith(name):
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _passes[name] += 1
    if _passes[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)

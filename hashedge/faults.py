"""Fault injection for crash tests: ``checkpoint(name)`` kills the process on the spot (SIGKILL, no
cleanup, no rollback handlers: as a power cut would) when ``HASHEDGE_FAULT`` names that point.

A checkpoint costs one environment lookup. It exists so tests can prove a use case is crash-safe
(one transaction: killed before the commit, nothing of it remains; run again, it finishes exactly
once), as the scheduler's crash tests do for settlement. Never set ``HASHEDGE_FAULT`` in production.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "HASHEDGE_FAULT"


def checkpoint(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)

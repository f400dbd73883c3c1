"""What every block source offers, how sources fail, and the one retry rule network sources share.

A source answers four questions about the chain it sees *now*: its tip height, the hash at a height,
one block, and an inclusive range of blocks. Callers (ingestion) compare hashes to detect reorgs,
so a source never caches answers that a reorg could change.

Errors are one line each, so the CLI and the scheduler log can show them as they are:

- ``BlockNotFound``: the source is healthy but has no such block (height above the tip, unknown
  hash, a block that left the main chain between two calls).
- ``SourceUnavailable``: transient failures (connection refused or reset, timeouts, HTTP 5xx/429,
  a node still warming up) that outlasted every retry.
- ``SourceError``: everything else, never retried: bad credentials, a malformed reply, a request
  the source rejects.
"""

from __future__ import annotations

import random as _random
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from indices.blocks import Block

_MESSAGE_LIMIT_CHARS = 300
T = TypeVar("T")


def one_line(text: object, limit: int = _MESSAGE_LIMIT_CHARS) -> str:
    """Collapse whitespace (server bodies carry newlines) and cap the length of a message."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class SourceError(Exception):
    """A block source failed; the message is a single line fit for a log or a terminal."""

    def __init__(self, message: str):
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return self.args[0]


class BlockNotFound(SourceError):
    """The source does not have the block asked for (``height`` and/or ``block_hash`` say which)."""

    def __init__(self, message: str, *, height: int | None = None, block_hash: str | None = None):
        super().__init__(message)
        self.height = height
        self.block_hash = block_hash


class SourceUnavailable(SourceError):
    """Transient failures persisted through ``attempts`` tries; the last one is the cause."""

    def __init__(self, message: str, *, attempts: int):
        super().__init__(message)
        self.attempts = attempts


class TransientSourceError(SourceError):
    """One failed attempt worth retrying. ``retry_after_seconds`` echoes a server's Retry-After."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


def whole_number(value: object, field: str, *, where: str) -> int:
    """An integer field of a source's reply, as sent: a JSON number with a fraction or an
    exponent (``50.0``: an amount in BTC where satoshis were expected, as some hosted node
    providers answer), a boolean or text is a ``SourceError`` naming the field, never truncated
    into a wrong amount."""
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "a decimal number (BTC instead of satoshis?)" if isinstance(value, float) else type(value).__name__
        raise SourceError(f"{where}: {field} must be a whole number, got {value!r}: {kind}")
    return value


@runtime_checkable
class BlockSource(Protocol):
    def tip_height(self) -> int: ...

    def block_hash(self, height: int) -> str: ...

    def block(self, height: int) -> Block: ...

    def blocks(self, start_height: int, end_height: int) -> list[Block]:
        """Blocks ``start_height``..``end_height`` inclusive, in height order."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for transient failures.

    The wait before retry n (n = 1, 2, ...) is ``initial_delay_seconds * multiplier**(n-1)``, capped
    at ``max_delay_seconds``, then shortened by a random fraction of up to ``jitter_ratio`` so that
    many clients failing together do not retry in lockstep. A server's Retry-After, when given, is
    honoured as a lower bound (still capped). ``max_attempts`` counts the first try.
    """

    max_attempts: int = 5
    initial_delay_seconds: float = 0.5
    multiplier: float = 2.0
    max_delay_seconds: float = 30.0
    jitter_ratio: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.initial_delay_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("retry delays must be non-negative")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")
        if not 0 <= self.jitter_ratio <= 1:
            raise ValueError(f"jitter_ratio must be between 0 and 1, got {self.jitter_ratio}")

    def delay_seconds(self, retry_number: int, random_fraction: float,
                      retry_after_seconds: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based); ``random_fraction`` in [0, 1)."""
        backoff = min(self.initial_delay_seconds * self.multiplier ** (retry_number - 1),
                      self.max_delay_seconds)
        delay = backoff * (1.0 - self.jitter_ratio * random_fraction)
        if retry_after_seconds is not None:
            delay = max(delay, min(retry_after_seconds, self.max_delay_seconds))
        return delay


DEFAULT_RETRY_POLICY = RetryPolicy()


def call_with_retry(
    operation: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    sleep: Callable[[float], None] = _time.sleep,
    random: Callable[[], float] = _random.random,
) -> T:
    """Run ``operation``, retrying it while it raises ``TransientSourceError``.

    Any other exception (``BlockNotFound``, ``SourceError``, a bug) propagates at once: retrying a
    wrong password or a malformed reply only delays the error. After the last attempt the
    transient failure becomes ``SourceUnavailable`` naming ``what`` was attempted.
    """
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return operation()
        except TransientSourceError as exc:
            if attempt == policy.max_attempts:
                raise SourceUnavailable(
                    f"{what}: gave up after {attempt} attempt{'s' if attempt > 1 else ''}: {exc.message}",
                    attempts=attempt,
                ) from exc
            sleep(policy.delay_seconds(attempt, random(), exc.retry_after_seconds))
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

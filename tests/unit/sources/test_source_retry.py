"""The retry rule shared by network sources: what is retried, how long it waits, how it gives up."""

import pytest

from indices.sources.base import (
    BlockNotFound,
    BlockSource,
    RetryPolicy,
    SourceError,
    SourceUnavailable,
    TransientSourceError,
    call_with_retry,
    one_line,
)


class ScriptedOperation:
    """Raises the scripted exceptions in turn, then returns ``result``."""

    def __init__(self, *failures, result="ok"):
        self.failures = list(failures)
        self.result = result
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


def run(operation, policy=RetryPolicy(max_attempts=4), fraction=0.0):
    waits = []
    result = call_with_retry(operation, what="getblockcount at http://node", policy=policy,
                             sleep=waits.append, random=lambda: fraction)
    return result, waits


def test_transient_failures_are_retried_with_doubling_waits_until_success():
    operation = ScriptedOperation(TransientSourceError("timed out"), TransientSourceError("HTTP 503"))
    result, waits = run(operation)
    assert (result, operation.calls, waits) == ("ok", 3, [0.5, 1.0])


def test_jitter_shortens_each_wait_by_up_to_half():
    operation = ScriptedOperation(TransientSourceError("a"), TransientSourceError("b"))
    _, waits = run(operation, fraction=0.5)
    assert waits == [0.375, 0.75]


def test_waits_are_capped_at_the_maximum_delay():
    policy = RetryPolicy(max_attempts=6, initial_delay_seconds=1.0, max_delay_seconds=5.0, jitter_ratio=0.0)
    operation = ScriptedOperation(*[TransientSourceError("x") for _ in range(5)])
    _, waits = run(operation, policy=policy)
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_retry_after_header_is_honoured_as_the_minimum_wait_within_the_cap():
    policy = RetryPolicy(max_attempts=3, max_delay_seconds=10.0)
    operation = ScriptedOperation(TransientSourceError("429", retry_after_seconds=7.0),
                                  TransientSourceError("429", retry_after_seconds=60.0))
    _, waits = run(operation, policy=policy)
    assert waits == [7.0, 10.0]


def test_persistent_transient_failures_become_source_unavailable_after_max_attempts():
    operation = ScriptedOperation(*[TransientSourceError(f"HTTP 500 #{i}") for i in range(4)])
    with pytest.raises(SourceUnavailable) as caught:
        run(operation)
    assert operation.calls == 4
    assert caught.value.attempts == 4
    assert str(caught.value) == "getblockcount at http://node: gave up after 4 attempts: HTTP 500 #3"
    assert isinstance(caught.value.__cause__, TransientSourceError)


@pytest.mark.parametrize("error", [SourceError("authentication failed (HTTP 401)"),
                                   BlockNotFound("no block 9", height=9), KeyError("bug")])
def test_non_transient_errors_are_raised_at_once_without_waiting(error):
    operation = ScriptedOperation(error)
    with pytest.raises(type(error)):
        run(operation)
    assert operation.calls == 1


def test_a_single_attempt_policy_never_sleeps():
    operation = ScriptedOperation(TransientSourceError("reset"))
    with pytest.raises(SourceUnavailable, match="gave up after 1 attempt: reset"):
        run(operation, policy=RetryPolicy(max_attempts=1))


@pytest.mark.parametrize("options", [{"max_attempts": 0}, {"multiplier": 0.5}, {"jitter_ratio": 1.5},
                                     {"initial_delay_seconds": -1}])
def test_nonsense_retry_policies_are_refused(options):
    with pytest.raises(ValueError):
        RetryPolicy(**options)


def test_error_messages_are_one_line_and_bounded():
    error = SourceError("HTTP 502 from http://node:\n<html>\n  <body>Bad   gateway</body>\n</html>")
    assert str(error) == "HTTP 502 from http://node: <html> <body>Bad gateway</body> </html>"
    assert len(one_line("x" * 1000)) == 300
    assert one_line("x" * 1000).endswith("...")


def test_block_not_found_carries_the_height_and_hash_asked_for():
    error = BlockNotFound("gone", height=5, block_hash="ab" * 32)
    assert (error.height, error.block_hash, error.message) == (5, "ab" * 32, "gone")
    assert isinstance(error, SourceError)


def test_the_protocol_recognises_any_object_with_the_four_methods():
    class Minimal:
        def tip_height(self): return 0
        def block_hash(self, height): return "0" * 64
        def block(self, height): raise BlockNotFound("none")
        def blocks(self, start_height, end_height): return []

    assert isinstance(Minimal(), BlockSource)
    assert not isinstance(object(), BlockSource)

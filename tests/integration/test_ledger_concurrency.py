"""Real concurrent connections racing on one account, on SQLite and PostgreSQL: each thread has
its own session and connection, and a barrier releases them together."""

from __future__ import annotations

import threading
import time

from hashedge.domain import ledger as journal
from hashedge.errors import InsufficientCollateral
from hashedge.services import accounts, ledger

THREADS = 10


def race(action, threads: int = THREADS) -> list:
    """Run ``action(i)`` on ``threads`` threads released together; results or exceptions."""
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in workers), "a worker is stuck"
    return results


class SlowFlatMargin:
    """No positions, but a margin engine slow enough (20 ms) to hold the race window open, and a
    record of how many withdrawals were deciding at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.deciding = self.most_deciding_at_once = 0

    def __call__(self, account_id, uow) -> int:
        with self._lock:
            self.deciding += 1
            self.most_deciding_at_once = max(self.most_deciding_at_once, self.deciding)
        time.sleep(0.02)
        with self._lock:
            self.deciding -= 1
        return 0


def test_ten_simultaneous_withdrawals_can_never_overdraw_an_account(runtime):
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, "racer")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 100_000, "funding")
    margin = SlowFlatMargin()

    results = race(lambda i: ledger.withdraw(runtime.uow(), runtime.clock, account.id, 30_000, f"w-{i}", margin))

    succeeded = [r for r in results if isinstance(r, ledger.CollateralMovement)]
    refused = [r for r in results if isinstance(r, InsufficientCollateral)]
    assert (len(succeeded), len(refused)) == (3, 7), results
    assert sorted(r.balance_sats for r in refused) == [10_000] * 7  # each saw the final balance
    assert margin.most_deciding_at_once == 1  # decisions were made one at a time
    assert accounts.account_summary(runtime.uow(), account.id).collateral_sats == 10_000
    page = ledger.statement(runtime.uow(), account.id)
    assert [line.balance_after_sats for line in page.lines] == [100_000, 70_000, 40_000, 10_000]
    assert ledger.check_balances(runtime.uow()).ok


def test_one_request_retried_on_ten_connections_at_once_is_posted_once(runtime):
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, "retrier")

    results = race(lambda i: ledger.deposit(runtime.uow(), runtime.clock, account.id, 25_000, "the-same-key"))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.entry_id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * (THREADS - 1)
    assert accounts.account_summary(runtime.uow(), account.id).collateral_sats == 25_000
    assert ledger.check_balances(runtime.uow()).ok


class MeetingPoint:
    """A margin engine that waits (up to a second) for the other withdrawal to be deciding too,
    so the test sees whether two decisions can overlap without depending on thread timing."""

    def __init__(self):
        self._condition = threading.Condition()
        self.deciding = self.most_deciding_at_once = 0

    def __call__(self, account_id, uow) -> int:
        with self._condition:
            self.deciding += 1
            self.most_deciding_at_once = max(self.most_deciding_at_once, self.deciding)
            self._condition.notify_all()
            self._condition.wait_for(lambda: self.deciding >= 2, timeout=1.0)
            self.deciding -= 1
        return 0


def test_withdrawals_from_different_accounts_do_not_wait_for_each_other_on_postgresql(runtime):
    """Row locks are per account: on PostgreSQL two accounts decide at the same time (SQLite has
    one writer at a time, so there it is enough that both succeed)."""
    ids = []
    for name in ("left", "right"):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 1_000, "funding")
        ids.append(account.id)
    margin = MeetingPoint()

    results = race(lambda i: ledger.withdraw(runtime.uow(), runtime.clock, ids[i], 1_000, "out", margin), threads=2)

    assert all(isinstance(r, ledger.CollateralMovement) for r in results), results
    expected_overlap = 2 if runtime.engine.dialect.name == "postgresql" else 1
    assert margin.most_deciding_at_once == expected_overlap


def test_an_entry_between_platform_accounts_posted_at_once_on_ten_connections_is_written_once(runtime):
    """No participant row to lock: the unique idempotency key decides, and the losers get the
    winner's entry back (a savepoint keeps their transactions usable)."""
    split = journal.transfer(journal.FEES, journal.INSURANCE_FUND, 1_000, idempotency_key="fee-split:2026-11-01",
                             occurred_at=runtime.clock.now())

    def post_split(_i):
        with runtime.uow() as uow:
            posted = ledger.post(uow, split, runtime.clock.now())
            uow.commit()
        return posted

    results = race(post_split)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.recorded.id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * (THREADS - 1)
    check = ledger.check_balances(runtime.uow())
    assert check.ok and check.differences == {}
    with runtime.uow() as uow:
        assert uow.ledger.balances([journal.FEES, journal.INSURANCE_FUND]) == {
            journal.FEES: -1_000, journal.INSURANCE_FUND: 1_000}

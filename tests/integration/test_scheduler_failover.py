"""Scheduler failover with real processes, real APScheduler and the real clock, on SQLite and
PostgreSQL: a leader frozen past its lease (SIGSTOP) leads again once its successor dies
(SIGKILL), and a run left ``running`` by a leader killed mid-job is run again by the next one.
Leases of 2 s renewed every 0.4 s keep each test to a few seconds
(``tests/integration/scheduler_worker.py`` is the process). A wait that times out says what the
workers and the database said (``state``): each worker's log tail, the lease, the latest runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from hashedge.adapters.orm.jobs import JobRunRow, SchedulerLeaseRow

# real processes on a shared 2-core machine: the waits below bound liveness, not speed
pytestmark = pytest.mark.timeout(240)
REPOSITORY = Path(__file__).resolve().parents[2]
LOG_TAIL_LINES = 60


@pytest.fixture
def workers(database_url, tmp_path):
    started: list[subprocess.Popen] = []

    def spawn(holder: str, *options: str) -> subprocess.Popen:
        log = open(tmp_path / f"{holder}.log", "w")
        worker = subprocess.Popen([sys.executable, "-m", "tests.integration.scheduler_worker", database_url, holder,
                                   *options], cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT)
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGCONT)
            worker.kill()
        worker.wait(timeout=30)


@pytest.fixture
def db(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def holder(db) -> str | None:
    with db.connect() as connection:
        row = connection.execute(select(SchedulerLeaseRow.holder, SchedulerLeaseRow.expires_at)).first()
    if row is None:
        return None
    expires_at = row.expires_at.replace(tzinfo=timezone.utc)
    return row.holder if expires_at > datetime.now(timezone.utc) else None


def runs(db) -> list:
    with db.connect() as connection:
        return connection.execute(select(JobRunRow.id, JobRunRow.job, JobRunRow.status, JobRunRow.owner,
                                         JobRunRow.started_at, JobRunRow.attempts)).all()


@pytest.fixture
def state(db, tmp_path):
    """What to say when a wait times out: the lease, the latest runs and each worker's log tail
    (the logs are in ``tmp_path``), so a failure in CI tells what happened."""

    def describe() -> str:
        lines = [f"-- at {naive_utc_now().isoformat()} UTC, scheduler_lease:"]
        try:
            with db.connect() as connection:
                lines += [f"   {row.name} held by {row.holder} until {row.expires_at.isoformat()}" for row in
                          connection.execute(select(SchedulerLeaseRow.name, SchedulerLeaseRow.holder,
                                                    SchedulerLeaseRow.expires_at))]
            lines.append("-- job_runs, the latest 20:")
            lines += [f"   {r.id} {r.job} {r.status} {r.owner} started {r.started_at.isoformat()} attempt {r.attempts}"
                      for r in sorted(runs(db), key=lambda r: r.id)[-20:]]
        except Exception as exc:  # the database itself may be what went wrong
            lines.append(f"   cannot read the database: {type(exc).__name__}: {exc}")
        for log in sorted(tmp_path.glob("*.log")):
            logged = log.read_text(errors="replace").splitlines()
            earlier = [line for line in logged[:-LOG_TAIL_LINES] if any(
                mark in line for mark in (" ERROR ", " WARNING ", "Exception in thread", "Error:"))][-20:]
            if earlier:
                lines += [f"-- {log.name}, its last {len(earlier)} errors and warnings before the tail:", *earlier]
            lines += [f"-- {log.name}, the last {LOG_TAIL_LINES} lines:", *logged[-LOG_TAIL_LINES:]]
        return "\n".join(lines)

    return describe


def wait_until(condition, seconds: float, what: str, state=None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{state()}" if state else ""))
        time.sleep(0.1)


def naive_utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ran_since(db, owner: str, since: datetime) -> bool:
    return any(r.owner == owner and r.status == "succeeded" and r.started_at.replace(tzinfo=None) >= since
               for r in runs(db))


def freeze_outside_a_write(worker: subprocess.Popen, db) -> None:
    """SIGSTOP ``worker``, at a moment it holds no SQLite write lock: SQLite has one lock for the
    whole database, and a process frozen inside a write would block every other writer until it
    resumes (no standby could take over then; on PostgreSQL a frozen lease or job-store
    transaction is ended by the server after the lease TTL)."""
    for _attempt in range(100):
        os.kill(worker.pid, signal.SIGSTOP)
        wait_until_stopped(worker)  # kill() returns before the stop lands: until then it may begin a write
        if db.dialect.name != "sqlite":
            return
        probe = sqlite3.connect(db.url.database, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:  # frozen mid-write: let it finish and try again
            os.kill(worker.pid, signal.SIGCONT)
            time.sleep(0.05)
        finally:
            probe.close()
    raise AssertionError("the worker never paused outside a write")


def wait_until_stopped(worker: subprocess.Popen) -> None:
    """Wait until every thread of ``worker`` is stopped (state ``T`` in ``/proc``)."""
    deadline = time.monotonic() + 10
    while not all(stat.read_text().rpartition(") ")[2][0] in "Tt"
                  for stat in Path(f"/proc/{worker.pid}/task").glob("*/stat")):
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never stopped"
        time.sleep(0.01)


def freeze_inside_a_store_write(worker: subprocess.Popen, flag: Path) -> None:
    """Have ``worker`` (started with ``--freeze-on flag``) SIGSTOP itself inside its next job-store
    write, between the UPDATE and the commit: the server ends that transaction after the lease TTL,
    and the worker resumes to a failed commit (PostgreSQL)."""
    flag.touch()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{worker.pid}/stat").read_text().rpartition(") ")[2][0] != "T":
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never froze in a store write"
        time.sleep(0.05)


@pytest.mark.parametrize("freeze_point", ["anywhere", "inside a job-store write"])
def test_a_leader_frozen_past_its_lease_stands_by_and_leads_again_when_the_new_leader_dies(workers, db, state,
                                                                                        tmp_path, freeze_point):
    if freeze_point != "anywhere" and db.dialect.name == "sqlite":
        pytest.skip("SQLite: a process frozen inside a write holds the database's one lock (no standby can lead)")
    flag = tmp_path / "freeze-host-a"
    a = workers("host-a", "--freeze-on", str(flag))
    wait_until(lambda: holder(db) == "host-a" and ran_since(db, "host-a", datetime.min), 30, "a to lead", state)
    b = workers("host-b")
    time.sleep(1)
    assert holder(db) == "host-a", state()  # b stands by

    if freeze_point == "anywhere":
        freeze_outside_a_write(a, db)  # a freezes: its lease runs out and b takes over
    else:
        freeze_inside_a_store_write(a, flag)
    frozen_at = naive_utc_now()
    wait_until(lambda: holder(db) == "host-b" and ran_since(db, "host-b", frozen_at), 60, "b to take over", state)
    time.sleep(1)
    os.kill(a.pid, signal.SIGCONT)  # a wakes up past its lease: it must see that it lost it
    resumed_at = naive_utc_now()
    time.sleep(1.5)
    assert holder(db) == "host-b", state()
    assert not ran_since(db, "host-a", resumed_at), state()  # a ran nothing while b led

    b.kill()  # b dies without releasing the lease
    killed_at = naive_utc_now()
    wait_until(lambda: holder(db) == "host-a" and ran_since(db, "host-a", killed_at), 60, "a to lead again", state)

    a.send_signal(signal.SIGTERM)  # a stops cleanly and releases the lease at once
    assert a.wait(timeout=30) == 0, state()
    assert holder(db) is None, state()


def test_a_run_left_running_by_a_leader_killed_mid_job_is_run_again_by_the_next_leader(workers, db, state):
    hourly = ("--interval", "3600", "--ingest-interval", "3600")
    a = workers("host-a", *hourly, "--slow-ingest", "60")  # its node answers after a minute
    wait_until(lambda: any(r.job == "ingest_blocks" and r.status == "running" for r in runs(db)), 30,
               "a to start ingesting", state)
    [stuck] = [r for r in runs(db) if r.job == "ingest_blocks"]
    a.kill()  # mid-job: the run says "running" and the job's next run is an hour away

    workers("host-b", *hourly)
    wait_until(lambda: any(r.job == "ingest_blocks" and r.owner == "host-b" and r.status == "succeeded"
                           for r in runs(db)), 30, "b to run ingest_blocks again", state)
    after = {r.id: r for r in runs(db)}
    assert not [r for r in after.values() if r.status == "running" and r.owner == "host-a"], state()
    # the same slot is claimed again (attempt 2), or, across an hour boundary, left abandoned
    assert (after[stuck.id].status, after[stuck.id].owner) in {("succeeded", "host-b"), ("abandoned", "host-a")}, \
        state()

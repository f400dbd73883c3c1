"""The scheduler process: one leader, one run per slot, runs recorded, ingest follows reorgs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from hashedge.adapters.demo_chain import RevealingSource
from hashedge.adapters.orm.jobs import JobRunRow
from hashedge.jobs import scheduler as scheduler_module
from hashedge.jobs.lease import SchedulerLease
from hashedge.jobs.scheduler import JobContext, ingest_blocks_job, run_recorded, slot_of
from tests.builders import DEFAULT_START_TIME, make_frame


def at_block(height: int) -> datetime:
    return datetime.fromtimestamp(DEFAULT_START_TIME + 600 * height, tz=timezone.utc)


def job_runs(runtime) -> list[JobRunRow]:
    with runtime.session_factory() as session:
        return list(session.scalars(select(JobRunRow).order_by(JobRunRow.id)))


def test_only_one_process_holds_the_lease_until_it_expires(runtime, clock):
    first = SchedulerLease(runtime.session_factory, "host-a:1", timedelta(seconds=30))
    second = SchedulerLease(runtime.session_factory, "host-b:2", timedelta(seconds=30))
    assert first.try_acquire(clock.now())
    assert not second.try_acquire(clock.now())
    assert first.try_acquire(clock.now() + timedelta(seconds=20))  # renewal
    assert not second.try_acquire(clock.now() + timedelta(seconds=40))
    assert second.try_acquire(clock.now() + timedelta(seconds=51))  # the leader went silent
    assert runtime and second.current_holder()[0] == "host-b:2"


def test_a_released_lease_is_free_at_once(runtime, clock):
    first = SchedulerLease(runtime.session_factory, "host-a:1", timedelta(seconds=30))
    second = SchedulerLease(runtime.session_factory, "host-b:2", timedelta(seconds=30))
    assert first.try_acquire(clock.now())
    first.release()
    assert second.try_acquire(clock.now())


def test_slots_floor_the_time_to_the_job_interval():
    moment = datetime(2026, 11, 21, 10, 7, 31, tzinfo=timezone.utc)
    assert slot_of(moment, 300) == datetime(2026, 11, 21, 10, 5, tzinfo=timezone.utc)
    assert slot_of(moment, 60) == datetime(2026, 11, 21, 10, 7, tzinfo=timezone.utc)


def test_a_job_runs_once_per_slot_and_every_run_is_recorded(runtime, clock):
    slot = slot_of(clock.now(), 300)
    calls = []
    assert run_recorded(runtime, "publish_fixings", slot, lambda: calls.append(1) or {"published": 3})
    assert run_recorded(runtime, "publish_fixings", slot, lambda: calls.append(1) or {}) is None
    [run] = job_runs(runtime)
    assert calls == [1]
    assert (run.job, run.status, run.scheduled_for) == ("publish_fixings", "succeeded", slot)
    assert json.loads(run.summary) == {"published": 3} and run.duration_ms == 0


def test_a_failed_run_is_recorded_and_retried_in_the_same_slot(runtime, clock):
    slot = slot_of(clock.now(), 300)

    def broken():
        raise RuntimeError("node unreachable")

    with pytest.raises(RuntimeError):
        run_recorded(runtime, "ingest_blocks", slot, broken)
    [failed] = job_runs(runtime)
    assert failed.status == "failed" and "node unreachable" in failed.summary
    assert run_recorded(runtime, "ingest_blocks", slot, lambda: {"added_blocks": 0}) == {"added_blocks": 0}
    [retried] = job_runs(runtime)
    assert retried.status == "succeeded"


def test_the_ingest_job_follows_new_blocks_and_shallow_reorgs(runtime, clock):
    main_chain = make_frame(30)
    clock.set(at_block(19))
    context = JobContext(runtime, RevealingSource(main_chain, clock))
    assert ingest_blocks_job(context, slot_of(clock.now(), 60))["tip_height"] == 19

    # Blocks 17.. are replaced by a competing branch: a 3-block reorg, below 6 confirmations.
    forked = make_frame(30, fork="b", fork_from=17)
    clock.set(at_block(24))
    context = JobContext(runtime, RevealingSource(forked, clock))
    summary = ingest_blocks_job(context, slot_of(clock.now(), 60))
    assert summary == {"added_blocks": 8, "removed_blocks": 3, "tip_height": 24}
    with runtime.uow() as uow:
        assert uow.blocks.hashes(16, 17) == {16: main_chain["hash"][16], 17: forked["hash"][17]}


def test_a_reorg_deeper_than_the_confirmation_depth_is_refused(runtime, clock):
    clock.set(at_block(19))
    ingest_blocks_job(JobContext(runtime, RevealingSource(make_frame(30), clock)), slot_of(clock.now(), 60))
    clock.set(at_block(25))
    deep = JobContext(runtime, RevealingSource(make_frame(30, fork="b", fork_from=10), clock))
    with pytest.raises(Exception, match="reorganisation"):
        ingest_blocks_job(deep, slot_of(clock.now(), 60))
    with runtime.uow() as uow:
        assert uow.blocks.tip_height() == 19  # nothing was replaced
    assert job_runs(runtime)[-1].status == "failed"


@pytest.mark.timeout(120)
def test_the_scheduler_process_runs_its_jobs_through_apscheduler(runtime, clock):
    clock.set(at_block(9))
    process = scheduler_module.SchedulerProcess(
        runtime, RevealingSource(make_frame(10), clock), holder="test:1",
        intervals={"ingest_blocks": 3600, "publish_fixings": 3600},
    )
    standby = scheduler_module.SchedulerProcess(runtime, None, holder="test:2")
    assert process.start()
    try:
        assert not standby.start()
        deadline = datetime.now() + timedelta(seconds=20)
        while datetime.now() < deadline and not {"ingest_blocks", "publish_fixings"} <= {
                r.job for r in job_runs(runtime) if r.status == "succeeded"}:
            import time
            time.sleep(0.1)
    finally:
        standby.stop()
        process.stop()
    runs = {r.job: r for r in job_runs(runtime)}
    assert runs["ingest_blocks"].status == "succeeded"
    with runtime.uow() as uow:
        assert uow.blocks.tip_height() == 9


def wait_for(condition, seconds: float = 20) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def wait_for_runs(runtime, count: int, seconds: float = 20) -> list[JobRunRow]:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = job_runs(runtime)
        if len(runs) >= count and all(r.status != "running" for r in runs):
            return runs
        time.sleep(0.05)
    return job_runs(runtime)


def test_a_run_missed_while_no_scheduler_was_up_is_caught_up_once_on_restart(runtime, clock):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    hourly = {name: 3600 for name in scheduler_module.JOBS}
    first = scheduler_module.SchedulerProcess(runtime, None, holder="test:1", intervals=hourly)
    assert first.start()
    assert len(wait_for_runs(runtime, len(hourly))) == len(hourly)  # every job runs at once on a fresh store
    first.stop()

    # The process was down for three hours: the stored next run times are in the past.
    missed = datetime.now(timezone.utc) - timedelta(hours=3)
    store = SQLAlchemyJobStore(engine=runtime.engine)
    store.start(BackgroundScheduler(), "default")  # a store alone: no scheduler runs anything
    for job_id in hourly:
        job = store.lookup_job(job_id)
        job.next_run_time = missed
        store.update_job(job)

    clock.advance(timedelta(hours=3))
    second = scheduler_module.SchedulerProcess(runtime, None, holder="test:2", intervals=hourly)
    assert second.start()
    try:
        runs = wait_for_runs(runtime, 2 * len(hourly))
    finally:
        second.stop()
    for name in hourly:  # caught up once, not three times
        assert [r.job for r in runs].count(name) == 2, name
    assert all(r.status == "succeeded" for r in runs)


def test_a_source_behind_the_stored_chain_changes_nothing(runtime, clock):
    chain = make_frame(30)
    clock.set(at_block(25))
    ingest_blocks_job(JobContext(runtime, RevealingSource(chain, clock)), slot_of(clock.now(), 60))
    lagging = RevealingSource(chain.iloc[:20], clock)  # a node that has only synced to height 19
    clock.advance(timedelta(minutes=1))
    summary = ingest_blocks_job(JobContext(runtime, lagging), slot_of(clock.now(), 60))
    assert summary == {"added_blocks": 0, "removed_blocks": 0, "tip_height": 25}


def test_a_run_whose_owner_lost_the_lease_is_run_again_and_the_late_finish_is_ignored(runtime, clock):
    slot = slot_of(clock.now(), 3600)
    first = SchedulerLease(runtime.session_factory, "host-a:1", timedelta(seconds=30))
    assert first.try_acquire(clock.now())
    with runtime.uow() as uow:
        run_id = uow.job_runs.claim("settle_daily", slot, clock.now(), "host-a:1")
        uow.commit()
    with runtime.uow() as uow:
        assert uow.job_runs.claim("settle_daily", slot, clock.now(), "host-b:2") is None  # a is alive

    clock.advance(timedelta(seconds=31))  # host-a was killed mid-job: its lease runs out
    assert SchedulerLease(runtime.session_factory, "host-b:2", timedelta(seconds=30)).try_acquire(clock.now())
    assert run_recorded(runtime, "settle_daily", slot, lambda: {"settled_dates": []}, "host-b:2") == {
        "settled_dates": []}
    with runtime.uow() as uow:
        assert not uow.job_runs.finish(run_id, "failed", '{"late": true}', clock.now(), "host-a:1")
        uow.commit()
    [run] = job_runs(runtime)
    assert (run.id, run.status, run.owner, run.attempts) == (run_id, "succeeded", "host-b:2", 2)
    assert json.loads(run.summary) == {"settled_dates": []}


def test_a_process_that_lost_the_lease_after_its_job_checked_it_claims_nothing(runtime, clock):
    """A job checks the lease as it starts (``run_job``); its process may freeze right after and
    resume once another has taken over: the claim itself refuses a process without the lease."""
    slot = slot_of(clock.now(), 3600)
    assert SchedulerLease(runtime.session_factory, "host-a:1", timedelta(seconds=30)).try_acquire(clock.now())
    clock.advance(timedelta(seconds=31))  # host-a froze after the check: its lease ran out
    assert SchedulerLease(runtime.session_factory, "host-b:2", timedelta(seconds=30)).try_acquire(clock.now())
    calls = []
    assert run_recorded(runtime, "settle_daily", slot, lambda: calls.append("a") or {}, "host-a:1") is None
    assert calls == [] and job_runs(runtime) == []
    assert run_recorded(runtime, "settle_daily", slot, lambda: calls.append("b") or {}, "host-b:2") == {}
    assert calls == ["b"] and [(r.status, r.owner) for r in job_runs(runtime)] == [("succeeded", "host-b:2")]


def test_a_new_leader_abandons_runs_left_running_and_runs_those_jobs_at_once(runtime, clock):
    hourly = {name: 3600 for name in scheduler_module.JOBS}
    first = scheduler_module.SchedulerProcess(runtime, None, holder="test:1", intervals=hourly)
    assert first.start()
    assert len(wait_for_runs(runtime, len(hourly))) == len(hourly)
    first.stop()  # every job's next run is an hour away now

    clock.advance(timedelta(hours=1))
    slot = slot_of(clock.now(), 3600)
    with runtime.uow() as uow:  # a leader killed while settling: its run says "running" forever
        assert uow.job_runs.claim("settle_daily", slot, clock.now(), "dead-host:7") is not None
        uow.commit()
    second = scheduler_module.SchedulerProcess(runtime, None, holder="test:2", intervals=hourly)
    assert second.start()
    try:
        wait_for(lambda: any(r.owner == "test:2" and r.status == "succeeded" for r in job_runs(runtime)))
    finally:
        second.stop()
    runs = job_runs(runtime)
    rerun = [r for r in runs if r.job == "settle_daily" and r.scheduled_for == slot]
    assert [(r.status, r.owner, r.attempts) for r in rerun] == [("succeeded", "test:2", 2)]
    assert len(runs) == len(hourly) + 1  # only the abandoned job ran again, at once


def test_a_leader_that_lost_its_lease_pauses_its_jobs_and_leads_again_when_the_lease_is_free(runtime, clock):
    """The lease is checked on its own loop, never paused with the jobs (short TTL, loops driven
    by hand: ``renew_seconds`` is longer than the test)."""
    hourly = {name: 3600 for name in scheduler_module.JOBS}

    def process(holder: str):
        return scheduler_module.SchedulerProcess(runtime, None, holder=holder, intervals=hourly,
                                                 lease_ttl=timedelta(seconds=30), renew_seconds=3600)

    a, b = process("host-a:1"), process("host-b:2")
    try:
        assert a.start() and not a.jobs_paused
        clock.advance(timedelta(seconds=31))  # a is paused past its lease; b takes over
        assert b.start() and not b.jobs_paused
        assert not a.check_lease() and a.jobs_paused  # a resumes, sees the loss, pauses its jobs
        clock.advance(timedelta(seconds=10))
        assert not a.check_lease()  # ... and keeps trying while b renews
        assert b.check_lease()
        clock.advance(timedelta(seconds=31))  # b dies without releasing the lease
        assert a.check_lease() and not a.jobs_paused
        assert a.lease.current_holder()[0] == "host-a:1"
    finally:
        b.stop()
        a.stop()
    assert a.lease.current_holder()[1] < clock.now()  # released on stop


def test_jobs_runs_lists_recent_runs_newest_first_with_their_summaries(runtime, clock):
    import subprocess
    import sys
    from pathlib import Path

    for minutes, job, work in ((0, "publish_fixings", lambda: {"published": 12}),
                               (5, "ingest_blocks", lambda: {"added_blocks": 3, "tip_height": 870001}),
                               (10, "publish_fixings", lambda: {"published": 0})):
        clock.set(datetime(2026, 11, 1, 0, minutes, tzinfo=timezone.utc))
        assert SchedulerLease(runtime.session_factory, "host-a:1", timedelta(seconds=30)).try_acquire(clock.now())
        run_recorded(runtime, job, slot_of(clock.now(), 300), work, "host-a:1")
    environment = {"HASHEDGE_DATABASE_URL": runtime.settings.database_url,
                   "HASHEDGE_INSTANCE_DIR": str(runtime.settings.instance_dir), "PATH": "/usr/bin:/bin"}
    hashedge = str(Path(sys.executable).with_name("hashedge"))

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([hashedge, "jobs", "runs", *args], env=environment, capture_output=True, text=True,
                              timeout=60)

    listed = json.loads(cli("--json").stdout)
    assert [(r["job"], r["status"], r["owner"], r["attempts"], r["summary"]) for r in listed] == [
        ("publish_fixings", "succeeded", "host-a:1", 1, {"published": 0}),
        ("ingest_blocks", "succeeded", "host-a:1", 1, {"added_blocks": 3, "tip_height": 870001}),
        ("publish_fixings", "succeeded", "host-a:1", 1, {"published": 12}),
    ]
    assert listed[0]["scheduled_for"] == "2026-11-01T00:10:00+00:00" and listed[0]["duration_ms"] == 0
    [only] = json.loads(cli("--json", "--job", "publish_fixings", "--limit", "1").stdout)
    assert only["summary"] == {"published": 0}
    plain = cli("--job", "ingest_blocks").stdout.splitlines()
    assert len(plain) == 1 and "ingest_blocks" in plain[0] and "2026-11-01 00:05:00 succeeded" in plain[0]
    assert '{"added_blocks":3,"tip_height":870001}' in plain[0]
    refused = cli("--job", "mine_bitcoin")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


def test_a_standby_is_never_stuck_behind_a_lease_row_another_process_keeps_locked(runtime, clock):
    """A frozen process may be inside its own renewal, holding the lease row's lock: the standby's
    attempt gives up after a third of the TTL (PostgreSQL) instead of waiting with it, and takes
    the lease once the lock is gone."""
    import time

    from sqlalchemy import text

    frozen = SchedulerLease(runtime.session_factory, "frozen:1", timedelta(seconds=3))
    standby = SchedulerLease(runtime.session_factory, "standby:2", timedelta(seconds=3))
    assert frozen.try_acquire(clock.now())
    clock.advance(timedelta(seconds=4))  # the frozen holder's lease has expired
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: a writer holds the whole database (busy timeout)")
    with runtime.engine.connect() as blocker:
        blocker.execute(text("SELECT * FROM scheduler_lease FOR UPDATE"))  # the frozen renewal's lock
        started = time.monotonic()
        assert not standby.try_acquire(clock.now())
        assert time.monotonic() - started < 2.5
        blocker.rollback()
    assert standby.try_acquire(clock.now())


@pytest.mark.timeout(120)
def test_the_jobs_run_on_after_the_job_store_loses_its_connection_mid_update(runtime, clock):
    """A process frozen inside a job-store transaction (SIGSTOP) comes back to a connection the
    server has ended (``idle_in_transaction_session_timeout``, the lease TTL): APScheduler's
    update of the job's next run time fails in its dispatch loop. The loop must go on dispatching
    (it used to die with that error, and the process then led without ever running a job)."""
    import threading
    import time

    from sqlalchemy import Engine, event

    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite ends no idle transaction: a frozen writer keeps the database's one lock")
    ttl = timedelta(seconds=1)
    every_second = {name: 3600 for name in scheduler_module.JOBS} | {"ingest_blocks": 1}
    process = scheduler_module.SchedulerProcess(runtime, None, holder="test:1", intervals=every_second,
                                                lease_ttl=ttl, renew_seconds=0.2)
    frozen = threading.Event()

    def freeze_inside_the_update(connection, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE APSCHEDULER_JOBS") and not frozen.is_set():
            frozen.set()  # once: idle in the store's transaction until the server ends the session
            time.sleep(ttl.total_seconds() * 2.5)

    def ingest_ran(slot: datetime) -> bool:
        return any(r.job == "ingest_blocks" and r.scheduled_for.replace(tzinfo=timezone.utc) == slot
                   and r.status == "succeeded" for r in job_runs(runtime))

    assert process.start()
    try:
        wait_for(lambda: ingest_ran(slot_of(clock.now(), 1)))
        event.listen(Engine, "after_cursor_execute", freeze_inside_the_update)
        try:
            wait_for(frozen.is_set)
            time.sleep(ttl.total_seconds() * 3)  # the failed commit is behind us
        finally:
            event.remove(Engine, "after_cursor_execute", freeze_inside_the_update)
        clock.advance(timedelta(hours=1))  # a new slot: only a live dispatch loop can run it
        wait_for(lambda: ingest_ran(slot_of(clock.now(), 1)), seconds=30)
        assert process.leading
    finally:
        process.stop()


@pytest.mark.timeout(120)
def test_a_new_leader_is_not_held_up_by_a_run_whose_row_a_frozen_process_keeps_locked(runtime, clock):
    """The old leader froze while recording a run's outcome (its UPDATE sent, no commit): the row
    stays locked as long as it stays frozen. The new leader leads at once and leaves that run to
    its owner; runs nobody holds are abandoned as before."""
    import threading

    from sqlalchemy import text

    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: a writer holds the whole database (busy timeout)")
    hourly = {name: 3600 for name in scheduler_module.JOBS}
    slot = slot_of(clock.now(), 3600)
    with runtime.uow() as uow:
        frozen_run = uow.job_runs.claim("settle_daily", slot, clock.now(), "frozen:1")
        dead_run = uow.job_runs.claim("pool_unwind", slot, clock.now(), "frozen:1")
        uow.commit()
    process = scheduler_module.SchedulerProcess(runtime, None, holder="test:2", intervals=hourly)
    with runtime.engine.connect() as frozen:  # the frozen finish: the row locked, never committed
        frozen.execute(text("UPDATE job_runs SET summary = '{}' WHERE id = :id"), {"id": frozen_run})
        started = []
        starting = threading.Thread(target=lambda: started.append(process.start()), daemon=True)
        starting.start()
        starting.join(timeout=20)
        alive = starting.is_alive()
        frozen.rollback()
    starting.join(timeout=20)
    try:
        assert not alive and started == [True]
        statuses = {r.id: (r.status, r.owner) for r in job_runs(runtime)}
        assert statuses[dead_run] == ("abandoned", "frozen:1")
        assert statuses[frozen_run] == ("running", "frozen:1")  # left to its owner (or to a later claim)
    finally:
        process.stop()

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
        while datetime.now() < deadline and {r.job for r in job_runs(runtime)} != {"ingest_blocks", "publish_fixings"}:
            import time
            time.sleep(0.1)
    finally:
        process.stop()
    runs = {r.job: r for r in job_runs(runtime)}
    assert runs["ingest_blocks"].status == "succeeded"
    with runtime.uow() as uow:
        assert uow.blocks.tip_height() == 9


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

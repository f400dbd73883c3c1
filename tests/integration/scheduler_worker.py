"""A scheduler process for the failover tests: ``python -m tests.integration.scheduler_worker URL HOLDER``.

Real ``SchedulerProcess``, real APScheduler, the real clock, short leases and intervals (given on
the command line). ``--slow-ingest S`` gives it a block source that takes S seconds to answer, so
a test can kill the process while ``ingest_blocks`` runs. ``--freeze-on PATH`` makes it stop itself
(SIGSTOP) inside its next job-store write once PATH exists, between APScheduler's UPDATE and its
commit, so a test can freeze it at that point rather than wherever a signal lands. Stops on
SIGTERM (releasing the lease).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, event

from hashedge.bootstrap import bootstrap
from hashedge.config import load_settings
from hashedge.jobs.scheduler import JOBS, SchedulerProcess
from indices.sources.base import BlockNotFound


class SlowSource:
    """A node that takes ``seconds`` to answer and then knows no block."""

    description = "a slow node"

    def __init__(self, seconds: float):
        self.seconds = seconds

    def tip_height(self) -> int:
        time.sleep(self.seconds)
        raise BlockNotFound("the slow node has no block")


def freeze_inside_the_next_store_write_once(flag: Path) -> None:
    def freeze(_connection, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE APSCHEDULER_JOBS") and flag.exists():
            flag.unlink()
            logging.getLogger(__name__).info("freezing inside a job-store write")
            os.kill(os.getpid(), signal.SIGSTOP)

    event.listen(Engine, "after_cursor_execute", freeze)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("holder")
    parser.add_argument("--ttl", type=float, default=2.0)
    parser.add_argument("--renew", type=float, default=0.4)
    parser.add_argument("--interval", type=int, default=1, help="seconds between runs of every job but ingest")
    parser.add_argument("--ingest-interval", type=int, default=1)
    parser.add_argument("--slow-ingest", type=float, default=0.0)
    parser.add_argument("--freeze-on", type=Path, help="SIGSTOP inside the next job-store write once this file exists")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {args.holder} %(levelname)s %(name)s: %(message)s")
    settings = load_settings({"HASHEDGE_DATABASE_URL": args.database_url,
                              "HASHEDGE_INSTANCE_DIR": tempfile.mkdtemp()}, secret_key="scheduler-worker")
    if args.freeze_on is not None:
        freeze_inside_the_next_store_write_once(args.freeze_on)
    runtime = bootstrap(settings)
    intervals = {name: args.interval for name in JOBS} | {"ingest_blocks": args.ingest_interval}
    source = SlowSource(args.slow_ingest) if args.slow_ingest else None
    process = SchedulerProcess(runtime, source, holder=args.holder, intervals=intervals,
                               lease_ttl=timedelta(seconds=args.ttl), renew_seconds=args.renew)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    process.start()
    print("started", flush=True)
    try:
        while not stop.wait(0.1):
            pass
    finally:
        process.stop()


if __name__ == "__main__":
    main()

"""``hashedge demo`` as an operator runs, stops and restarts it: the URL is printed only once the
server accepts connections, SIGTERM releases the scheduler lease (a restart schedules at once),
and a demo started while another process holds the lease serves and takes the lease when it
frees up. Real processes on a real SQLite file; ``hashedge scheduler --help`` lists every job."""

from __future__ import annotations

import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from hashedge.jobs.scheduler import JOBS

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))
pytestmark = pytest.mark.timeout(240)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def env(tmp_path, shared_data) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    environment.update(HASHEDGE_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite'}",
                       HASHEDGE_INSTANCE_DIR=str(tmp_path / "instance"), HASHEDGE_SHARED_DATA=str(shared_data))
    return environment


class Demo:
    """A running ``hashedge demo`` whose output lines are collected as they come."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.process = subprocess.Popen([HASHEDGE, "demo", "--days", "30", "--port", str(self.port)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, prefix: str, seconds: float = 120) -> str:
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no line starting {prefix!r} in {self.output}") from None
            self.output.append(line)
            if line.startswith(prefix):
                return line

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture
def demos():
    started: list[Demo] = []
    yield lambda env: started.append(Demo(env)) or started[-1]
    for demo in started:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait(timeout=30)


def lease(env: dict) -> tuple[str, datetime] | None:
    with sqlite3.connect(env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")) as db:
        row = db.execute("SELECT holder, expires_at FROM scheduler_lease").fetchone()
    return None if row is None else (row[0], datetime.fromisoformat(row[1]).replace(tzinfo=timezone.utc))


def held_by(env: dict, pid: int) -> bool:
    current = lease(env)
    return current is not None and f":{pid}:" in current[0] and current[1] > datetime.now(timezone.utc)


def test_sigterm_releases_the_lease_and_a_restarted_demo_schedules_at_once(env, demos):
    first = demos(env)
    url = first.wait_for_line("open http://").split()[1]
    assert requests.get(url, timeout=10).status_code == 200  # printed once it accepts: no retry needed
    assert any(line.startswith("scheduler running as") for line in first.output)
    assert held_by(env, first.process.pid)

    assert first.stop() == 0
    assert lease(env)[1] < datetime.now(timezone.utc)  # released, not left to run out

    second = demos(env)
    second.wait_for_line("open http://")
    assert any(line.startswith("scheduler running as") for line in second.output), second.output
    assert held_by(env, second.process.pid)
    assert second.stop() == 0


def test_a_demo_started_while_another_process_leads_takes_the_lease_once_it_is_free(env, demos):
    subprocess.run([HASHEDGE, "init-db"], env=env, check=True, capture_output=True, timeout=120)
    expires = datetime.now(timezone.utc) + timedelta(seconds=20)  # a scheduler elsewhere, about to die
    with sqlite3.connect(env["HASHEDGE_DATABASE_URL"].removeprefix("sqlite:///")) as db:
        db.execute("INSERT INTO scheduler_lease (name, holder, expires_at) VALUES ('scheduler', 'elsewhere:1:1', ?)",
                   (expires.replace(tzinfo=None).isoformat(sep=" "),))
    demo = demos(env)
    demo.wait_for_line("open http://")
    assert any(line.startswith("scheduler standing by: the lease is held by elsewhere:1:1") for line in demo.output)
    deadline = time.monotonic() + 60
    while not held_by(env, demo.process.pid):  # it keeps trying (every 10 s) while it serves
        assert time.monotonic() < deadline and demo.process.poll() is None, demo.output
        time.sleep(0.5)
    assert demo.stop() == 0


def test_scheduler_help_lists_every_job_with_its_interval(env):
    result = subprocess.run([HASHEDGE, "scheduler", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for name, (_job, interval) in JOBS.items():
        assert f"{name} (every {interval} s)" in result.stdout

"""A backfill from a Bitcoin Core node killed mid-way (SIGKILL, as in a power cut) loses nothing
and the next run finishes where it stopped: the stored chain equals the node's."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indices.blocks import blocks_to_frame
from tests.integration.sources.chain_servers import Fault, FakeBitcoind, recent_chain

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))
CHAIN_BLOCKS = 3_000
SLOW_REQUEST_SECONDS = 0.15


def stored_heights(database: Path) -> list[int]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as db:
        try:
            return [h for (h,) in db.execute("SELECT height FROM blocks ORDER BY height")]
        except sqlite3.OperationalError:  # schema not created yet
            return []


@pytest.mark.timeout(120)
def test_a_killed_backfill_resumes_and_ends_with_the_nodes_chain(tmp_path):
    chain = recent_chain(CHAIN_BLOCKS, seed=9)
    node = FakeBitcoind(chain).start()
    node.faults.extend(Fault(delay_seconds=SLOW_REQUEST_SECONDS) for _ in range(1_000))
    database = tmp_path / "backfill.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HASHEDGE_")}
    env.update(HASHEDGE_DATABASE_URL=f"sqlite:///{database}", HASHEDGE_INSTANCE_DIR=str(tmp_path),
               HASHEDGE_BITCOIND_USER=node.user, HASHEDGE_BITCOIND_PASSWORD=node.password)
    command = [HASHEDGE, "index", "backfill", "--source", "bitcoind", "--url", node.url]
    try:
        assert subprocess.run([HASHEDGE, "init-db"], env=env, capture_output=True).returncode == 0
        first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(stored_heights(database)) < 1_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

        interrupted = stored_heights(database)
        assert 1_000 <= len(interrupted) < CHAIN_BLOCKS, "the first run should stop part-way"
        assert interrupted == list(range(len(interrupted)))  # whole chunks, no gap, nothing half-written

        node.faults.clear()
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert f"added {CHAIN_BLOCKS - len(interrupted)} blocks, tip {CHAIN_BLOCKS - 1}" in second.stdout
    finally:
        node.stop()

    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT height, hash, prev_hash, time, bits, subsidy_sats, total_fees_sats,"
                          " tx_count FROM blocks ORDER BY height").fetchall()
    expected = blocks_to_frame(chain)
    assert rows == [tuple(r) for r in expected.itertuples(index=False, name=None)]

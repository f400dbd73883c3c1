"""Run every benchmark script in turn (``make bench``); each prints its own figures.

Benchmarks are measurements, not tests: nothing here asserts a time. Copy the figures into
BENCHMARKS.md with the machine and the date.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

SCRIPTS = ["bench_indices.py", "bench_platform.py", "bench_pricing.py", "bench_margin.py", "bench_matching.py",
           "bench_ledger.py", "bench_liquidation.py", "bench_order_path.py", "bench_backstop.py",
           "bench_governance.py", "bench_protection.py", "bench_small_batches.py", "bench_order_request_cpu.py"]


def main() -> int:
    here = Path(__file__).resolve().parent
    print(f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, Python {platform.python_version()}")
    failures = 0
    for script in SCRIPTS:
        print(f"\n### {script}", flush=True)
        failures += subprocess.call([sys.executable, str(here / script)]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

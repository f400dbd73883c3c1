"""The engine's busy-step times: what its stop line reports (``hashedge engine run``)."""

from __future__ import annotations

import pytest

from hashedge.jobs import engine as engine_module
from hashedge.jobs.engine import EngineTotals


def test_busy_steps_give_the_median_and_99th_percentile_in_ms_and_add_up_to_the_totals():
    totals = EngineTotals()
    assert totals.busy_step_ms() is None  # no spread of one step
    for step in range(1, 101):  # 1 ms .. 100 ms of wall time, a quarter of it CPU
        totals.record_busy(step / 1000, step / 4000)
    wall_p50, wall_p99, cpu_p50, cpu_p99 = totals.busy_step_ms()
    # inclusive quantiles of 1..100: the median between the 50th and 51st, p99 1% past the 99th
    assert (wall_p50, wall_p99) == (pytest.approx(50.5), pytest.approx(99.01))
    assert (cpu_p50, cpu_p99) == (pytest.approx(50.5 / 4), pytest.approx(99.01 / 4))
    assert (totals.busy_s, totals.cpu_s) == (pytest.approx(5.050), pytest.approx(5.050 / 4))


def test_only_the_latest_steps_are_kept_but_the_totals_count_every_one(monkeypatch):
    monkeypatch.setattr(engine_module, "BUSY_STEPS_KEPT", 3)
    totals = EngineTotals()
    for wall_s in (10.0, 0.001, 0.002, 0.003):
        totals.record_busy(wall_s, 0.0)
    assert list(totals.busy_steps) == [(0.001, 0.0), (0.002, 0.0), (0.003, 0.0)]  # the 10 s step forgotten
    assert totals.busy_step_ms()[1] < 3.01  # so it no longer weighs on the percentiles
    assert totals.busy_s == pytest.approx(10.006)

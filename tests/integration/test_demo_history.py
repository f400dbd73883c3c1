"""The demo says when it has no real epoch history: its chain is then simulated from 2009 and
its prices are not realistic (``services.demo.NO_HISTORY_WARNING``). SQLite, the demo's
default."""

from __future__ import annotations

import pytest

from hashedge.services import demo


@pytest.fixture
def sqlite_runtime(runtime):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("the demo's own backend")
    runtime.migrate()
    return runtime


def _prepared(runtime, epochs_file) -> tuple[demo.DemoReport, list[str]]:
    said: list[str] = []
    report = demo.prepare_demo(runtime, epochs_file=epochs_file, blocks_file=None, days=30, seed=1, echo=said.append)
    return report, said


def test_without_the_history_the_demo_warns_that_its_prices_are_not_realistic(sqlite_runtime, monkeypatch):
    monkeypatch.setattr(demo, "default_epoch_file", lambda runtime: None)  # no shared data anywhere
    report, said = _prepared(sqlite_runtime, None)
    assert report.epochs == 0 and report.blocks_added > 0
    assert said[0] == demo.NO_HISTORY_WARNING and said.count(demo.NO_HISTORY_WARNING) == 1


def test_with_the_history_it_does_not(sqlite_runtime, shared_data):
    report, said = _prepared(sqlite_runtime, shared_data / demo.DEFAULT_EPOCH_FILE)
    assert report.epochs > 0
    assert demo.NO_HISTORY_WARNING not in said

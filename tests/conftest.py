"""Fixtures shared by every suite: where the real reference data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

# CI is deterministic: every property-based test derives its examples from the test itself
# (derandomize), never from a fresh seed or a stored example database. Settings objects made in
# test modules inherit this profile, because this file is imported before them.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HASHEDGE_HYPOTHESIS_PROFILE", "ci"))

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("HASHEDGE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared reference data folder; a missing folder skips locally and fails on CI."""
    folder = shared_data_dir()
    if not (folder / "btc_difficulty_epochs.csv").exists():
        message = f"shared reference data not found at {folder} (set HASHEDGE_SHARED_DATA)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def real_epochs(shared_data: Path) -> pd.DataFrame:
    """Mainnet epoch history as in the CSV (bits as hex text)."""
    return pd.read_csv(shared_data / "btc_difficulty_epochs.csv")

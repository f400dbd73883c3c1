"""Fixtures shared by every suite: where the real reference data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from tests.hypothesis_profiles import load_profile

# CI is deterministic: every property-based test derives its examples from the test itself
# (derandomize), never from a fresh seed or a stored example database; ``make fuzz`` loads the
# ``fuzz`` profile instead (tests/hypothesis_profiles.py). Settings objects made in test modules
# inherit the profile, because this file is imported before them.
load_profile()

# The matching engine keeps the state its last batch committed for the next one; under test,
# every answer it serves from that state is also read from the database and compared, in this
# process and in the engine processes the tests start (services/exchange_reads.py).
os.environ["HASHEDGE_VERIFY_KEPT_STATE"] = "1"

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

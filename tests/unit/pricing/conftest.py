"""Fixtures for the pricing suite: the mainnet epoch history as the risk model reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricing.history import EpochHistory, load_epoch_history


@pytest.fixture(scope="session")
def mainnet_history(shared_data: Path) -> EpochHistory:
    return load_epoch_history(shared_data / "btc_difficulty_epochs.csv")

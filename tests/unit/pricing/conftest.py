"""Fixtures for the pricing suite: the mainnet epoch history as the risk model reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricing.history import CalibrationWindows, EpochHistory, calibration_windows, load_epoch_history


@pytest.fixture(scope="session")
def mainnet_history(shared_data: Path) -> EpochHistory:
    return load_epoch_history(shared_data / "btc_difficulty_epochs.csv")


@pytest.fixture(scope="session")
def windows(mainnet_history: EpochHistory) -> CalibrationWindows:
    """The current era and the stressed window (the era of the China mining ban) of the history."""
    return calibration_windows(mainnet_history)

"""Mainnet difficulty history by epoch, and its split into halving eras.

The history comes from ``btc_difficulty_epochs.csv`` in the shared data folder
(``$HASHEDGE_SHARED_DATA`` or ``../shared/data`` beside the repository), read and validated by
``indices.sources.csv_import``; difficulty follows from bits with ``indices.chain``. Nothing is
read at import time.

Eras: difficulty growth is not stationary (CPU and GPU mining, the arrival of ASICs, a mature
industry), so statistics are kept per halving era, an epoch belonging to the era of the subsidy
at its first block. The per-epoch change ``ln(D_e / D_(e-1))`` belongs to epoch e's era.

Calibration windows (``calibration_windows``): margins are calibrated on the current era and on a
stressed window, the era holding the largest one-epoch fall of difficulty on record; both are
found from the data, never typed as epoch numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from indices.chain import (
    COIN_SATS,
    bits_to_difficulty,
    block_subsidy_sats,
    epoch_start_height,
    parse_bits,
)
from indices.sources.csv_import import read_epoch_history
from pricing.errors import PricingInputError

EPOCHS_FILE = "btc_difficulty_epochs.csv"
_REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    return Path(os.environ.get("HASHEDGE_SHARED_DATA") or _REPO_ROOT.parent / "shared" / "data")


@dataclass(frozen=True, eq=False)
class EpochHistory:
    """One row per epoch: difficulty, subsidy (BTC) at its first block, and log change."""

    epochs: np.ndarray
    difficulty: np.ndarray
    subsidy_btc: np.ndarray
    source: str

    @property
    def log_changes(self) -> np.ndarray:
        """ln(D_e / D_(e-1)) for every epoch after the first (aligned with ``epochs[1:]``)."""
        return np.diff(np.log(self.difficulty))

    def __len__(self) -> int:
        return len(self.epochs)


@dataclass(frozen=True, slots=True)
class Era:
    """Epochs sharing one block subsidy; ``first_epoch..last_epoch`` inclusive."""

    name: str
    subsidy_btc: float
    first_epoch: int
    last_epoch: int


def epoch_history(frame: pd.DataFrame, source: str = "frame") -> EpochHistory:
    """Build the history from a frame shaped like the CSV; epochs must be contiguous."""
    missing = {"epoch", "bits"} - set(frame.columns)
    if missing:
        raise PricingInputError("frame", sorted(missing), "lacks columns")
    ordered = frame.sort_values("epoch")
    epochs = ordered["epoch"].to_numpy(dtype=np.int64)
    if len(epochs) < 2 or not np.array_equal(epochs, np.arange(epochs[0], epochs[0] + len(epochs))):
        raise PricingInputError("frame", len(epochs), "must hold at least two contiguous epochs")
    difficulty = np.array([bits_to_difficulty(parse_bits(b)) for b in ordered["bits"]])
    subsidy = np.array([block_subsidy_sats(epoch_start_height(int(e))) / COIN_SATS for e in epochs])
    return EpochHistory(epochs, difficulty, subsidy, source)


@lru_cache(maxsize=4)
def _load(path: Path) -> EpochHistory:
    return epoch_history(read_epoch_history(path), source=str(path))


def load_epoch_history(path: str | Path | None = None) -> EpochHistory:
    """The mainnet epoch history from ``path`` or the shared data folder (cached per file)."""
    target = Path(path) if path is not None else shared_data_dir() / EPOCHS_FILE
    if not target.exists():
        raise FileNotFoundError(
            f"epoch history not found at {target}: set HASHEDGE_SHARED_DATA to the shared data folder"
        )
    return _load(target.resolve())


def halving_eras(history: EpochHistory) -> tuple[Era, ...]:
    """The history's eras in order, named after their subsidy ("6.25 BTC")."""
    eras: list[Era] = []
    start = 0
    for i in range(1, len(history) + 1):
        if i == len(history) or history.subsidy_btc[i] != history.subsidy_btc[start]:
            subsidy = float(history.subsidy_btc[start])
            eras.append(
                Era(f"{subsidy:g} BTC", subsidy, int(history.epochs[start]), int(history.epochs[i - 1]))
            )
            start = i
    return tuple(eras)


def era_log_changes(history: EpochHistory, era: Era | None = None) -> np.ndarray:
    """Per-epoch log difficulty changes of ``era`` (default: the latest era in the history)."""
    chosen = era if era is not None else halving_eras(history)[-1]
    epochs = history.epochs[1:]
    mask = (epochs >= max(chosen.first_epoch, int(history.epochs[0]) + 1)) & (
        epochs <= chosen.last_epoch
    )
    return history.log_changes[mask]


def era_of(history: EpochHistory, epoch: int) -> Era:
    """The halving era of the history that holds ``epoch``."""
    for era in halving_eras(history):
        if era.first_epoch <= epoch <= era.last_epoch:
            return era
    raise PricingInputError("epoch", epoch, f"is outside the history ({history.epochs[0]}-{history.epochs[-1]})")


@dataclass(frozen=True, slots=True)
class CalibrationWindows:
    """The eras margins are calibrated on (``hashedge/domain/MARGIN.md``).

    ``current``: the latest halving era, today's industry. ``stressed``: the era holding the
    largest one-epoch fall of difficulty on record (``stress_epoch``, log change
    ``stress_log_change``), kept in every calibration so that a calm current era cannot lower
    margins below what the worst known shock needs (anti-procyclicality). The two are the same era
    when the current one holds the record fall.
    """

    current: Era
    stressed: Era
    stress_epoch: int
    stress_log_change: float

    @property
    def eras(self) -> tuple[Era, ...]:
        """The distinct windows, current first."""
        return (self.current,) if self.stressed == self.current else (self.current, self.stressed)


def calibration_windows(history: EpochHistory) -> CalibrationWindows:
    """The current era and the stressed window of ``history``, both found from the data."""
    changes = history.log_changes
    worst = int(np.argmin(changes))
    stress_epoch = int(history.epochs[worst + 1])
    return CalibrationWindows(
        current=halving_eras(history)[-1],
        stressed=era_of(history, stress_epoch),
        stress_epoch=stress_epoch,
        stress_log_change=float(changes[worst]),
    )

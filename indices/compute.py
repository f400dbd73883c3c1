"""Index values from a block frame or from the epoch history.

* ``index_series(blocks, epochs, name)``: float64 value at every height, NaN where undefined
  (analytics, charts). Vectorized: no Python work per block.
* ``value_at(blocks, epochs, name, height)``: the exact value at one height as a Decimal rounded
  to the index quantum, equal to the fixing value an index would publish for that height. It reads
  only the blocks the formula needs (the tail window), so it is cheap enough to run for every new
  block. ``value_at(blocks, name, height)`` is accepted for block data alone.

Block data wins when given and covering the height; DIFF and BME fall back to the epoch history.
Every value at height h is a function of blocks up to h only (MRI: see ``indices.definitions``).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from indices.chain import DIFFICULTY_1_TARGET, RETARGET_INTERVAL_BLOCKS, bits_to_target
from indices.cutoffs import CUTOFF_FINALITY_BLOCKS, SECONDS_PER_DAY, floor_to_midnight
from indices.definitions import DAYS_PER_EPOCH, IndexDefinition, get_definition
from indices.formulas import (
    BLOCKS_PER_DAY,
    DayTable,
    ExactPoints,
    bme_epoch_floats,
    bme_exact,
    bme_series,
    bme_units,
    diff_exact,
    diff_series,
    hashprice_exact,
    hashprice_series,
    hashrate_exact,
    hashrate_series,
    history_epoch_terms,
    mri_exact_at_midnights,
    mri_midnight_index,
    mri_series,
    round_half_even_div,
)
from indices.frames import BlockArrays, EpochHistory
from indices.work import DistinctBits

_UNDEFINED_BECAUSE = {
    "DIFF": "the bits encode a zero target",
    "HASHRATE": "it needs the W blocks before it in the data and a positive time span over them",
    "BME": "it needs the first block of each of its N/14 epochs in the data",
    "HASHPRICE": "it needs the 143 blocks before it in the data",
    "MRI": "it needs N complete UTC days, each with blocks, final at this height",
}


def units_to_decimal(units: int, decimal_places: int) -> Decimal:
    """An integer number of quanta as an exact Decimal (no context rounding)."""
    return Decimal(f"{units}E-{decimal_places}")


def _shorthand(blocks, epochs, name, height):
    if isinstance(epochs, str):  # value_at(blocks, name, height) / index_series(blocks, name)
        return blocks, None, epochs, name
    return blocks, epochs, name, height


def _present(frame: pd.DataFrame | None) -> bool:
    return frame is not None and len(frame) > 0


def exact_points(arrays: BlockArrays, definition: IndexDefinition, positions: np.ndarray) -> ExactPoints:
    """Exact values at ``positions`` of ``arrays``. MRI is taken as of each position using the
    day cuts of the whole run, which equals "from blocks up to the position" on a valid chain."""
    positions = np.asarray(positions, dtype=np.int64)
    family = definition.family
    if family == "DIFF":
        return diff_exact(arrays, definition, positions)
    if family == "HASHRATE":
        return hashrate_exact(arrays, definition, positions)
    if family == "HASHPRICE":
        return hashprice_exact(arrays, definition, positions)
    if family == "BME":
        return bme_exact(arrays, definition, positions)
    if family == "MRI":
        table = DayTable(arrays)
        ks = mri_midnight_index(arrays, positions)
        return mri_exact_at_midnights(table, definition, ks)
    raise AssertionError(f"no formula for family {family}")


def epoch_exact_points(history: EpochHistory, definition: IndexDefinition,
                       epochs: np.ndarray) -> ExactPoints:
    """DIFF or BME at the first block of each of ``epochs`` from the epoch history alone;
    ``start``/``end`` are heights here. Inputs name the epoch rows: [epoch, start_height, bits]."""
    terms = history_epoch_terms(history)
    epochs = np.asarray(epochs, dtype=np.int64)
    heights = epochs * RETARGET_INTERVAL_BLOCKS
    if definition.family == "BME":
        found = bme_units(terms, definition, epochs)
        hits = [found.get(e) for e in epochs.tolist()]
        return ExactPoints(
            np.array([h is not None for h in hits], dtype=bool),
            np.array([h[1] * RETARGET_INTERVAL_BLOCKS if h else 0 for h in hits], dtype=np.int64),
            heights, [h[0] if h else None for h in hits],
            [{"epochs": terms.rows_between(h[1], e)} if h else None for e, h in zip(epochs.tolist(), hits)])
    if definition.family != "DIFF":
        raise ValueError(f"{definition.name} needs block data; the epoch history has DIFF and BME")
    scale = 10**definition.decimal_places
    units, inputs = [], []
    for epoch in epochs.tolist():
        row = history.row_of_epoch(epoch)
        target = bits_to_target(int(history.bits[row])) if row is not None else 0
        units.append(round_half_even_div(DIFFICULTY_1_TARGET * scale, target) if target else None)
        inputs.append({"epochs": [terms.rows[row]]} if target else None)
    return ExactPoints(np.array([u is not None for u in units], dtype=bool), heights, heights,
                       units, inputs)


# --- series -------------------------------------------------------------------------------------

def index_series(blocks: pd.DataFrame | None, epochs: pd.DataFrame | str | None = None,
                 name: str | None = None) -> pd.Series:
    """Float value of ``name`` at every height of the data (NaN where undefined)."""
    blocks, epochs, name, _ = _shorthand(blocks, epochs, name, None)
    definition = get_definition(name)
    if _present(blocks):
        arrays = BlockArrays(blocks)
        arrays.check_contiguous()
        values = _block_series(blocks, arrays, definition)
        return pd.Series(values, index=pd.Index(arrays.height, name="height"), name=definition.name)
    if _present(epochs) and definition.needs == "epochs":
        return _epoch_series(EpochHistory.of(epochs), definition)
    raise ValueError(f"{definition.name} needs {definition.needs} data and none was given")


def _block_series(frame: pd.DataFrame, arrays: BlockArrays, definition: IndexDefinition) -> np.ndarray:
    family = definition.family
    if family == "DIFF":
        return diff_series(arrays)
    if family == "HASHRATE":
        return hashrate_series(arrays, definition)
    if family == "HASHPRICE":
        return hashprice_series(arrays, definition)
    if family == "BME":
        return bme_series(arrays, definition)

    def slow_value(position: int) -> float:
        try:
            return float(value_at(frame, None, definition.name, arrays.first_height + position))
        except ValueError:
            return np.nan

    return mri_series(arrays, definition, slow_value)


def _epoch_series(history: EpochHistory, definition: IndexDefinition) -> pd.Series:
    lengths = history.end_height - history.start_height + 1
    heights = np.concatenate([np.arange(s, e + 1) for s, e in zip(history.start_height, history.end_height)])
    if definition.family == "DIFF":
        distinct = DistinctBits.of(history.bits)
        per_row = distinct.difficulty_floats()[distinct.codes]
    else:
        floats = bme_epoch_floats(history_epoch_terms(history), definition, history.epoch)
        per_row = np.array([floats.get(e, np.nan) for e in history.epoch.tolist()], dtype=np.float64)
    return pd.Series(np.repeat(per_row, lengths), index=pd.Index(heights, name="height"),
                     name=definition.name)


# --- one value ----------------------------------------------------------------------------------

def value_at(blocks: pd.DataFrame | None, epochs: pd.DataFrame | str | None, name: str | int | None = None,
             height: int | None = None) -> Decimal:
    """Exact value of ``name`` at ``height`` rounded to its quantum (ValueError if undefined)."""
    blocks, epochs, name, height = _shorthand(blocks, epochs, name, height)
    definition = get_definition(name)
    height = int(height)
    from_epochs = _present(epochs) and definition.needs == "epochs"
    if _present(blocks):
        first = int(blocks["height"].iat[0])
        if first <= height < first + len(blocks):
            try:
                return _value_from_blocks(blocks, definition, height - first)
            except ValueError:
                if not from_epochs:  # e.g. a BME window reaching before the first block given
                    raise
    if from_epochs:
        return _value_from_epochs(EpochHistory.of(epochs), definition, height)
    raise ValueError(f"{definition.name} at height {height}: no {definition.needs} data covers it")


def values_at(blocks: pd.DataFrame | None, epochs: pd.DataFrame | None, names: list[str],
              height: int) -> dict[str, Decimal | None]:
    """``value_at`` for several indices at one height; None where undefined."""
    found = {}
    for name in names:
        try:
            found[get_definition(name).name] = value_at(blocks, epochs, name, height)
        except ValueError:
            found[get_definition(name).name] = None
    return found


def _lookback_blocks(definition: IndexDefinition, height: int) -> int:
    """Blocks before ``height`` the formula reads (MRI: a first guess, widened as needed)."""
    family = definition.family
    if family == "HASHRATE":
        return definition.window
    if family == "HASHPRICE":
        return definition.window - 1
    if family == "BME":
        epochs = definition.window // DAYS_PER_EPOCH
        first_epoch = max(0, height // RETARGET_INTERVAL_BLOCKS - epochs + 1)
        return height - first_epoch * RETARGET_INTERVAL_BLOCKS
    if family == "MRI":
        return (definition.window + 2) * BLOCKS_PER_DAY * 3 // 2
    return 0


def _value_from_blocks(frame: pd.DataFrame, definition: IndexDefinition, position: int) -> Decimal:
    height = int(frame["height"].iat[0]) + position
    lookback = _lookback_blocks(definition, height)
    while True:
        lo = max(0, position - lookback)
        arrays = BlockArrays(frame, lo, position + 1)
        if definition.family != "MRI" or lo == 0 or _mri_window_inside(arrays, definition):
            break
        lookback *= 2  # a slow stretch of blocks: the N days reach further back
    points = exact_points(arrays, definition, np.array([arrays.size - 1]))
    if not points.valid[0]:
        raise ValueError(f"{definition.name} is undefined at height {height}: "
                         f"{_UNDEFINED_BECAUSE[definition.family]}")
    return units_to_decimal(points.units[0], definition.decimal_places)


def _mri_window_inside(arrays: BlockArrays, definition: IndexDefinition) -> bool:
    """True when the run holds a block stamped before the first midnight the MRI window needs,
    so every cut of the window is inside it (the latest block before a cutoff is then found)."""
    if arrays.size < CUTOFF_FINALITY_BLOCKS:
        return False
    midnight = floor_to_midnight(int(arrays.time[-CUTOFF_FINALITY_BLOCKS:].min()))
    return int(arrays.time.min()) < midnight - definition.window * SECONDS_PER_DAY


def _value_from_epochs(history: EpochHistory, definition: IndexDefinition, height: int) -> Decimal:
    epoch = height // RETARGET_INTERVAL_BLOCKS
    row = history.row_of_epoch(epoch)
    if row is None or height > history.last_height or height > int(history.end_height[row]):
        raise ValueError(f"{definition.name} at height {height}: the epoch history does not cover it")
    points = epoch_exact_points(history, definition, np.array([epoch]))
    if not points.valid[0]:
        raise ValueError(f"{definition.name} is undefined at height {height}: "
                         f"{_UNDEFINED_BECAUSE[definition.family]}")
    return units_to_decimal(points.units[0], definition.decimal_places)

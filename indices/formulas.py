"""Index formulas over ``BlockArrays``: exact values for fixings, floats for analytics series.

Exact path: every value is an exact rational of integers (work, seconds, satoshis, targets),
rounded half-even once to the index's quantum and carried as an integer number of quanta
(``units``; value = units * 10**-decimal_places). Alongside come the block range the formula read
and the aggregated integer inputs that go into the fixing digest.

Float path: the same formulas in float64 over every height, NaN where undefined. DIFF and BME
floats are the correctly rounded floats of the exact rationals (so BME equals ``indices.bme.bme``
bit for bit); HASHRATE/HASHPRICE floats are within a few ulps of the exact values; MRI floats are
the exact daily units averaged in float.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from indices.chain import (
    BLOCK_INTERVAL_SECONDS,
    bits_to_target,
    DIFFICULTY_1_TARGET,
    HASHES_PER_DIFFICULTY,
    RETARGET_INTERVAL_BLOCKS,
)
from indices.cutoffs import CUTOFF_FINALITY_BLOCKS, SECONDS_PER_DAY, floor_to_midnight
from indices.definitions import DAYS_PER_EPOCH, MRI_DAY_PLACES, IndexDefinition
from indices.frames import BlockArrays, EpochHistory, scheduled_subsidy_sats

BLOCKS_PER_DAY = SECONDS_PER_DAY // BLOCK_INTERVAL_SECONDS  # 144
HASHES_PER_PH = 10**15
HASHES_PER_TH = 10**12
HASHES_PER_EH = 10**18
COIN_SATS = 100_000_000
# BME term K_i / D_i = BME_SCALE * subsidy_sats_i * target_i / T1, with this exact scale:
BME_SCALE = Fraction(HASHES_PER_TH * BLOCK_INTERVAL_SECONDS * BLOCKS_PER_DAY,
                     HASHES_PER_DIFFICULTY * COIN_SATS)
_HASHPRICE_DEN = DIFFICULTY_1_TARGET * HASHES_PER_DIFFICULTY
_HASHPRICE_NUM = BLOCK_INTERVAL_SECONDS * HASHES_PER_PH


def round_half_even_div(num: int, den: int) -> int:
    """num / den rounded half-even to an integer (den > 0)."""
    quotient, remainder = divmod(num, den)
    twice = 2 * remainder
    if twice > den or (twice == den and quotient & 1):
        quotient += 1
    return quotient


@dataclass
class ExactPoints:
    """One index evaluated exactly at several points; entries of invalid points are None."""

    valid: np.ndarray  # bool per point
    start: np.ndarray  # first position of the block range read (where valid)
    end: np.ndarray  # last position of the block range read (where valid)
    units: list  # int number of quanta, or None
    inputs: list  # dict of aggregated integer inputs for the digest, or None


def _points(valid, start, end, units, inputs) -> ExactPoints:
    return ExactPoints(np.asarray(valid, dtype=bool), np.asarray(start), np.asarray(end),
                       units, inputs)


# --- DIFF ---------------------------------------------------------------------------------------

def diff_exact(arrays: BlockArrays, definition: IndexDefinition, positions: np.ndarray) -> ExactPoints:
    distinct = arrays.distinct_bits
    scale = 10**definition.decimal_places
    by_code = [round_half_even_div(DIFFICULTY_1_TARGET * scale, t) if t else None
               for t in distinct.targets]
    units = [by_code[c] for c in distinct.codes[positions].tolist()]
    inputs = [{"bits": b} for b in arrays.bits[positions].tolist()]
    valid = [u is not None for u in units]
    return _points(valid, positions, positions, units, inputs)


def diff_series(arrays: BlockArrays) -> np.ndarray:
    return arrays.distinct_bits.difficulty_floats()[arrays.distinct_bits.codes]


# --- HASHRATE_W ---------------------------------------------------------------------------------

def _hashrate_window(arrays: BlockArrays, window: int, positions: np.ndarray):
    opening = positions - window  # the block whose timestamp opens the W intervals
    valid = opening >= 0
    opening = np.where(valid, opening, 0)
    span = arrays.time[positions] - arrays.time[opening]
    return valid & (span > 0), opening, span


def hashrate_exact(arrays: BlockArrays, definition: IndexDefinition, positions: np.ndarray) -> ExactPoints:
    valid, opening, span = _hashrate_window(arrays, definition.window, positions)
    work = arrays.work.window_exact(opening + 1, positions + 1)
    # The quantum is 1e-18 EH/s = 1 H/s, so the units are the hashrate in whole H/s.
    assert definition.decimal_places == 18
    units, inputs = [], []
    for ok, w, s in zip(valid.tolist(), work, span.tolist()):
        units.append(round_half_even_div(w, s) if ok else None)
        inputs.append({"work_hashes": w, "timespan_seconds": s} if ok else None)
    return _points(valid, opening, positions, units, inputs)


def hashrate_series(arrays: BlockArrays, definition: IndexDefinition) -> np.ndarray:
    positions = np.arange(arrays.size)
    valid, opening, span = _hashrate_window(arrays, definition.window, positions)
    work = arrays.work.window_float(opening + 1, positions + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(valid, work / span / HASHES_PER_EH, np.nan)


# --- HASHPRICE ----------------------------------------------------------------------------------

def _hashprice_window(arrays: BlockArrays, definition: IndexDefinition, positions: np.ndarray):
    first = positions - (definition.window - 1)
    valid = first >= 0
    first = np.where(valid, first, 0)
    fees = arrays.fees_cumulative[positions + 1] - arrays.fees_cumulative[first]
    subsidy = scheduled_subsidy_sats(arrays.first_height + positions)
    return valid, first, fees, subsidy


def hashprice_exact(arrays: BlockArrays, definition: IndexDefinition, positions: np.ndarray) -> ExactPoints:
    valid, first, fees, subsidy = _hashprice_window(arrays, definition, positions)
    targets = arrays.distinct_bits.targets
    scale = 10**definition.decimal_places
    # (subsidy + fees / 144) * 144 blocks a day = 144 * subsidy + fees, exactly: the fee window
    # is one day of blocks.
    assert definition.window == BLOCKS_PER_DAY
    units, inputs = [], []
    for ok, code, bits, f, s in zip(valid.tolist(), arrays.distinct_bits.codes[positions].tolist(),
                                    arrays.bits[positions].tolist(), fees.tolist(), subsidy.tolist()):
        ok = ok and targets[code] > 0
        revenue_per_day = BLOCKS_PER_DAY * s + f
        units.append(round_half_even_div(revenue_per_day * _HASHPRICE_NUM * targets[code] * scale,
                                         _HASHPRICE_DEN) if ok else None)
        inputs.append({"bits": bits, "subsidy_sats": s, "fees_sats": f} if ok else None)
    return _points([u is not None for u in units], first, positions, units, inputs)


def hashprice_series(arrays: BlockArrays, definition: IndexDefinition) -> np.ndarray:
    positions = np.arange(arrays.size)
    valid, _, fees, subsidy = _hashprice_window(arrays, definition, positions)
    revenue_per_day = BLOCKS_PER_DAY * subsidy + fees
    hashrate_phs = diff_series(arrays) * HASHES_PER_DIFFICULTY / BLOCK_INTERVAL_SECONDS / HASHES_PER_PH
    return np.where(valid, revenue_per_day / hashrate_phs, np.nan)


# --- BME{N} -------------------------------------------------------------------------------------

class _EpochTerms:
    """Per epoch: the exact BME weight subsidy_sats * target (BME = scale * sum / (T1 * T))."""

    def __init__(self, epochs: list[int], rows: list[list[int]], targets: list[int],
                 subsidies: list[int]):
        self.epochs = np.array(epochs, dtype=np.int64)
        self.rows = rows  # what a digest names for each epoch
        self.zero_target = np.r_[0, np.cumsum([t == 0 for t in targets])]
        self.prefix = [0]
        for t, s in zip(targets, subsidies):
            self.prefix.append(self.prefix[-1] + s * t)

    def _span(self, first: int, last: int) -> tuple[int, int] | None:
        """Row slice holding exactly the epochs first..last, or None if any is missing."""
        i = int(np.searchsorted(self.epochs, first))
        j = int(np.searchsorted(self.epochs, last, side="right"))
        if j - i != last - first + 1 or self.zero_target[j] != self.zero_target[i]:
            return None
        return i, j

    def has(self, first: int, last: int) -> bool:
        return first >= 0 and self._span(first, last) is not None

    def exact(self, first: int, last: int) -> Fraction:
        i, j = self._span(first, last)
        return BME_SCALE * Fraction(self.prefix[j] - self.prefix[i],
                                    DIFFICULTY_1_TARGET * (last - first + 1))

    def rows_between(self, first: int, last: int) -> list[list[int]]:
        i, j = self._span(first, last)
        return self.rows[i:j]


def block_epoch_terms(arrays: BlockArrays) -> _EpochTerms:
    """Epochs whose first block is in the run, with that block's bits (the epoch's difficulty)."""
    first_epoch = -(-arrays.first_height // RETARGET_INTERVAL_BLOCKS)
    epochs = list(range(first_epoch, arrays.tip_height // RETARGET_INTERVAL_BLOCKS + 1))
    starts = np.array(epochs, dtype=np.int64) * RETARGET_INTERVAL_BLOCKS
    positions = starts - arrays.first_height
    codes = arrays.distinct_bits.codes[positions].tolist()
    bits = arrays.bits[positions].tolist()
    subsidies = scheduled_subsidy_sats(starts).tolist()
    return _EpochTerms(epochs, [[e, b, s] for e, b, s in zip(epochs, bits, subsidies)],
                       [arrays.distinct_bits.targets[c] for c in codes], subsidies)


def history_epoch_terms(history: EpochHistory) -> _EpochTerms:
    """Epochs of the history; digests name each row as stored: epoch, start height, bits."""
    epochs = history.epoch.tolist()
    bits = history.bits.tolist()
    starts = history.start_height.tolist()
    return _EpochTerms(epochs, [[e, s, b] for e, s, b in zip(epochs, starts, bits)],
                       [bits_to_target(b) for b in bits],
                       scheduled_subsidy_sats(history.start_height).tolist())


def bme_units(terms: _EpochTerms, definition: IndexDefinition, epochs: np.ndarray):
    """Exact BME per distinct epoch of ``epochs``: {epoch: (units, first epoch)} for valid ones."""
    count = definition.window // DAYS_PER_EPOCH
    scale = 10**definition.decimal_places
    found = {}
    for epoch in np.unique(epochs).tolist():
        first = epoch - count + 1
        if first >= 0 and terms.has(first, epoch):
            value = terms.exact(first, epoch)
            found[epoch] = (round_half_even_div(value.numerator * scale, value.denominator), first)
    return found


def bme_exact(arrays: BlockArrays, definition: IndexDefinition, positions: np.ndarray) -> ExactPoints:
    terms = block_epoch_terms(arrays)
    epochs = (arrays.first_height + positions) // RETARGET_INTERVAL_BLOCKS
    found = bme_units(terms, definition, epochs)
    inputs_by_epoch = {e: {"epochs": terms.rows_between(first, e)} for e, (_, first) in found.items()}
    hits = [found.get(e) for e in epochs.tolist()]
    start = np.array([h[1] * RETARGET_INTERVAL_BLOCKS - arrays.first_height if h else 0 for h in hits],
                     dtype=np.int64)
    return _points([h is not None for h in hits], start, positions,
                   [h[0] if h else None for h in hits],
                   [inputs_by_epoch[e] if e in found else None for e in epochs.tolist()])


def bme_epoch_floats(terms: _EpochTerms, definition: IndexDefinition, epochs: np.ndarray) -> dict:
    """Float BME per epoch: float() of the exact rational, identical to indices.bme.bme."""
    count = definition.window // DAYS_PER_EPOCH
    return {e: float(terms.exact(e - count + 1, e)) for e in np.unique(epochs).tolist()
            if e - count + 1 >= 0 and terms.has(e - count + 1, e)}


def bme_series(arrays: BlockArrays, definition: IndexDefinition) -> np.ndarray:
    epochs = arrays.height // RETARGET_INTERVAL_BLOCKS
    floats = bme_epoch_floats(block_epoch_terms(arrays), definition, epochs)
    unique, inverse = np.unique(epochs, return_inverse=True)
    return np.array([floats.get(e, np.nan) for e in unique.tolist()], dtype=np.float64)[inverse]


# --- MRI{N} -------------------------------------------------------------------------------------

class DayTable:
    """UTC days of a run of blocks (between consecutive midnight cuts) and their exact MRI units.

    Day j runs from cut(M_j) + 1 to cut(M_{j+1}); its value is kept in 1e-12 sat/PH/day units.
    """

    def __init__(self, arrays: BlockArrays):
        self.midnights = arrays.midnights
        cuts = arrays.midnight_cuts
        self.cuts = cuts
        lo, hi = cuts[:-1] + 1, cuts[1:] + 1
        revenue = (arrays.revenue_cumulative[hi] - arrays.revenue_cumulative[lo]).tolist()
        work = arrays.work.window_exact(lo, hi) if len(lo) else []
        scale = SECONDS_PER_DAY * HASHES_PER_PH * 10**MRI_DAY_PLACES
        self.units = [round_half_even_div(r * scale, w) if w > 0 else None
                      for r, w in zip(revenue, work)]
        heights = arrays.first_height
        self.rows = [[a + heights, b - 1 + heights, r, w]
                     for a, b, r, w in zip(lo.tolist(), hi.tolist(), revenue, work)]
        self.empty_days = np.r_[0, np.cumsum([u is None for u in self.units])]
        self.prefix = [0]
        for u in self.units:
            self.prefix.append(self.prefix[-1] + (u or 0))

    def mri_units(self, k: int, days: int, decimal_places: int) -> int | None:
        """MRI_days as of midnight k (mean of days k-days..k-1) in 10**-decimal_places units."""
        if k - days < 0 or k >= len(self.midnights) or self.empty_days[k] != self.empty_days[k - days]:
            return None
        total = self.prefix[k] - self.prefix[k - days]
        return round_half_even_div(total, days * 10**(MRI_DAY_PLACES - decimal_places))

    def mri_float(self, k: int, days: int) -> float:
        if k - days < 0 or k >= len(self.midnights) or self.empty_days[k] != self.empty_days[k - days]:
            return np.nan
        return (self.prefix[k] - self.prefix[k - days]) / days / 10**MRI_DAY_PLACES


def mri_exact_at_midnights(table: DayTable, definition: IndexDefinition, ks: np.ndarray) -> ExactPoints:
    """MRI as of the midnights ``ks`` (indices into ``table.midnights``); its block range runs
    from the first block of the first day to the cut of the last."""
    days = definition.window
    units = [table.mri_units(k, days, definition.decimal_places) for k in ks.tolist()]
    inputs = [{"days": table.rows[k - days:k]} if u is not None else None
              for k, u in zip(ks.tolist(), units)]
    if not len(table.cuts):  # the run spans no midnight
        return _points(np.zeros(len(ks), dtype=bool), np.zeros_like(ks), np.zeros_like(ks), units, inputs)
    start = table.cuts[np.maximum(ks - days, 0)] + 1
    return _points([u is not None for u in units], start, table.cuts[ks], units, inputs)


def mri_midnight_index(arrays: BlockArrays, positions: np.ndarray) -> np.ndarray:
    """Index into ``arrays.midnights`` of the latest midnight final at each position: the last
    CUTOFF_FINALITY_BLOCKS blocks up to it are all stamped at or after it (-1 if none)."""
    lag = CUTOFF_FINALITY_BLOCKS - 1
    shifted = [arrays.time[np.maximum(positions - i, 0)] for i in range(lag + 1)]
    midnight = floor_to_midnight(np.minimum.reduce(shifted))
    index = (midnight - arrays.midnights[0]) // SECONDS_PER_DAY if len(arrays.midnights) else -1
    return np.where((positions >= lag) & (index >= 0), index, -1)


def mri_series(arrays: BlockArrays, definition: IndexDefinition, slow_value) -> np.ndarray:
    """MRI at every height; ``slow_value(position)`` recomputes one from blocks up to it."""
    if len(arrays.midnights) == 0:
        return np.full(arrays.size, np.nan)
    table = DayTable(arrays)
    positions = np.arange(arrays.size)
    ks = mri_midnight_index(arrays, positions)
    per_midnight = np.array([table.mri_float(k, definition.window)
                             for k in range(len(table.midnights))] + [np.nan])
    values = per_midnight[np.where(ks >= 0, ks, -1)]
    # A block after h stamped before the midnight in force at h would move that day's cut; the
    # value at h is defined from blocks up to h, so recompute those (never on a valid chain).
    later_min = np.r_[arrays.tail_min_time[1:], np.iinfo(np.int64).max]
    midnight_at = arrays.midnights[0] + np.maximum(ks, 0) * SECONDS_PER_DAY
    for position in np.flatnonzero((ks >= 0) & (later_min < midnight_at)).tolist():
        values[position] = slow_value(position)
    return values

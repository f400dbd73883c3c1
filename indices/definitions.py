"""The index catalogue: what each published index is, in which unit, by which formula.

Names are parametrized: ``HASHRATE_{W}`` (W one of 144, 432, 1008, 2016, 4320 blocks),
``BME{N}`` (N a positive multiple of 14 days), ``MRI{N}`` (N a positive number of days), plus the
fixed ``DIFF`` and ``HASHPRICE``. Every definition carries its methodology version and the quantum
its fixing values are rounded to (half-even, once, from the exact rational), so a published value
can be recomputed digit for digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

METHODOLOGY_VERSION = "1"
HASHRATE_WINDOWS_BLOCKS = (144, 432, 1008, 2016, 4320)
HASHPRICE_FEE_WINDOW_BLOCKS = 144
DAYS_PER_EPOCH = 14

# Decimal places of each family's fixing values (the quantum is 10**-places). Chosen so that the
# smallest values in Bitcoin's history keep significant digits and the largest stay within the
# 28-digit default Decimal context.
DIFF_PLACES = 8  # difficulty: 1e-8
HASHRATE_PLACES = 18  # EH/s: 1e-18 EH/s = 1 H/s
BME_PLACES = 18  # BTC per TH/s per day: 1e-18 BTC = 1e-10 sat
HASHPRICE_PLACES = 6  # sats per PH/s per day: 1e-6 sat
MRI_PLACES = 6  # sats per PH/s per day: 1e-6 sat (each day's value is kept at 1e-12 first)
MRI_DAY_PLACES = 12

_FORMULAS = {
    "DIFF": (
        "D(h) = target(0x1d00ffff) / target(bits[h]), the exact rational, rounded half-even to 1e-8."
    ),
    "HASHRATE": (
        "H_W(h) = sum_{i=h-W+1..h} work(bits[i]) / (time[h] - time[h-W]) in H/s, divided by 1e18 "
        "for EH/s, rounded half-even to 1 H/s; work(bits) = 2**256 // (target(bits) + 1) as in "
        "GetBlockProof. W blocks span W intervals, so W + 1 timestamps are read; undefined when "
        "time[h] - time[h-W] <= 0 (header times are not monotonic)."
    ),
    "BME": (
        "With T = N/14 epochs: BME_N(h) = (1/T) * sum over the last T epochs up to epoch(h) of "
        "K_i / D_i, K_i = 10**12 * 600 * subsidy_i * 144 / 2**32, subsidy_i in BTC at the epoch's "
        "first block, D_i the difficulty of the epoch's first block (its bits). Rounded half-even "
        "to 1e-18 BTC/TH/day. Fees and block-time luck are left out on purpose."
    ),
    "HASHPRICE": (
        "HP(h) = (144 * subsidy(h) + sum_{i=h-143..h} fees[i]) / (D(h) * 2**32 / 600 / 1e15) sats "
        "per PH/s per day: scheduled subsidy of block h plus the mean fee per block over the last "
        "144 blocks, earned 144 times a day by the expected network hashrate at the difficulty of "
        "block h. Rounded half-even to 1e-6 sat."
    ),
    "MRI": (
        "UTC day d holds the blocks cut(d) < i <= cut(d+1), cut(M) = the highest height stamped "
        "before midnight M. r_d = sum_i (subsidy_i + fees_i) / (sum_i work_i / 86400) * 1e15 sats "
        "per PH/s per day (realized revenue over realized hashrate), rounded half-even to 1e-12 "
        "sat; undefined for a day without blocks. MRI_N as of midnight M = mean of r_d over the N "
        "days ending at M, rounded half-even to 1e-6 sat. At a height h it is the value as of the "
        "latest midnight the last 6 blocks up to h are all stamped at or after."
    ),
}


class UnknownIndex(KeyError):
    """An index name that is not in the catalogue (a KeyError with a readable message)."""

    def __init__(self, name: object, reason: str):
        super().__init__(name)
        self.name = name
        self.reason = reason

    def __str__(self) -> str:
        return (
            f"unknown index {self.name!r}: {self.reason}. Known forms: DIFF, HASHPRICE, "
            f"HASHRATE_{{{'|'.join(map(str, HASHRATE_WINDOWS_BLOCKS))}}}, BME{{N}} with N a "
            "positive multiple of 14, MRI{N} with N a positive number of days"
        )


@dataclass(frozen=True, slots=True)
class IndexDefinition:
    """One index: its canonical name, unit, methodology and parameters.

    ``needs`` is the least data it can be computed from: "epochs" (the epoch history is enough,
    block data also works) or "blocks". ``window`` is the parameter of the family in
    ``window_unit`` ("blocks" or "days"); DIFF has none.
    """

    name: str
    title: str
    family: str
    unit: str
    methodology_version: str
    formula: str
    needs: str
    window: int | None
    window_unit: str | None
    decimal_places: int

    @property
    def quantum(self) -> Decimal:
        """Smallest step of a fixing value: 10**-decimal_places of ``unit``."""
        return Decimal(1).scaleb(-self.decimal_places)


def _diff() -> IndexDefinition:
    return IndexDefinition("DIFF", "Bitcoin difficulty", "DIFF", "difficulty", METHODOLOGY_VERSION,
                           _FORMULAS["DIFF"], "epochs", None, None, DIFF_PLACES)


def _hashrate(window_blocks: int) -> IndexDefinition:
    return IndexDefinition(
        f"HASHRATE_{window_blocks}", f"Realized network hashrate over {window_blocks} blocks",
        "HASHRATE", "EH/s", METHODOLOGY_VERSION, _FORMULAS["HASHRATE"], "blocks", window_blocks,
        "blocks", HASHRATE_PLACES)


def _bme(days: int) -> IndexDefinition:
    return IndexDefinition(
        f"BME{days}", f"BTC mined per TH/s per day, {days}-day difficulty average", "BME",
        "BTC/TH/day", METHODOLOGY_VERSION, _FORMULAS["BME"], "epochs", days, "days", BME_PLACES)


def _hashprice() -> IndexDefinition:
    return IndexDefinition(
        "HASHPRICE", "Hashprice: expected revenue per PH/s per day, fees included", "HASHPRICE",
        "sats/PH/day", METHODOLOGY_VERSION, _FORMULAS["HASHPRICE"], "blocks",
        HASHPRICE_FEE_WINDOW_BLOCKS, "blocks", HASHPRICE_PLACES)


def _mri(days: int) -> IndexDefinition:
    return IndexDefinition(
        f"MRI{days}", f"Mining revenue index: realized revenue per PH/s per day, {days}-day mean",
        "MRI", "sats/PH/day", METHODOLOGY_VERSION, _FORMULAS["MRI"], "blocks", days, "days",
        MRI_PLACES)


_PATTERN = re.compile(r"^(?:(DIFF|HASHPRICE)|HASHRATE_([0-9]+)|BME([0-9]+)|MRI([0-9]+))$")


def get_definition(name: str) -> IndexDefinition:
    """Definition of ``name`` (case-insensitive; the result carries the canonical name)."""
    if not isinstance(name, str):
        raise UnknownIndex(name, "an index name is text")
    match = _PATTERN.match(name.strip().upper())
    if match is None:
        raise UnknownIndex(name, "no index family has this name")
    fixed, window, bme_days, mri_days = match.groups()
    for text in (window, bme_days, mri_days):
        if text is not None and (text.startswith("0") or int(text) <= 0):
            raise UnknownIndex(name, "the parameter must be a positive integer without leading zeros")
    if fixed == "DIFF":
        return _diff()
    if fixed == "HASHPRICE":
        return _hashprice()
    if window is not None:
        if int(window) not in HASHRATE_WINDOWS_BLOCKS:
            raise UnknownIndex(name, f"HASHRATE windows are {HASHRATE_WINDOWS_BLOCKS} blocks")
        return _hashrate(int(window))
    if bme_days is not None:
        if int(bme_days) % DAYS_PER_EPOCH:
            raise UnknownIndex(name, "BME days must be a multiple of 14 (whole epochs)")
        return _bme(int(bme_days))
    return _mri(int(mri_days))


STANDARD_INDEX_NAMES = (
    "DIFF",
    *(f"HASHRATE_{w}" for w in HASHRATE_WINDOWS_BLOCKS),
    "BME14",
    "BME28",
    "BME84",
    "HASHPRICE",
    "MRI7",
    "MRI30",
)


def standard_indices() -> list[IndexDefinition]:
    """The published set, in display order."""
    return [get_definition(name) for name in STANDARD_INDEX_NAMES]

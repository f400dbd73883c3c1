"""BME{N}: average daily BTC mined by 1 TH/s over the last N days, from difficulty alone.

With T = N / 14 epochs, BME = (1/T) * sum over the last T epochs (the current one included) of
K_i / D_i, where K_i = 10**12 * 600 * subsidy_i * 144 / 2**32 is the BTC a TH/s earns per day at
difficulty 1 and subsidy_i (BTC) is the subsidy at the epoch's first block. Fees and block-time luck
are left out on purpose: the contract trades difficulty risk alone.
"""

from __future__ import annotations

from fractions import Fraction

import pandas as pd

from indices.chain import (
    BLOCK_INTERVAL_SECONDS,
    COIN_SATS,
    HASHES_PER_DIFFICULTY,
    block_subsidy_sats,
    difficulty_fraction,
    epoch_of,
    epoch_start_height,
    parse_bits,
)

DAYS_PER_EPOCH = 14
BLOCKS_PER_DAY = 24 * 60 * 60 // BLOCK_INTERVAL_SECONDS  # 144
HASHES_PER_TH = 10**12


def epochs_for_days(days: int) -> int:
    """Number of epochs T averaged by BME{days}; days must be a positive multiple of 14."""
    if isinstance(days, bool) or not isinstance(days, int) or days <= 0 or days % DAYS_PER_EPOCH:
        raise ValueError(f"BME days must be a positive multiple of 14, got {days!r}")
    return days // DAYS_PER_EPOCH


def epoch_term_btc_per_th_day(bits: int, epoch: int) -> Fraction:
    """K_i / D_i for one epoch, exact: BTC earned per TH/s per day at that epoch's difficulty."""
    subsidy_btc = Fraction(block_subsidy_sats(epoch_start_height(epoch)), COIN_SATS)
    k = Fraction(HASHES_PER_TH * BLOCK_INTERVAL_SECONDS * BLOCKS_PER_DAY, HASHES_PER_DIFFICULTY)
    return k * subsidy_btc / difficulty_fraction(bits)


def bme_exact(epochs: pd.DataFrame, height: int, days: int) -> Fraction:
    """BME{days} as of ``height`` as an exact rational (see module docstring)."""
    count = epochs_for_days(days)
    if height < 0:
        raise ValueError(f"height must be non-negative, got {height}")
    current = epoch_of(height)
    first = current - count + 1
    if first < 0:
        raise ValueError(
            f"BME{days} needs {count} epochs of history; height {height} is in epoch {current}"
        )
    covered = epochs[(epochs["epoch"] >= first) & (epochs["epoch"] <= current)]
    if len(covered) != count or covered["epoch"].nunique() != count:
        raise ValueError(f"epoch history lacks epochs {first}..{current} needed for BME{days}")
    last_known_height = int(epochs["end_height"].max())
    if height > last_known_height:
        raise ValueError(f"height {height} is past the epoch history (ends at {last_known_height})")
    total = sum(
        (epoch_term_btc_per_th_day(parse_bits(bits), int(epoch))
         for epoch, bits in zip(covered["epoch"], covered["bits"])),
        Fraction(0),
    )
    return total / count


def bme(epochs: pd.DataFrame, height: int, days: int) -> float:
    """BME{days} in BTC per TH/s per day as of ``height``.

    ``epochs`` has the columns of ``shared/data/btc_difficulty_epochs.csv``: epoch, start_height,
    end_height, bits (hex text or int).
    """
    return float(bme_exact(epochs, height, days))

"""Per-block fees and transaction counts for the chain simulator, by era.

The mean total fee per block (BTC) and the mean transaction count per block follow piecewise-linear
curves through the anchor points below, a rough reading of public charts of Bitcoin history
(total daily fees and transactions per day divided by ~144 blocks). They are for realistic demos
and tests, not for research; every number is here to be questioned.

- 2009-2011: coinbase-only blocks are the rule and fees are near zero (< 0.02 BTC per block).
- 2012-2013: SatoshiDice-era activity, a few tenths of a BTC per block.
- 2017-12: the first fee peak, several BTC per block; 2021-04 a smaller one.
- 2023-05 and 2024-04: inscription/runes spikes around the 2024 halving.
- 2025 onward: about 0.03 BTC per block with about 3,000 transactions.

Per block, given the era means at its timestamp:

- ``tx_count = 1 + Poisson(lambda)``, with ``lambda = (mean_tx - 1) * LogNormal(0, tx_log_sigma)``;
- ``fees = mean_fee * LogNormal(-sigma**2 / 2, sigma)`` with ``sigma = block_log_sigma`` (0.6:
  consecutive blocks' fees commonly differ by a factor of two), so the era mean is preserved;
- with probability ``spike_probability`` (0.2 %) the fee is multiplied by a spike factor
  ``LogNormal(log 8, 0.7)``, the occasional block that collects a fee burst;
- a block with only its coinbase collects no fee at all.

All randomness comes from the generator passed in, in a fixed order, so a seeded simulator repeats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from math import log

import numpy as np

from indices.chain import COIN_SATS


def _utc(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=timezone.utc).timestamp())


# (Unix time, mean total fees per block in BTC)
FEE_ERAS_BTC = (
    (_utc(2009, 1, 3), 0.0),
    (_utc(2010, 6, 1), 0.0005),
    (_utc(2011, 6, 1), 0.005),
    (_utc(2012, 1, 1), 0.02),
    (_utc(2012, 7, 1), 0.15),
    (_utc(2013, 6, 1), 0.25),
    (_utc(2014, 6, 1), 0.10),
    (_utc(2015, 6, 1), 0.12),
    (_utc(2016, 6, 1), 0.40),
    (_utc(2017, 6, 1), 1.20),
    (_utc(2017, 12, 20), 4.00),
    (_utc(2018, 4, 1), 0.30),
    (_utc(2019, 1, 1), 0.15),
    (_utc(2019, 7, 1), 0.40),
    (_utc(2020, 1, 1), 0.20),
    (_utc(2020, 9, 1), 0.80),
    (_utc(2021, 4, 15), 1.50),
    (_utc(2021, 9, 1), 0.15),
    (_utc(2022, 6, 1), 0.08),
    (_utc(2023, 1, 1), 0.07),
    (_utc(2023, 5, 8), 0.80),
    (_utc(2023, 9, 1), 0.25),
    (_utc(2023, 12, 15), 0.60),
    (_utc(2024, 4, 20), 1.00),
    (_utc(2024, 8, 1), 0.06),
    (_utc(2025, 1, 1), 0.05),
    (_utc(2025, 6, 1), 0.03),
)

# (Unix time, mean transactions per block, coinbase included)
TX_ERAS = (
    (_utc(2009, 1, 3), 1.0),
    (_utc(2010, 1, 1), 1.1),
    (_utc(2010, 12, 1), 4.0),
    (_utc(2011, 6, 1), 25.0),
    (_utc(2012, 6, 1), 150.0),
    (_utc(2013, 6, 1), 250.0),
    (_utc(2014, 6, 1), 450.0),
    (_utc(2015, 6, 1), 800.0),
    (_utc(2016, 6, 1), 1600.0),
    (_utc(2017, 6, 1), 1900.0),
    (_utc(2018, 3, 1), 1000.0),
    (_utc(2019, 6, 1), 2300.0),
    (_utc(2020, 6, 1), 2100.0),
    (_utc(2021, 6, 1), 1800.0),
    (_utc(2022, 6, 1), 1900.0),
    (_utc(2023, 5, 1), 3500.0),
    (_utc(2024, 1, 1), 3800.0),
    (_utc(2024, 6, 1), 3500.0),
    (_utc(2025, 6, 1), 3000.0),
)


@dataclass(frozen=True)
class FeeModel:
    """Era means plus per-block noise; see the module docstring for the formulas."""

    fee_eras_btc: tuple[tuple[int, float], ...] = FEE_ERAS_BTC
    tx_eras: tuple[tuple[int, float], ...] = TX_ERAS
    block_log_sigma: float = 0.6
    tx_log_sigma: float = 0.25
    spike_probability: float = 0.002
    spike_log_median: float = log(8.0)
    spike_log_sigma: float = 0.7

    def mean_fee_btc(self, times: np.ndarray) -> np.ndarray:
        """Era mean of total fees per block (BTC) at each Unix time; flat beyond the anchors."""
        at, value = zip(*self.fee_eras_btc)
        return np.interp(np.asarray(times, dtype=float), at, value)

    def mean_tx_count(self, times: np.ndarray) -> np.ndarray:
        at, value = zip(*self.tx_eras)
        return np.interp(np.asarray(times, dtype=float), at, value)

    def sample(self, rng: np.random.Generator, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(total_fees_sats, tx_count) as int64 arrays, one entry per block time in ``times``."""
        n = len(times)
        fee_noise = rng.standard_normal(n)
        spike_draw = rng.random(n)
        spike_noise = rng.standard_normal(n)
        tx_noise = rng.standard_normal(n)
        extra_tx_mean = np.maximum(self.mean_tx_count(times) - 1.0, 0.0)
        lam = extra_tx_mean * np.exp(self.tx_log_sigma * tx_noise - self.tx_log_sigma**2 / 2)
        tx_count = 1 + rng.poisson(lam)
        sigma = self.block_log_sigma
        fees_btc = self.mean_fee_btc(times) * np.exp(sigma * fee_noise - sigma**2 / 2)
        spikes = spike_draw < self.spike_probability
        fees_btc[spikes] *= np.exp(self.spike_log_median + self.spike_log_sigma * spike_noise[spikes])
        fees_btc[tx_count == 1] = 0.0  # a coinbase-only block has nothing to collect
        return np.rint(fees_btc * COIN_SATS).astype(np.int64), tx_count.astype(np.int64)


DEFAULT_FEE_MODEL = FeeModel()

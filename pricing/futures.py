"""Decomposition pricing of difficulty and hashprice futures, and capped/floored contracts.

A futures contract settles on an index that is a known function of per-epoch difficulties: given
a path of difficulties (known past epochs plus forecasts), the predicted settlement follows by
plain arithmetic, and the contract's value is ``(settlement - trade price) * multiplier``:

* BME{N}: mean over its T = N/14 epochs of ``K * subsidy_btc(epoch) / D`` (BTC per TH/s per day),
  the subsidy taken at the epoch's first block as ``indices.bme`` does;
* HASHPRICE: ``(mean subsidy + fees per block) * 144 / (D * 2**32 / 600 / 10**15)`` sats per PH/s
  per day for each epoch, averaged over the settlement window weighted by the days each epoch
  covers (the daily fixings of an epoch share its difficulty);
* DIFF: the difficulty of the settlement epoch.

Capped/floored (fully collateralized) contracts: at settlement price P clamped to [floor, cap] the
long receives ``(P - floor) * multiplier`` and the short ``(cap - P) * multiplier``; at trade price
F they post ``(F - floor) * m`` and ``(cap - F) * m``, so their implied leverage (notional over
collateral) is ``F / (F - floor)`` and ``F / (cap - F)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from indices.bme import BLOCKS_PER_DAY
from indices.chain import (
    BLOCK_INTERVAL_SECONDS,
    COIN_SATS,
    HALVING_INTERVAL_BLOCKS,
    HASHES_PER_DIFFICULTY,
    RETARGET_INTERVAL_BLOCKS,
    block_subsidy_sats,
    epoch_end_height,
    epoch_start_height,
)
from pricing.difficulty_curve import BTC_PER_TH_DAY_PER_SUBSIDY_BTC
from pricing.errors import (
    PricingInputError,
    finite,
    non_negative,
    non_negative_int,
    one_of,
    positive,
    positive_int,
)

HASHES_PER_PH = 10**15
SIDES = ("long", "short")


@dataclass(frozen=True, slots=True)
class EpochForecast:
    """Difficulty of one epoch: fixed (``known``) or forecast, with the fees expected per block."""

    epoch: int
    difficulty: float
    fees_per_block_sats: float = 0.0
    known: bool = False

    def __post_init__(self) -> None:
        non_negative_int("epoch", self.epoch)
        positive("difficulty", self.difficulty)
        non_negative("fees_per_block_sats", self.fees_per_block_sats)


@dataclass(frozen=True, slots=True)
class LongShort:
    """A figure for each side of a contract."""

    long: float
    short: float


def epoch_subsidy_btc(epoch: int) -> float:
    """Subsidy at the epoch's first block, in BTC (the BME convention)."""
    return block_subsidy_sats(epoch_start_height(non_negative_int("epoch", epoch))) / COIN_SATS


def mean_epoch_subsidy_sats(epoch: int) -> float:
    """Subsidy averaged over the epoch's 2016 blocks (exact across a halving inside the epoch)."""
    first = epoch_start_height(non_negative_int("epoch", epoch))
    last = epoch_end_height(epoch)
    halving = (first // HALVING_INTERVAL_BLOCKS + 1) * HALVING_INTERVAL_BLOCKS
    if halving > last:
        return float(block_subsidy_sats(first))
    before = halving - first
    after = RETARGET_INTERVAL_BLOCKS - before
    total = before * block_subsidy_sats(first) + after * block_subsidy_sats(halving)
    return total / RETARGET_INTERVAL_BLOCKS


def bme_term_btc_per_th_day(epoch: int, difficulty: float) -> float:
    """K * subsidy_btc / D: BTC a TH/s earns per day during ``epoch`` at ``difficulty``."""
    return BTC_PER_TH_DAY_PER_SUBSIDY_BTC * epoch_subsidy_btc(epoch) / positive(
        "difficulty", difficulty
    )


def hashprice_sats_per_phd(epoch: int, difficulty: float, fees_per_block_sats: float = 0.0) -> float:
    """Sats a PH/s earns per day during ``epoch`` at ``difficulty``, fees included."""
    hashrate_phs = (
        positive("difficulty", difficulty) * HASHES_PER_DIFFICULTY / BLOCK_INTERVAL_SECONDS
        / HASHES_PER_PH
    )
    revenue_per_block = mean_epoch_subsidy_sats(epoch) + non_negative(
        "fees_per_block_sats", fees_per_block_sats
    )
    return revenue_per_block * BLOCKS_PER_DAY / hashrate_phs


def _by_epoch(path: Sequence[EpochForecast]) -> dict[int, EpochForecast]:
    table: dict[int, EpochForecast] = {}
    for forecast in path:
        if forecast.epoch in table:
            raise PricingInputError("path", forecast.epoch, "must list each epoch once")
        table[forecast.epoch] = forecast
    return table


def _window(table: Mapping[int, EpochForecast], epochs: Iterable[int]) -> list[EpochForecast]:
    wanted = list(epochs)
    missing = [epoch for epoch in wanted if epoch not in table]
    if missing:
        raise PricingInputError("path", missing, "lacks epochs the settlement window needs")
    return [table[epoch] for epoch in wanted]


def bme_settlement_btc_per_th_day(
    path: Sequence[EpochForecast], settlement_epoch: int, window_epochs: int
) -> float:
    """Predicted BME{14*T} fixing at the end of ``settlement_epoch`` (window of T epochs)."""
    count = positive_int("window_epochs", window_epochs)
    last = non_negative_int("settlement_epoch", settlement_epoch)
    if last - count + 1 < 0:
        raise PricingInputError("window_epochs", window_epochs, "reaches before the genesis epoch")
    window = _window(_by_epoch(path), range(last - count + 1, last + 1))
    return sum(bme_term_btc_per_th_day(f.epoch, f.difficulty) for f in window) / count


def hashprice_settlement_sats_per_phd(
    path: Sequence[EpochForecast], days_by_epoch: Mapping[int, float]
) -> float:
    """Predicted average of daily HASHPRICE fixings, each epoch weighted by its days in the window."""
    if not days_by_epoch:
        raise PricingInputError("days_by_epoch", days_by_epoch, "must name at least one epoch")
    weights = {
        epoch: non_negative(f"days_by_epoch[{epoch}]", days) for epoch, days in days_by_epoch.items()
    }
    total_days = sum(weights.values())
    if total_days <= 0.0:
        raise PricingInputError("days_by_epoch", days_by_epoch, "must cover a positive number of days")
    table = _by_epoch(path)
    window = _window(table, sorted(weights))
    return sum(
        weights[f.epoch] * hashprice_sats_per_phd(f.epoch, f.difficulty, f.fees_per_block_sats)
        for f in window
    ) / total_days


@dataclass(frozen=True, slots=True)
class FuturesValuation:
    """Value of a futures position at a predicted settlement, in index unit x multiplier unit."""

    predicted_settlement: float
    trade_price: float
    multiplier: float
    side: str
    value: float


def value_futures(
    predicted_settlement: float, trade_price: float, multiplier: float, side: str = "long"
) -> FuturesValuation:
    """``(settlement - price) * multiplier``, sign flipped for the short."""
    settlement = finite("predicted_settlement", predicted_settlement)
    price = finite("trade_price", trade_price)
    size = positive("multiplier", multiplier)
    sign = 1.0 if one_of("side", side, SIDES) == "long" else -1.0
    return FuturesValuation(settlement, price, size, side, sign * (settlement - price) * size)


@dataclass(frozen=True, slots=True)
class CappedFlooredContract:
    """Fully collateralized contract: payouts bounded by a floor and a cap, no liquidation."""

    floor: float
    cap: float
    multiplier: float

    def __post_init__(self) -> None:
        floor = non_negative("floor", self.floor)
        if finite("cap", self.cap) <= floor:
            raise PricingInputError("cap", self.cap, f"must exceed the floor {floor!r}")
        positive("multiplier", self.multiplier)

    def clamp(self, index: float) -> float:
        return min(max(finite("index", index), self.floor), self.cap)

    def settlement_payouts(self, index: float) -> LongShort:
        """What each side receives at settlement (they sum to (cap - floor) * multiplier)."""
        settled = self.clamp(index)
        return LongShort(
            (settled - self.floor) * self.multiplier, (self.cap - settled) * self.multiplier
        )

    def _check_price(self, trade_price: float) -> float:
        price = finite("trade_price", trade_price)
        if not self.floor < price < self.cap:
            raise PricingInputError(
                "trade_price", trade_price, f"must lie strictly between {self.floor} and {self.cap}"
            )
        return price

    def collateral(self, trade_price: float) -> LongShort:
        """Collateral each side posts at ``trade_price``: its largest possible loss."""
        price = self._check_price(trade_price)
        return LongShort((price - self.floor) * self.multiplier, (self.cap - price) * self.multiplier)

    def implied_leverage(self, trade_price: float) -> LongShort:
        """Notional (price x multiplier) over collateral, per side."""
        price = self._check_price(trade_price)
        return LongShort(price / (price - self.floor), price / (self.cap - price))

    def value(self, predicted_settlement: float, trade_price: float, side: str = "long") -> float:
        """``(clamp(settlement) - price) * multiplier``, sign flipped for the short."""
        price = self._check_price(trade_price)
        sign = 1.0 if one_of("side", side, SIDES) == "long" else -1.0
        return sign * (self.clamp(predicted_settlement) - price) * self.multiplier

"""Forward difficulty path for marking futures: known epochs, the next retarget, a trend beyond.

The platform marks its futures at the settlement the decomposition pricing of ``pricing.futures``
predicts along one per-epoch difficulty path (``EpochForecast`` list), built from chain data:

* **known epochs** (the current one and those before it): the difficulty in force, from the bits
  of any stored block of the epoch or the epoch history (``known_epochs``; later observations
  win, so stored blocks override the history when both are given);
* **the next epoch** (current + 1): the next-difficulty forecast of ``indices.forecast`` (retarget
  rule with the 4x clamp); without one, the current difficulty grown by the trend;
* **later epochs** e: ``D_(c+1) * (1 + g) ** (e - c - 1)``, g the trend growth per epoch.

Trend (``trend_growth_per_epoch``): g = exp(m) - 1, m the mean of the per-epoch log changes
``ln(D_e / D_(e-1))`` over the trailing ``window_epochs`` epochs ending at the current one
(default 26, about a year: long enough to average out an epoch's noise, short enough to follow
the slowing growth of the 6.25 / 3.125 BTC eras). With contiguous data m is simply
``ln(D_c / D_(c-26)) / 26``; with gaps, only changes whose two epochs are both known count
(``changes`` says how many); with none, g = 0 (flat). m is kept inside the retarget clamp
``[ln 1/4, ln 4]``.

Fees (for hashprice): the mean fees per block of the trailing ``FEE_WINDOW_BLOCKS`` (2016) stored
blocks, held flat on every epoch (``mean_fees_per_block_sats``).

Epoch timing (which epoch a daily hashprice fixing falls in): known epochs start at the time of
their first block; the next one at the forecast's expected retarget time; each later one
``14 days / (1 + g)`` after the previous (difficulty growing by g per epoch means hashrate grows
by about g per epoch, so an epoch at the old difficulty takes that much less than two weeks).
A daily fixing as of midnight M reads the last block stamped before M, so it belongs to the
latest epoch whose start is strictly before M (``ForwardPath.epoch_at``).

Predicted settlement fixings (``ForwardPath.retarget_fixing``): the retarget fixing at the first
block of epoch k, height ``k * 2016``, is the index *as of that block*, which already lies in
epoch k: DIFF there is ``D_k``, and BME{N} averages its T = N/14 epochs ``k - T + 1 .. k`` (the
current one included, ``indices.bme``): for BME14 (T = 1) epoch k alone, ``K * subsidy_k / D_k``.
Daily HASHPRICE fixings are predicted per epoch (``futures.hashprice_sats_per_phd``) and averaged
weighted by the days each epoch covers (``ForwardPath.hashprice_mean_sats_per_phd``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from indices.bme import epochs_for_days
from indices.chain import (
    BLOCK_INTERVAL_SECONDS,
    RETARGET_INTERVAL_BLOCKS,
    bits_to_difficulty,
)
from pricing.difficulty_curve import MAX_RETARGET_FACTOR
from pricing.errors import (
    PricingInputError,
    finite,
    non_negative,
    non_negative_int,
    positive,
    positive_int,
)
from pricing.futures import (
    EpochForecast,
    bme_settlement_btc_per_th_day,
    hashprice_settlement_sats_per_phd,
)

TREND_WINDOW_EPOCHS = 26  # about a year of epochs
FEE_WINDOW_BLOCKS = 2016  # about two weeks of blocks
NOMINAL_EPOCH = timedelta(seconds=RETARGET_INTERVAL_BLOCKS * BLOCK_INTERVAL_SECONDS)  # 14 days
_MAX_LOG_CHANGE = math.log(MAX_RETARGET_FACTOR)
_MAX_PATH_EPOCHS = 10_000  # a horizon beyond this is a caller's mistake


@dataclass(frozen=True, slots=True)
class ChainObservation:
    """A block (or an epoch-history row): its height, compact bits and, if known, its time."""

    height: int
    bits: int
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class KnownEpochs:
    """Difficulty of each observed epoch, and the start time of those whose first block was seen."""

    difficulty: Mapping[int, float]
    starts: Mapping[int, datetime]


def known_epochs(observations: Iterable[ChainObservation]) -> KnownEpochs:
    """Per-epoch difficulty (from bits) and start time (the time of a block at ``e * 2016``).

    Every block of an epoch carries its difficulty, so any one observation fixes it; when several
    disagree, the later one in ``observations`` wins.
    """
    difficulty: dict[int, float] = {}
    starts: dict[int, datetime] = {}
    for seen in observations:
        height = non_negative_int("height", seen.height)
        epoch = height // RETARGET_INTERVAL_BLOCKS
        try:
            difficulty[epoch] = bits_to_difficulty(int(seen.bits))
        except (TypeError, ValueError) as exc:
            raise PricingInputError("bits", seen.bits, f"must be valid compact bits ({exc})") from None
        if seen.time is not None and height % RETARGET_INTERVAL_BLOCKS == 0:
            starts[epoch] = _aware("time", seen.time)
    return KnownEpochs(difficulty, starts)


@dataclass(frozen=True, slots=True)
class TrendGrowth:
    """Trend difficulty growth per epoch estimated from ``changes`` log changes in the window."""

    growth_per_epoch: float  # exp(mean_log_change) - 1
    mean_log_change: float
    changes: int
    first_epoch: int  # the window: changes into epochs first_epoch..last_epoch
    last_epoch: int


def trend_growth_per_epoch(
    difficulty_by_epoch: Mapping[int, float], last_epoch: int, window_epochs: int = TREND_WINDOW_EPOCHS
) -> TrendGrowth:
    """Mean log difficulty change over the ``window_epochs`` changes ending at ``last_epoch``.

    The changes counted are ``ln(D_e / D_(e-1))`` for ``e`` in ``last_epoch - window_epochs + 1 ..
    last_epoch`` with both epochs present (module docstring); none gives a flat trend (g = 0).
    """
    last = non_negative_int("last_epoch", last_epoch)
    count = positive_int("window_epochs", window_epochs)
    first = max(1, last - count + 1)
    changes = []
    for epoch in range(first, last + 1):
        if epoch in difficulty_by_epoch and epoch - 1 in difficulty_by_epoch:
            now = positive(f"difficulty_by_epoch[{epoch}]", difficulty_by_epoch[epoch])
            before = positive(f"difficulty_by_epoch[{epoch - 1}]", difficulty_by_epoch[epoch - 1])
            changes.append(math.log(now / before))
    if not changes:
        return TrendGrowth(0.0, 0.0, 0, first, last)
    mean = min(max(math.fsum(changes) / len(changes), -_MAX_LOG_CHANGE), _MAX_LOG_CHANGE)
    return TrendGrowth(math.expm1(mean), mean, len(changes), first, last)


def mean_fees_per_block_sats(fees_sats: Sequence[float], window_blocks: int = FEE_WINDOW_BLOCKS) -> float:
    """Mean of the last ``window_blocks`` values of ``fees_sats`` (oldest first); 0 when empty."""
    window = positive_int("window_blocks", window_blocks)
    values = [non_negative("fees_sats", fee) for fee in list(fees_sats)[-window:]]
    return math.fsum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class ForwardPath:
    """A per-epoch difficulty path with epoch start times (build it with ``forward_path``)."""

    path: tuple[EpochForecast, ...]
    current_epoch: int
    growth_per_epoch: float
    fees_per_block_sats: float
    starts: tuple[tuple[int, datetime], ...]  # (epoch, start time) in epoch order

    def _forecast(self, epoch: int) -> EpochForecast:
        for forecast in self.path:
            if forecast.epoch == epoch:
                return forecast
        raise PricingInputError("epoch", epoch, "is not on the path (unknown or past its horizon)")

    @property
    def last_epoch(self) -> int:
        return self.path[-1].epoch

    def difficulty(self, epoch: int) -> float:
        """The path's difficulty of ``epoch``: known, forecast, or trend."""
        return self._forecast(non_negative_int("epoch", epoch)).difficulty

    def retarget_fixing(self, index: str, epoch: int) -> float:
        """Predicted retarget fixing of ``index`` (``DIFF`` or ``BME{N}``) at the first block of
        ``epoch``: DIFF is D_epoch; BME{N} averages epochs ``epoch - N/14 + 1 .. epoch``."""
        if index == "DIFF":
            return self.difficulty(epoch)
        if isinstance(index, str) and index.startswith("BME") and index[3:].isdigit():
            try:
                window = epochs_for_days(int(index[3:]))
            except ValueError as exc:
                raise PricingInputError("index", index, str(exc)) from None
            return bme_settlement_btc_per_th_day(self.path, non_negative_int("epoch", epoch), window)
        raise PricingInputError("index", index, "must be DIFF or BME{N} (a retarget-settled index)")

    def epoch_at(self, moment: datetime) -> int:
        """The epoch of the last block stamped before ``moment`` (module docstring)."""
        at = _aware("moment", moment)
        for epoch, start in reversed(self.starts):
            if start < at:
                return epoch
        earliest = self.starts[0][0]
        return earliest - 1 if any(f.epoch == earliest - 1 for f in self.path) else earliest

    def hashprice_mean_sats_per_phd(self, moments: Sequence[datetime]) -> float:
        """Predicted mean of the daily HASHPRICE fixings as of ``moments`` (sats/PH/day)."""
        if not moments:
            raise PricingInputError("moments", moments, "must name at least one fixing time")
        days = Counter(self.epoch_at(moment) for moment in moments)
        return hashprice_settlement_sats_per_phd(self.path, {e: float(n) for e, n in days.items()})


def forward_path(
    *,
    known_difficulty: Mapping[int, float],
    current_epoch: int,
    next_retarget_time: datetime,
    growth_per_epoch: float,
    fees_per_block_sats: float = 0.0,
    next_difficulty: float | None = None,
    last_epoch: int | None = None,
    until: datetime | None = None,
    known_starts: Mapping[int, datetime] | None = None,
) -> ForwardPath:
    """The path of the module docstring, from the known epochs up to ``last_epoch`` and at least
    to the epoch in force at ``until`` (for hashprice windows); at least the next epoch."""
    current = non_negative_int("current_epoch", current_epoch)
    if current not in known_difficulty:
        raise PricingInputError("known_difficulty", current, "must hold the current epoch's difficulty")
    growth = finite("growth_per_epoch", growth_per_epoch)
    if not 1.0 / MAX_RETARGET_FACTOR - 1.0 <= growth <= MAX_RETARGET_FACTOR - 1.0:
        raise PricingInputError("growth_per_epoch", growth, "must lie in [-0.75, 3] (the retarget clamp)")
    fees = non_negative("fees_per_block_sats", fees_per_block_sats)
    next_start = _aware("next_retarget_time", next_retarget_time)
    step = NOMINAL_EPOCH / (1.0 + growth)
    last = max(current + 1, non_negative_int("last_epoch", last_epoch) if last_epoch is not None else 0)
    if until is not None:
        horizon = _aware("until", until)
        while next_start + (last - current) * step < horizon and last - current <= _MAX_PATH_EPOCHS:
            last += 1  # until epoch last + 1 starts at or after the horizon
    if last - current > _MAX_PATH_EPOCHS:
        raise PricingInputError("last_epoch", last, f"lies more than {_MAX_PATH_EPOCHS} epochs ahead")

    path = [EpochForecast(e, positive(f"known_difficulty[{e}]", d), fees, known=True)
            for e, d in sorted(known_difficulty.items()) if e <= current]
    first_next = (positive("next_difficulty", next_difficulty) if next_difficulty is not None
                  else known_difficulty[current] * (1.0 + growth))
    path += [EpochForecast(e, first_next * (1.0 + growth) ** (e - current - 1), fees)
             for e in range(current + 1, last + 1)]
    starts = [(e, _aware(f"known_starts[{e}]", t)) for e, t in sorted((known_starts or {}).items())
              if e <= current]
    starts += [(e, next_start + (e - current - 1) * step) for e in range(current + 1, last + 1)]
    return ForwardPath(tuple(path), current, growth, fees, tuple(starts))


def _aware(field: str, moment: object) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise PricingInputError(field, moment, "must be a timezone-aware datetime")
    return moment

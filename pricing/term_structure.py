"""Difficulty term structure bootstrapped from BME futures quotes.

Quotes (BME{14T} prices, or DIFF prices that fix one epoch's difficulty outright) are processed
by settlement epoch. Between the last pillar L (at first the current epoch,
whose difficulty is known) and a quote's settlement epoch E, difficulty grows at a constant rate:
``D_e = D_L * (1+g)**(e-L)``. The segment's g is solved (QuantLib Brent, bracketed by the retarget
clamp) so that the quote's window reprices exactly:

    (1/T) * sum_{e=E-T+1..E} K * subsidy_btc(e) / D_e = price.

Epochs of the window at or before L are already fixed (known history or earlier segments), so each
quote adds exactly one unknown. With a single quote whose window is the T epochs after the current
one, g is the IDGR of :func:`pricing.difficulty_curve.implied_growth_rate`. Between listed epochs
the curve is log-linear in difficulty (constant growth); past the last pillar it is not defined.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pricing.difficulty_curve import (
    BTC_PER_TH_DAY_PER_SUBSIDY_BTC,
    EDGE_TOLERANCE,
    GROWTH_ACCURACY,
    MAX_GROWTH_PER_EPOCH,
    MIN_GROWTH_PER_EPOCH,
)
from pricing.errors import (
    NoSolutionError,
    PricingInputError,
    finite,
    non_negative_int,
    positive,
    positive_int,
)
from pricing.futures import (
    EpochForecast,
    bme_settlement_btc_per_th_day,
    epoch_subsidy_btc,
    hashprice_settlement_sats_per_phd,
)
from pricing.solver import solve_bracketed


@dataclass(frozen=True, slots=True)
class BmeFuturesQuote:
    """A BME{14*T} futures price for the window of T epochs ending with ``settlement_epoch``."""

    settlement_epoch: int
    window_epochs: int
    price_btc_per_th_day: float

    def __post_init__(self) -> None:
        non_negative_int("settlement_epoch", self.settlement_epoch)
        positive_int("window_epochs", self.window_epochs)
        positive("price_btc_per_th_day", self.price_btc_per_th_day)


@dataclass(frozen=True, slots=True)
class DiffFuturesQuote:
    """A DIFF futures price: the difficulty fixed at the retarget starting ``settlement_epoch``."""

    settlement_epoch: int
    difficulty: float

    def __post_init__(self) -> None:
        non_negative_int("settlement_epoch", self.settlement_epoch)
        positive("difficulty", self.difficulty)


FuturesQuote = BmeFuturesQuote | DiffFuturesQuote


def _k(epoch: int) -> float:
    return BTC_PER_TH_DAY_PER_SUBSIDY_BTC * epoch_subsidy_btc(epoch)


def _diff_segment(difficulties: dict[int, float], last_pillar: int, quote: DiffFuturesQuote) -> float:
    steps = quote.settlement_epoch - last_pillar
    growth = (quote.difficulty / difficulties[last_pillar]) ** (1.0 / steps) - 1.0
    if not MIN_GROWTH_PER_EPOCH <= growth <= MAX_GROWTH_PER_EPOCH:
        raise NoSolutionError(
            "difficulty",
            quote.difficulty,
            f"has no solution: reaching it by epoch {quote.settlement_epoch} needs {growth:+.4f} "
            f"per epoch, outside the retarget clamp [{MIN_GROWTH_PER_EPOCH}, {MAX_GROWTH_PER_EPOCH}]",
        )
    return growth


def _solve_segment(
    difficulties: dict[int, float], last_pillar: int, quote: FuturesQuote
) -> float:
    if isinstance(quote, DiffFuturesQuote):
        return _diff_segment(difficulties, last_pillar, quote)
    first = quote.settlement_epoch - quote.window_epochs + 1
    if first < 0:
        raise PricingInputError("window_epochs", quote.window_epochs, "reaches before epoch 0")
    fixed = [e for e in range(first, last_pillar + 1)]
    missing = [e for e in fixed if e not in difficulties]
    if missing:
        raise PricingInputError(
            "known_difficulties", missing, "lacks epochs a quoted window needs"
        )
    fixed_part = sum(_k(e) / difficulties[e] for e in fixed)
    remaining = quote.window_epochs * quote.price_btc_per_th_day - fixed_part
    if remaining <= 0.0:
        raise NoSolutionError(
            "price_btc_per_th_day",
            quote.price_btc_per_th_day,
            f"has no solution: the fixed epochs of the window ending at {quote.settlement_epoch} "
            "already earn more than the quoted average",
        )
    base = difficulties[last_pillar]
    unknown = range(max(first, last_pillar + 1), quote.settlement_epoch + 1)
    log_terms = [(math.log(_k(e) / base), e - last_pillar) for e in unknown]
    log_target = math.log(remaining)

    def gap(growth: float) -> float:
        log_step = math.log1p(growth)
        exponents = [log_k - steps * log_step for log_k, steps in log_terms]
        top = max(exponents)
        return top + math.log(sum(math.exp(x - top) for x in exponents)) - log_target

    return solve_bracketed(
        gap,
        MIN_GROWTH_PER_EPOCH,
        MAX_GROWTH_PER_EPOCH,
        accuracy=GROWTH_ACCURACY,
        edge_tolerance=EDGE_TOLERANCE,
        field="price_btc_per_th_day",
        value=quote.price_btc_per_th_day,
        what=(
            f"the window ending at epoch {quote.settlement_epoch} needs a per-epoch growth "
            f"outside the retarget clamp [{MIN_GROWTH_PER_EPOCH}, {MAX_GROWTH_PER_EPOCH}]"
        ),
    )


@dataclass(frozen=True)
class DifficultyTermStructure:
    """Implied difficulty per epoch, from the current epoch to the last quoted settlement."""

    current_epoch: int
    difficulties: Mapping[int, float]
    pillars: tuple[int, ...]
    segment_growth: tuple[float, ...]

    @classmethod
    def from_quotes(
        cls, known_difficulties: Mapping[int, float], quotes: Sequence[FuturesQuote]
    ) -> DifficultyTermStructure:
        """Bootstrap from fixed difficulties (the latest is the current epoch) and quotes."""
        if not known_difficulties:
            raise PricingInputError("known_difficulties", known_difficulties, "must not be empty")
        table = {
            non_negative_int("epoch", e): positive(f"known_difficulties[{e}]", d)
            for e, d in known_difficulties.items()
        }
        current = max(table)
        if not quotes:
            raise PricingInputError("quotes", quotes, "must hold at least one quote")
        ordered = sorted(quotes, key=lambda q: q.settlement_epoch)
        pillars: list[int] = []
        growth: list[float] = []
        last = current
        for quote in ordered:
            if quote.settlement_epoch <= last:
                raise PricingInputError(
                    "quotes",
                    quote.settlement_epoch,
                    f"must settle after epoch {last} and at distinct epochs",
                )
            g = _solve_segment(table, last, quote)
            for e in range(last + 1, quote.settlement_epoch + 1):
                table[e] = table[last] * (1.0 + g) ** (e - last)
            pillars.append(quote.settlement_epoch)
            growth.append(g)
            last = quote.settlement_epoch
        return cls(current, MappingProxyType(table), tuple(pillars), tuple(growth))

    @property
    def last_epoch(self) -> int:
        return self.pillars[-1]

    def difficulty(self, epoch: int) -> float:
        """Known or implied difficulty of ``epoch`` (log-linear between pillars)."""
        if epoch not in self.difficulties:
            raise PricingInputError(
                "epoch", epoch, f"must be covered by the curve (up to {self.last_epoch})"
            )
        return self.difficulties[epoch]

    def growth_rate(self, epoch: int) -> float:
        """Implied growth into ``epoch``: D_epoch / D_(epoch-1) - 1."""
        return self.difficulty(epoch) / self.difficulty(epoch - 1) - 1.0

    def path(self, first: int, last: int) -> tuple[EpochForecast, ...]:
        """Per-epoch forecasts ``first..last`` (epochs up to the current one marked known)."""
        return tuple(
            EpochForecast(e, self.difficulty(e), known=e <= self.current_epoch)
            for e in range(first, last + 1)
        )

    def fair_difficulty(self, epoch: int) -> float:
        """Fair price of a DIFF future settling on ``epoch``'s retarget fixing."""
        return self.difficulty(epoch)

    def fair_bme(self, settlement_epoch: int, window_epochs: int) -> float:
        """Fair price of the BME{14*T} future whose window ends at ``settlement_epoch``."""
        first = settlement_epoch - positive_int("window_epochs", window_epochs) + 1
        return bme_settlement_btc_per_th_day(
            self.path(first, settlement_epoch), settlement_epoch, window_epochs
        )

    def fair_hashprice(
        self, days_by_epoch: Mapping[int, float], fees_per_block_sats: float = 0.0
    ) -> float:
        """Fair price of a HASHPRICE future averaging daily fixings over ``days_by_epoch``."""
        fees = finite("fees_per_block_sats", fees_per_block_sats)
        path = [
            EpochForecast(e, self.difficulty(e), fees_per_block_sats=fees)
            for e in sorted(days_by_epoch)
        ]
        return hashprice_settlement_sats_per_phd(path, days_by_epoch)

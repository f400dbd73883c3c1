"""Counterparty default as the first passage of a margined position's loss through its equity.

Model. An account holds ``equity_sats`` against a position of ``notional_sats`` whose value moves
as a driftless Brownian motion with daily volatility ``daily_vol`` (a fraction of notional), so the
loss after t days is ``L_t = notional * daily_vol * W_t``. Nobody adds collateral until a margin
call can be met: that is ``horizon_days`` of exposure plus ``cure_days`` granted to pay the call,
a window of ``T = horizon_days + cure_days`` days. The account defaults when the loss reaches its
equity at any time in the window; the position is closed out at the end of the window.

With ``s = notional * daily_vol * sqrt(T)`` and distance to default ``a = equity / s``:

* default probability (reflection principle): ``P = 2 * (1 - Phi(a))``;
* shortfall at close-out ``(L_T - equity)^+``, paid by protection up to ``protected_sats``; its
  mean is the Bachelier call spread ``C(equity) - C(equity + protected)`` with
  ``C(k) = s * phi(k/s) - k * (1 - Phi(k/s))``. Every path ending above the equity has crossed it,
  so the expected shortfall given default is that mean divided by P;
* flat hazard rate matching P over the window: ``-ln(1 - P) / (T / 365)`` per year.

:func:`simulate_default` checks the closed forms by seeded Monte Carlo; it conditions on the
Brownian bridge between grid points, so it is unbiased for continuous monitoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pricing.errors import PricingInputError, non_negative, positive, positive_int

DAYS_PER_YEAR = 365.0


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _normal_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _bachelier_call(scale: float, strike: float) -> float:
    """E[(scale * Z - strike)^+] for a standard normal Z."""
    z = strike / scale
    return scale * _normal_pdf(z) - strike * _normal_cdf(-z)


@dataclass(frozen=True, slots=True)
class DefaultRisk:
    """Default probability of a margined account over its window, and the loss it leaves."""

    probability: float
    expected_shortfall_sats: float  # given default, capped at the protected amount
    loss_given_default: float  # expected shortfall / protected amount
    hazard_rate_per_year: float
    distance_to_default: float
    window_days: float
    protected_sats: float


@dataclass(frozen=True)
class _Inputs:
    equity: float
    notional: float
    vol: float
    window: float
    protected: float

    @property
    def scale(self) -> float:
        return self.notional * self.vol * math.sqrt(self.window)


def _inputs(
    equity_sats: float,
    notional_sats: float,
    daily_vol: float,
    horizon_days: float,
    cure_days: float,
    protected_sats: float | None,
) -> _Inputs:
    equity = positive("equity_sats", equity_sats)
    notional = positive("notional_sats", notional_sats)
    vol = positive("daily_vol", daily_vol)
    horizon = positive("horizon_days", horizon_days)
    cure = non_negative("cure_days", cure_days)
    protected = notional if protected_sats is None else positive("protected_sats", protected_sats)
    return _Inputs(equity, notional, vol, horizon + cure, protected)


def default_risk(
    equity_sats: float,
    notional_sats: float,
    daily_vol: float,
    horizon_days: float,
    cure_days: float = 0,
    protected_sats: float | None = None,
) -> DefaultRisk:
    """Closed-form default probability, expected shortfall and hazard rate (module docstring)."""
    x = _inputs(equity_sats, notional_sats, daily_vol, horizon_days, cure_days, protected_sats)
    distance = x.equity / x.scale
    probability = 2.0 * _normal_cdf(-distance)
    covered = _bachelier_call(x.scale, x.equity) - _bachelier_call(x.scale, x.equity + x.protected)
    shortfall = covered / probability if probability > 0.0 else 0.0
    hazard = -math.log1p(-probability) / (x.window / DAYS_PER_YEAR) if probability < 1.0 else math.inf
    return DefaultRisk(
        probability=probability,
        expected_shortfall_sats=shortfall,
        loss_given_default=shortfall / x.protected,
        hazard_rate_per_year=hazard,
        distance_to_default=distance,
        window_days=x.window,
        protected_sats=x.protected,
    )


def default_probability(
    equity_sats: float,
    notional_sats: float,
    daily_vol: float,
    horizon_days: float,
    cure_days: float = 0,
) -> float:
    """Probability that the loss exceeds the equity before a margin call can be met."""
    return default_risk(equity_sats, notional_sats, daily_vol, horizon_days, cure_days).probability


@dataclass(frozen=True, slots=True)
class MonteCarloDefault:
    """Monte Carlo estimates with their standard errors."""

    probability: float
    probability_standard_error: float
    covered_shortfall_sats: float  # unconditional E[min((L_T - E)^+, protected)]
    covered_shortfall_standard_error: float
    paths: int


def simulate_default(
    equity_sats: float,
    notional_sats: float,
    daily_vol: float,
    horizon_days: float,
    cure_days: float = 0,
    protected_sats: float | None = None,
    *,
    paths: int = 20_000,
    steps: int = 32,
    seed: int = 0,
) -> MonteCarloDefault:
    """Seeded Monte Carlo of the same model, for checking the closed forms.

    Each path is sampled on ``steps`` grid points; the chance of crossing the equity between two
    points is the Brownian-bridge probability ``exp(-2 (E - L_k)(E - L_k+1) / var_step)``, so the
    per-path default probability ``1 - prod(1 - p_k)`` has the continuous-monitoring mean.
    """
    x = _inputs(equity_sats, notional_sats, daily_vol, horizon_days, cure_days, protected_sats)
    count = positive_int("paths", paths)
    if count < 2:
        raise PricingInputError("paths", paths, "must be at least 2")
    grid = positive_int("steps", steps)
    rng = np.random.default_rng(seed)
    step_var = x.scale**2 / grid
    losses = np.cumsum(rng.standard_normal((count, grid)) * math.sqrt(step_var), axis=1)
    before = np.concatenate([np.zeros((count, 1)), losses[:, :-1]], axis=1)
    gap_before, gap_after = x.equity - before, x.equity - losses
    crossed = (gap_before <= 0) | (gap_after <= 0)
    product = np.clip(gap_before, 0, None) * np.clip(gap_after, 0, None)
    bridge = np.where(crossed, 1.0, np.exp(-2.0 * product / step_var))
    default = 1.0 - np.prod(1.0 - bridge, axis=1)
    covered = np.clip(losses[:, -1] - x.equity, 0.0, x.protected)
    return MonteCarloDefault(
        probability=float(default.mean()),
        probability_standard_error=float(default.std(ddof=1) / math.sqrt(count)),
        covered_shortfall_sats=float(covered.mean()),
        covered_shortfall_standard_error=float(covered.std(ddof=1) / math.sqrt(count)),
        paths=count,
    )

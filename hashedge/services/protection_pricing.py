"""Protection priced by the pricing library: a reference account's default risk, the fair premium
and upfront of a quote, and the mark-to-market of a booked contract.

**Default risk of a reference account** (``pricing.default_model``, first passage): its equity at
the marks against the **exposure** of its margined positions (gross notional at the marks; capped
contracts are fully collateralized and cannot default), moving with the **daily volatility** of
their indices. That volatility is the one the governed margin was calibrated on: initial margin is
the 99% loss over 7 days (MARGIN.md), so the daily volatility it implies is
``initial ratio / (z_0.99 x sqrt(7))`` (2.44% a day for hashprice at 15%), fat tails included;
positions are weighted by notional. The window is one day of variation margin plus the two more a
liquidation may take (MARGIN.md's 3-day liquidation period): an account that meets its calls starts
every window with its equity restored, so the windows are renewals with a constant hazard
(``pricing.protection_premium``).

**Quote**: the ISDA engine turns hazard and recovery into the fair running premium to the tenor's
standard maturity (``premium_bps``, no upfront) and the upfront that makes the standard 100 bps
coupon fair (``upfront_sats``, the buyer pays when positive; rounded up, as anything charged).
``premium_bps x risky_pv01_sats = protection_leg_sats`` (the engine's own identity, tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from statistics import NormalDist

from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import AccountState, account_margin, notional_sats
from hashedge.domain.parameters import MARGIN_PERIOD_OF_RISK_DAYS, CALIBRATION_CONFIDENCE, RiskParameters
from pricing.cds import BASIS_POINT, price_cds, standard_maturity
from pricing.default_model import default_risk

STANDARD_COUPON_BPS = 100
HORIZON_DAYS = 1  # daily variation margin
CURE_DAYS = 2  # the rest of MARGIN.md's 3-day liquidation period
Z_99 = NormalDist().inv_cdf(CALIBRATION_CONFIDENCE)


def daily_vol(spec: ContractSpec, params: RiskParameters) -> float:
    """The daily volatility the product's initial margin implies (module docstring)."""
    initial = params.ratios(spec.product).initial
    return float(initial) / (Z_99 * math.sqrt(MARGIN_PERIOD_OF_RISK_DAYS))


@dataclass(frozen=True)
class ReferenceRisk:
    """What a quote reads of the reference account."""

    account_id: str
    equity_sats: int
    maintenance_margin_sats: int
    exposure_sats: int  # gross notional of its margined positions at the marks
    daily_vol: float  # notional-weighted

    @property
    def leverage(self) -> float:
        return self.exposure_sats / self.equity_sats if self.equity_sats > 0 else math.inf


def reference_risk(state: AccountState, marks, specs, params: RiskParameters) -> ReferenceRisk:
    summary = account_margin(state, marks, params, specs=specs)
    exposure, weighted = 0, 0.0
    for position in state.positions:
        spec = specs[position.instrument_id]
        if position.quantity == 0 or spec.is_capped:
            continue
        notional = notional_sats(spec, position.quantity, marks[position.instrument_id])
        exposure += notional
        weighted += notional * daily_vol(spec, params)
    return ReferenceRisk(state.account_id, summary.equity_sats, summary.maintenance_margin_sats, exposure,
                         weighted / exposure if exposure else 0.0)


@dataclass(frozen=True)
class FairQuote:
    trade_date: date
    maturity: date
    notional_sats: int
    premium_bps: Decimal  # fair running premium, no upfront
    standard_coupon_bps: int
    upfront_sats: int  # at the standard coupon: paid by the buyer when positive
    default_probability: float  # per window
    window_days: int
    hazard_rate_per_year: float
    recovery: float
    protection_leg_sats: float
    risky_pv01_sats: float  # the value of 1 bp a year of premium on the notional


PREMIUM_PLACES = 6  # published to 1e-6 bps


def _bps(value: float) -> Decimal:
    return Decimal(str(round(value, PREMIUM_PLACES)))


def fair_quote(risk_equity_sats: int, exposure_sats: int, vol: float, *, notional_sats: int, trade_date: date,
               tenor: str | None = None, maturity: date | None = None) -> FairQuote:
    """The fair premium and upfront for protection of ``notional_sats`` to the tenor's standard
    maturity (or to ``maturity``, a CDS date) on an account with that equity, exposure and daily
    volatility (module docstring): ``pricing.protection_premium``'s computation, which also takes
    a maturity date. An account without exposure cannot default: its premium is zero."""
    end = maturity if maturity is not None else standard_maturity(trade_date, tenor)
    coupon = STANDARD_COUPON_BPS * BASIS_POINT
    window = HORIZON_DAYS + CURE_DAYS
    if exposure_sats <= 0 or vol <= 0:
        cds = price_cds(trade_date=trade_date, maturity=end, notional=notional_sats, running_spread=coupon,
                        recovery=0.0, hazard_rate=0.0)
        return FairQuote(trade_date, cds.maturity, notional_sats, Decimal(0), STANDARD_COUPON_BPS,
                         math.ceil(cds.fair_upfront * notional_sats), 0.0, window, 0.0, 1.0, 0.0, cds.risky_pv01)
    risk = default_risk(risk_equity_sats, exposure_sats, vol, HORIZON_DAYS, CURE_DAYS, notional_sats)
    recovery = min(1.0 - risk.loss_given_default, 1.0 - 1e-12)
    hazard = risk.hazard_rate_per_year if risk.probability > 0.0 else 0.0
    cds = price_cds(trade_date=trade_date, maturity=end, notional=notional_sats, running_spread=coupon,
                    recovery=recovery, hazard_rate=hazard)
    return FairQuote(
        trade_date=trade_date, maturity=cds.maturity, notional_sats=notional_sats,
        premium_bps=_bps(cds.fair_spread / BASIS_POINT), standard_coupon_bps=STANDARD_COUPON_BPS,
        upfront_sats=math.ceil(cds.fair_upfront * notional_sats), default_probability=risk.probability,
        window_days=window, hazard_rate_per_year=hazard, recovery=recovery,
        protection_leg_sats=cds.protection_leg_npv, risky_pv01_sats=cds.risky_pv01)


def mark_to_market_sats(risk: ReferenceRisk, *, notional_sats: int, premium_bps: Decimal, valued_on: date,
                        maturity: date) -> Fraction:
    """What a booked contract is worth to its buyer (the seller's liability): the protection leg
    less the premium still to come, at the reference's default risk today; never below zero
    (collateral only ever rises to it)."""
    if valued_on >= maturity or risk.exposure_sats <= 0 or risk.equity_sats <= 0:
        return Fraction(0) if risk.equity_sats > 0 or risk.exposure_sats <= 0 else Fraction(notional_sats)
    window = default_risk(risk.equity_sats, risk.exposure_sats, risk.daily_vol, HORIZON_DAYS, CURE_DAYS,
                          notional_sats)
    if window.probability <= 0.0:
        return Fraction(0)
    recovery = min(max(1.0 - window.loss_given_default, 0.0), 1.0 - 1e-12)
    cds = price_cds(trade_date=valued_on, maturity=maturity, notional=notional_sats,
                    running_spread=max(float(premium_bps), 1e-6) * BASIS_POINT, recovery=recovery,
                    hazard_rate=window.hazard_rate_per_year)
    return max(Fraction(0), Fraction(cds.npv))  # protection leg + premium leg + accrual rebate

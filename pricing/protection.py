"""Fair running premium for default protection on a margined account.

A margined account meets each margin call and so starts every margin cycle with its equity
restored. Within one cycle losses run unchecked for ``horizon_days`` (the margin period: 1 for
daily margining) plus ``cure_days`` to pay the call; the first-passage model
(``pricing.default_model``) gives the probability P of defaulting within such a window and the
expected shortfall given default. Treating cycles as independent renewals gives a constant hazard

    lambda = -ln(1 - P) / (window_days / 365)  per year,

and the shortfall a recovery ``1 - shortfall / protected``. The standard CDS engine
(``pricing.cds``) turns both into the fair running spread to the tenor's standard maturity,
quoted in bps per year on the protected amount. For an account that never tops up, set
``horizon_days`` to the length of the protection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pricing.cds import BASIS_POINT, CdsResult, price_cds, standard_maturity
from pricing.default_model import DefaultRisk, default_risk
from pricing.quantlib_bridge import as_date


@dataclass(frozen=True, slots=True)
class ProtectionQuote:
    """Fair premium for protection on one account, with the figures that produced it."""

    premium_bps_per_year: float
    hazard_rate_per_year: float
    recovery: float
    maturity: dt.date
    default_risk: DefaultRisk  # per margin window
    cds: CdsResult | None  # None when the account cannot default at float precision


def protection_premium(
    *,
    equity_sats: float,
    notional_sats: float,
    daily_vol: float,
    trade_date: dt.date,
    tenor: str = "1Y",
    horizon_days: float = 1,
    cure_days: float = 0,
    protected_sats: float | None = None,
    discount_rate: float = 0.0,
    engine: str = "isda",
) -> ProtectionQuote:
    """Fair running premium (bps/year) for protection on the account (see the module docstring)."""
    day = as_date("trade_date", trade_date)
    maturity = standard_maturity(day, tenor)
    risk = default_risk(equity_sats, notional_sats, daily_vol, horizon_days, cure_days, protected_sats)
    recovery = 1.0 - risk.loss_given_default
    if risk.probability <= 0.0 or recovery >= 1.0:
        return ProtectionQuote(0.0, 0.0, 1.0, maturity, risk, None)
    cds = price_cds(
        trade_date=day,
        maturity=maturity,
        notional=risk.protected_sats,
        running_spread=BASIS_POINT,
        recovery=recovery,
        hazard_rate=risk.hazard_rate_per_year,
        discount_rate=discount_rate,
        engine=engine,
    )
    return ProtectionQuote(
        premium_bps_per_year=cds.fair_spread / BASIS_POINT,
        hazard_rate_per_year=risk.hazard_rate_per_year,
        recovery=recovery,
        maturity=maturity,
        default_risk=risk,
        cds=cds,
    )

"""Credit default swaps on QuantLib: the standard contract, priced with the ISDA or midpoint engine.

Contract conventions (ISDA standard model, "CDS2015" date rule): protection and premium accrual
start on the trade date; coupons are paid quarterly on the 20th of March, June, September and
December, adjusted Following on a weekends-only calendar; accrual Act/360, the last period Act/360
including its end date; the first coupon accrues from the previous 20th and the seller rebates
that accrued premium at cash settlement (trade date + 3 business days), when the upfront is paid
too; accrued premium is paid on default. A maturity given as a tenor ("5Y") rolls to the standard
CDS maturity; a maturity given as a date that is not a 20 Mar/Jun/Sep/Dec rolls forward to the next
one, as the CDS2015 rule does (the result reports the maturity used).

All leg values are signed from the holder's side (``side="buy"`` holds protection), so that
``npv = protection_leg_npv + premium_leg_npv + upfront_npv + accrual_rebate_npv``. ``accrued`` is
the premium accrued from the last coupon date through the step-in date (trade date + 1), which
the seller rebates at settlement; ``risky_pv01`` is the clean value of 1 bp a year of running
premium (premium leg net of that rebate, per bp), so ``fair_spread = protection_leg_npv /
(risky_pv01 * 10**4)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import QuantLib as ql

from pricing.curves import (
    CALENDAR,
    ENGINES,
    UPFRONT_SETTLEMENT_DAYS,
    DiscountCurve,
    HazardCurve,
    bootstrap_hazard_curve,
    flat_discount_curve,
    flat_hazard_curve,
    ql_discount_curve,
    ql_flat_discount_curve,
    ql_flat_hazard_curve,
    ql_hazard_curve,
)
from pricing.errors import (
    PricingInputError,
    finite,
    non_negative,
    one_of,
    positive,
    recovery_rate,
)
from pricing.quantlib_bridge import (
    as_date,
    evaluation_date,
    from_ql_date,
    parse_tenor,
    to_ql_date,
)

SIDES = ("buy", "sell")
BASIS_POINT = 1e-4
_COUPON_TENOR = ql.Period(3, ql.Months)
_ACCRUAL_DAY_COUNT = ql.Actual360()
_LAST_PERIOD_DAY_COUNT = ql.Actual360(True)  # the last period counts its end date


@dataclass(frozen=True, slots=True)
class CdsResult:
    """Valuation of one CDS, in units of ``notional`` (spreads and upfronts as decimals)."""

    side: str
    engine: str
    trade_date: dt.date
    maturity: dt.date
    notional: float
    running_spread: float
    upfront: float
    recovery: float
    npv: float
    fair_spread: float
    fair_upfront: float
    protection_leg_npv: float
    premium_leg_npv: float
    upfront_npv: float
    accrual_rebate_npv: float
    accrued: float
    risky_pv01: float
    survival_probability: float
    default_probability: float


def standard_maturity(trade_date: dt.date, tenor: str) -> dt.date:
    """Standard CDS maturity for ``tenor`` traded on ``trade_date`` (CDS2015 roll rule)."""
    day = as_date("trade_date", trade_date)
    if not isinstance(tenor, str):
        parse_tenor("maturity", tenor)  # raises the usual error (and keeps the cache's keys hashable)
    return _standard_maturity(day, tenor)


# Date rules are pure functions of their inputs, and a book prices many trades on a handful of
# (date, tenor) pairs: cached, they cost a dictionary lookup instead of QuantLib calls.
@functools.lru_cache(maxsize=4096)
def _standard_maturity(day: dt.date, tenor: str) -> dt.date:
    period = parse_tenor("maturity", tenor)
    return from_ql_date(ql.cdsMaturity(to_ql_date(day), period, ql.DateGeneration.CDS2015))


@functools.lru_cache(maxsize=1024)
def _cash_settlement_serial(day: dt.date) -> int:
    """The cash settlement date (trade date + 3 business days) as a QuantLib serial number."""
    return CALENDAR.advance(to_ql_date(day), UPFRONT_SETTLEMENT_DAYS, ql.Days).serialNumber()


def _maturity(trade_date: dt.date, maturity: dt.date | str) -> dt.date:
    end = (
        standard_maturity(trade_date, maturity)
        if isinstance(maturity, str)
        else as_date("maturity", maturity)
    )
    if end <= trade_date:
        raise PricingInputError("maturity", maturity, f"must be after the trade date {trade_date}")
    return end


def _hazard_curve(
    trade_date: dt.date,
    hazard_rate: float | None,
    par_spreads: Mapping[str, float] | None,
    hazard_curve: HazardCurve | None,
    recovery: float,
    discount: DiscountCurve,
    engine: str,
) -> HazardCurve:
    given = [x is not None for x in (hazard_rate, par_spreads, hazard_curve)]
    if sum(given) != 1:
        raise PricingInputError(
            "hazard_rate/par_spreads", None, "exactly one of them (or hazard_curve) must be given"
        )
    if hazard_rate is not None:
        return flat_hazard_curve(trade_date, hazard_rate)
    if par_spreads is not None:
        return bootstrap_hazard_curve(
            trade_date, recovery=recovery, discount=discount, par_spreads=par_spreads, engine=engine
        )
    assert hazard_curve is not None
    _check_dated("hazard_curve", hazard_curve.reference_date, trade_date)
    return hazard_curve


def _check_dated(field: str, reference_date: dt.date, trade_date: dt.date) -> None:
    if reference_date != trade_date:
        raise PricingInputError(field, reference_date, f"must be dated the trade date {trade_date}")


def _discount(
    trade_date: dt.date, discount_rate: float, discount_curve: DiscountCurve | None
) -> DiscountCurve:
    if discount_curve is None:
        return flat_discount_curve(trade_date, discount_rate)
    _check_dated("discount_curve", discount_curve.reference_date, trade_date)
    return discount_curve


@dataclass(frozen=True, slots=True)
class CdsTrade:
    """One standard CDS to value against a shared market (see :func:`price_cds_book`)."""

    maturity: dt.date | str
    notional: float
    running_spread: float
    side: str = "buy"
    upfront: float = 0.0


def price_cds(
    *,
    trade_date: dt.date,
    maturity: dt.date | str,
    notional: float,
    running_spread: float,
    recovery: float = 0.4,
    hazard_rate: float | None = None,
    par_spreads: Mapping[str, float] | None = None,
    discount_rate: float = 0.0,
    side: str = "buy",
    upfront: float = 0.0,
    engine: str = "isda",
    hazard_curve: HazardCurve | None = None,
    discount_curve: DiscountCurve | None = None,
) -> CdsResult:
    """Value a standard CDS; see the module docstring for the contract.

    Credit comes from a flat ``hazard_rate``, from ``par_spreads`` by tenor (bootstrapped with the
    same engine) or from a prebuilt ``hazard_curve``; discounting from a flat continuously
    compounded ``discount_rate`` or a ``discount_curve``. ``upfront`` is the fraction of notional
    the protection buyer pays at cash settlement.
    """
    (result,) = price_cds_book(
        [CdsTrade(maturity, notional, running_spread, side, upfront)],
        trade_date=trade_date,
        recovery=recovery,
        hazard_rate=hazard_rate,
        par_spreads=par_spreads,
        discount_rate=discount_rate,
        engine=engine,
        hazard_curve=hazard_curve,
        discount_curve=discount_curve,
    )
    return result


def price_cds_book(
    trades: Sequence[CdsTrade],
    *,
    trade_date: dt.date,
    recovery: float = 0.4,
    hazard_rate: float | None = None,
    par_spreads: Mapping[str, float] | None = None,
    discount_rate: float = 0.0,
    engine: str = "isda",
    hazard_curve: HazardCurve | None = None,
    discount_curve: DiscountCurve | None = None,
) -> tuple[CdsResult, ...]:
    """Value many CDS on one reference credit and one discount curve, sharing curves and engine."""
    day = as_date("trade_date", trade_date)
    recovery = recovery_rate("recovery", recovery)
    one_of("engine", engine, ENGINES)
    checked = [_check_trade(day, trade) for trade in trades]
    if hazard_rate is not None:
        non_negative("hazard_rate", hazard_rate)
    flat = hazard_rate is not None and par_spreads is None and hazard_curve is None and discount_curve is None
    if flat:  # the common case: QuantLib's flat curves built straight from the two rates
        finite("discount_rate", discount_rate)
    else:
        discount = _discount(day, discount_rate, discount_curve)
        credit = _hazard_curve(day, hazard_rate, par_spreads, hazard_curve, recovery, discount, engine)
    with evaluation_date(day) as today:
        if flat:
            probability = ql_flat_hazard_curve(today, hazard_rate)
            discount_handle = ql_flat_discount_curve(today, discount_rate)
        else:
            probability = ql_hazard_curve(credit)
            discount_handle = ql_discount_curve(discount)
        pricer = _engine(engine, probability, recovery, discount_handle)
        upfront_date = ql.Date(_cash_settlement_serial(day))
        legs: dict[dt.date, _CouponLegs] = {}  # trades maturing together share their schedule
        results = []
        for trade in checked:
            coupons = legs.get(trade.maturity)
            if coupons is None:
                coupons = legs[trade.maturity] = _coupon_legs(today, trade.maturity, probability)
            results.append(_value(today, upfront_date, day, trade, recovery, engine, coupons, pricer))
        return tuple(results)


def _check_trade(trade_date: dt.date, trade: CdsTrade) -> CdsTrade:
    return CdsTrade(
        maturity=_maturity(trade_date, trade.maturity),
        notional=positive("notional", trade.notional),
        running_spread=positive("running_spread", trade.running_spread),
        side=one_of("side", trade.side, SIDES),
        upfront=finite("upfront", trade.upfront),
    )


def _engine(
    engine: str,
    probability: ql.DefaultProbabilityTermStructureHandle,
    recovery: float,
    discount: ql.YieldTermStructureHandle,
) -> ql.PricingEngine:
    if engine == "isda":
        return ql.IsdaCdsEngine(
            probability, recovery, discount, False,
            ql.IsdaCdsEngine.Taylor, ql.IsdaCdsEngine.HalfDayBias, ql.IsdaCdsEngine.Piecewise,
        )
    return ql.MidPointCdsEngine(probability, recovery, discount)


@dataclass(frozen=True, slots=True)
class _CouponLegs:
    """What every trade maturing on one date shares: the coupon schedule (QuantLib schedules are
    immutable), the maturity it ends on, and the survival probability to it."""

    schedule: ql.Schedule
    maturity: dt.date
    survival: float


def _coupon_legs(
    today: ql.Date, maturity: dt.date, probability: ql.DefaultProbabilityTermStructureHandle
) -> _CouponLegs:
    schedule = ql.Schedule(
        today, to_ql_date(maturity), _COUPON_TENOR, CALENDAR, ql.Following,
        ql.Unadjusted, ql.DateGeneration.CDS2015, False,
    )
    end = schedule.endDate()
    return _CouponLegs(schedule, from_ql_date(end), probability.survivalProbability(end))


def _value(
    today: ql.Date,
    upfront_date: ql.Date,
    trade_date: dt.date,
    trade: CdsTrade,
    recovery: float,
    engine: str,
    coupons: _CouponLegs,
    pricer: ql.PricingEngine,
) -> CdsResult:
    cds = ql.CreditDefaultSwap(
        ql.Protection.Buyer if trade.side == "buy" else ql.Protection.Seller,
        trade.notional, trade.upfront, trade.running_spread, coupons.schedule, ql.Following,
        _ACCRUAL_DAY_COUNT, True, True, today, upfront_date, None, _LAST_PERIOD_DAY_COUNT, True, today,
        UPFRONT_SETTLEMENT_DAYS,
    )
    cds.setPricingEngine(pricer)
    survival = coupons.survival
    npv = cds.NPV()
    premium_leg, accrual_rebate = cds.couponLegNPV(), cds.accrualRebateNPV()
    fair_spread = cds.fairSpread()
    fair_upfront = cds.fairUpfront()
    if not (math.isfinite(npv) and math.isfinite(fair_spread) and math.isfinite(fair_upfront)):
        raise PricingInputError("inputs", trade, "produce a non-finite CDS value")
    return CdsResult(
        side=trade.side,
        engine=engine,
        trade_date=trade_date,
        maturity=coupons.maturity,
        notional=trade.notional,
        running_spread=trade.running_spread,
        upfront=trade.upfront,
        recovery=recovery,
        npv=npv,
        fair_spread=fair_spread,
        fair_upfront=fair_upfront,
        protection_leg_npv=cds.defaultLegNPV(),
        premium_leg_npv=premium_leg,
        upfront_npv=cds.upfrontNPV(),
        accrual_rebate_npv=accrual_rebate,
        accrued=cds.accrualRebate().amount(),
        risky_pv01=abs(premium_leg + accrual_rebate) / trade.running_spread * BASIS_POINT,
        survival_probability=survival,
        default_probability=1.0 - survival,
    )


def implied_hazard_rate(
    *,
    trade_date: dt.date,
    maturity: dt.date | str,
    running_spread: float,
    recovery: float = 0.4,
    discount_rate: float = 0.0,
    discount_curve: DiscountCurve | None = None,
    engine: str = "isda",
) -> float:
    """Flat hazard rate at which a CDS paying ``running_spread`` is at par (NPV zero).

    With ``engine="isda"`` this is the market's conventional-spread-to-hazard conversion: a quoted
    ("conventional") spread becomes a flat hazard rate, and the standard-coupon contract priced on
    it gives the upfront.
    """
    day = as_date("trade_date", trade_date)
    end = _maturity(day, maturity)
    spread = positive("running_spread", running_spread)
    recovery = recovery_rate("recovery", recovery)
    one_of("engine", engine, ENGINES)
    discount = _discount(day, discount_rate, discount_curve)
    model = ql.CreditDefaultSwap.ISDA if engine == "isda" else ql.CreditDefaultSwap.Midpoint
    with evaluation_date(day) as today:
        schedule = ql.Schedule(
            today, to_ql_date(end), _COUPON_TENOR, CALENDAR, ql.Following,
            ql.Unadjusted, ql.DateGeneration.CDS2015, False,
        )
        cds = ql.CreditDefaultSwap(
            ql.Protection.Buyer, 1.0, 0.0, spread, schedule, ql.Following, _ACCRUAL_DAY_COUNT,
            True, True, today, CALENDAR.advance(today, UPFRONT_SETTLEMENT_DAYS, ql.Days), None,
            _LAST_PERIOD_DAY_COUNT, True, today, UPFRONT_SETTLEMENT_DAYS,
        )
        try:
            return cds.impliedHazardRate(
                0.0, ql_discount_curve(discount), ql.Actual365Fixed(), recovery, 1e-12, model
            )
        except RuntimeError as error:
            raise PricingInputError(
                "running_spread", running_spread, f"has no implied hazard rate ({error})"
            ) from None


STANDARD_COUPONS = (0.0025, 0.01, 0.05, 0.10)  # 25, 100, 500 and 1000 bps running


def standard_upfront(
    *,
    trade_date: dt.date,
    maturity: dt.date | str,
    quoted_spread: float,
    coupon: float = 0.01,
    recovery: float = 0.4,
    discount_rate: float = 0.0,
    discount_curve: DiscountCurve | None = None,
) -> float:
    """Upfront (fraction of notional, paid by the buyer) of a standard-coupon CDS quoted in spread.

    The ISDA conversion: the quoted spread gives a flat hazard rate (:func:`implied_hazard_rate`,
    ISDA engine) on which the contract paying the standard ``coupon`` is valued.
    """
    hazard = implied_hazard_rate(
        trade_date=trade_date, maturity=maturity, running_spread=quoted_spread, recovery=recovery,
        discount_rate=discount_rate, discount_curve=discount_curve,
    )
    return price_cds(
        trade_date=trade_date, maturity=maturity, notional=1.0, running_spread=coupon,
        recovery=recovery, hazard_rate=hazard, discount_rate=discount_rate,
        discount_curve=discount_curve,
    ).fair_upfront

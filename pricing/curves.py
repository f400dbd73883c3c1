"""Discount and hazard curves as plain data, and the QuantLib term structures behind them.

Curves leave this module as frozen dataclasses of dates and numbers; QuantLib objects are built
from them inside an evaluation-date scope only (``ql_discount_curve``/``ql_hazard_curve``), always
with fixed reference dates, so a curve means the same thing whatever QuantLib's global date is.

* Discount: flat continuously compounded (Act/365F), or bootstrapped from deposit (Act/360, T+2,
  Modified Following) and swap quotes (semiannual 30/360 fixed against 3M, as the ISDA standard
  model's USD curve), log-linear in discount factors.
* Hazard: flat, or piecewise flat bootstrapped from CDS par spreads or from upfront quotes at a
  standard coupon. Helpers use the same standard contract as ``pricing.cds`` (CDS2015 dates,
  quarterly, Act/360, Following, last period Act/360 inclusive, protection from the trade date)
  and the pricing model is passed explicitly: QuantLib's helpers default to the midpoint model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import QuantLib as ql

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
    tenor_sort_key,
    to_ql_date,
)

ENGINES = ("isda", "midpoint")
CURVE_DAY_COUNT = ql.Actual365Fixed()
CALENDAR = ql.WeekendsOnly()
UPFRONT_SETTLEMENT_DAYS = 3


@dataclass(frozen=True, slots=True)
class DiscountCurve:
    """Flat (``flat_rate`` set) or log-linear in discount factors through ``nodes``."""

    reference_date: dt.date
    flat_rate: float | None = None
    nodes: tuple[tuple[dt.date, float], ...] = ()

    def __post_init__(self) -> None:
        as_date("reference_date", self.reference_date)
        if self.flat_rate is not None:
            finite("flat_rate", self.flat_rate)
            if self.nodes:
                raise PricingInputError("nodes", self.nodes, "must be empty for a flat curve")
            return
        dates = [as_date("nodes date", d) for d, _ in self.nodes]
        if not dates or dates[0] != self.reference_date or dates != sorted(set(dates)):
            raise PricingInputError(
                "nodes", self.nodes, "must start at the reference date with increasing dates"
            )
        for _, factor in self.nodes:
            positive("discount factor", factor)
        if self.nodes[0][1] != 1.0:
            raise PricingInputError("nodes", self.nodes, "must start with a discount factor of 1")


@dataclass(frozen=True, slots=True)
class HazardCurve:
    """Piecewise-flat hazard rates: ``hazard_rates[i]`` applies up to ``dates[i]``, flat after."""

    reference_date: dt.date
    dates: tuple[dt.date, ...]
    hazard_rates: tuple[float, ...]

    def __post_init__(self) -> None:
        as_date("reference_date", self.reference_date)
        dates = [as_date("dates", d) for d in self.dates]
        if not dates or dates[0] != self.reference_date or dates != sorted(set(dates)):
            raise PricingInputError(
                "dates", self.dates, "must start at the reference date and increase"
            )
        if len(self.hazard_rates) != len(dates):
            raise PricingInputError("hazard_rates", self.hazard_rates, "must match the dates")
        for rate in self.hazard_rates:
            non_negative("hazard_rates", rate)

    def survival_probability(self, date: dt.date) -> float:
        with evaluation_date(self.reference_date):
            return ql_hazard_curve(self).survivalProbability(to_ql_date(as_date("date", date)))


def flat_discount_curve(reference_date: dt.date, rate: float) -> DiscountCurve:
    return DiscountCurve(as_date("reference_date", reference_date), finite("discount_rate", rate))


def flat_hazard_curve(reference_date: dt.date, hazard_rate: float) -> HazardCurve:
    day = as_date("reference_date", reference_date)
    return HazardCurve(day, (day,), (non_negative("hazard_rate", hazard_rate),))


def ql_flat_discount_curve(reference: ql.Date, rate: float) -> ql.YieldTermStructureHandle:
    """A flat continuously compounded curve (defined for every date); ``rate`` already checked."""
    return ql.YieldTermStructureHandle(ql.FlatForward(reference, rate, CURVE_DAY_COUNT, ql.Continuous))


def ql_flat_hazard_curve(reference: ql.Date, hazard_rate: float) -> ql.DefaultProbabilityTermStructureHandle:
    """A flat hazard rate (defined for every date); ``hazard_rate`` already checked."""
    return ql.DefaultProbabilityTermStructureHandle(
        ql.FlatHazardRate(reference, ql.QuoteHandle(ql.SimpleQuote(hazard_rate)), CURVE_DAY_COUNT)
    )


def ql_discount_curve(curve: DiscountCurve) -> ql.YieldTermStructureHandle:
    if curve.flat_rate is not None:
        return ql_flat_discount_curve(to_ql_date(curve.reference_date), curve.flat_rate)
    dates = [to_ql_date(d) for d, _ in curve.nodes]
    term = ql.DiscountCurve(dates, [df for _, df in curve.nodes], CURVE_DAY_COUNT)
    term.enableExtrapolation()
    return ql.YieldTermStructureHandle(term)


def ql_hazard_curve(curve: HazardCurve) -> ql.DefaultProbabilityTermStructureHandle:
    if len(curve.dates) == 1:
        return ql_flat_hazard_curve(to_ql_date(curve.reference_date), curve.hazard_rates[0])
    term = ql.HazardRateCurve(
        [to_ql_date(d) for d in curve.dates], list(curve.hazard_rates), CURVE_DAY_COUNT
    )
    term.enableExtrapolation()
    return ql.DefaultProbabilityTermStructureHandle(term)


def _sorted_quotes(field: str, quotes: Mapping[str, float]) -> list[tuple[str, ql.Period, float]]:
    if not isinstance(quotes, Mapping) or not quotes:
        raise PricingInputError(field, quotes, "must map tenors such as '5Y' to quotes")
    parsed = []
    for tenor, quote in quotes.items():
        period = parse_tenor(f"{field} tenor", tenor)
        parsed.append((tenor, period, finite(f"{field}[{tenor!r}]", quote)))
    parsed.sort(key=lambda item: tenor_sort_key(item[0]))
    keys = [tenor_sort_key(t) for t, _, _ in parsed]
    if len(set(keys)) != len(keys):
        raise PricingInputError(field, list(quotes), "must not quote the same tenor twice")
    return parsed


def bootstrap_discount_curve(
    reference_date: dt.date,
    deposits: Mapping[str, float],
    swaps: Mapping[str, float] | None = None,
) -> DiscountCurve:
    """Discount factors from deposit and par swap rates (decimals), as of ``reference_date``."""
    day = as_date("reference_date", reference_date)
    deposit_quotes = _sorted_quotes("deposits", deposits)
    swap_quotes = _sorted_quotes("swaps", swaps) if swaps else []
    with evaluation_date(day) as today:
        helpers: list[ql.RateHelper] = [
            ql.DepositRateHelper(
                rate, period, 2, CALENDAR, ql.ModifiedFollowing, False, ql.Actual360()
            )
            for _, period, rate in deposit_quotes
        ]
        ibor = ql.IborIndex(
            "IsdaIbor", ql.Period(3, ql.Months), 2, ql.USDCurrency(), CALENDAR,
            ql.ModifiedFollowing, False, ql.Actual360(),
        )
        helpers += [
            ql.SwapRateHelper(
                rate, period, CALENDAR, ql.Semiannual, ql.ModifiedFollowing,
                ql.Thirty360(ql.Thirty360.BondBasis), ibor,
            )
            for _, period, rate in swap_quotes
        ]
        curve = ql.PiecewiseLogLinearDiscount(today, helpers, CURVE_DAY_COUNT)
        try:
            nodes = tuple((from_ql_date(d), float(df)) for d, df in curve.nodes())
        except RuntimeError as error:
            raise PricingInputError(
                "deposits/swaps", dict(deposits), f"cannot be bootstrapped: {error}"
            ) from None
    return DiscountCurve(day, None, nodes)


def _cds_model(engine: str) -> int:
    one_of("engine", engine, ENGINES)
    return ql.CreditDefaultSwap.ISDA if engine == "isda" else ql.CreditDefaultSwap.Midpoint


def bootstrap_hazard_curve(
    trade_date: dt.date,
    *,
    recovery: float,
    discount: DiscountCurve,
    par_spreads: Mapping[str, float] | None = None,
    upfront_quotes: Mapping[str, float] | None = None,
    coupon: float = 0.01,
    engine: str = "isda",
) -> HazardCurve:
    """Piecewise-flat hazard curve repricing each quoted standard CDS exactly.

    ``par_spreads`` maps tenors to running par spreads; ``upfront_quotes`` maps tenors to upfront
    fractions paid by the protection buyer on contracts with running ``coupon`` (e.g. 0.01 or
    0.05). Exactly one of them must be given. ``engine`` selects the model the quotes are
    understood in ("isda", the market standard, or "midpoint").
    """
    day = as_date("trade_date", trade_date)
    recovery = recovery_rate("recovery", recovery)
    model = _cds_model(engine)
    if (par_spreads is None) == (upfront_quotes is None):
        raise PricingInputError(
            "par_spreads/upfront_quotes", None, "exactly one quote set must be given"
        )
    with evaluation_date(day) as today:
        discount_handle = ql_discount_curve(discount)
        common = (CALENDAR, ql.Quarterly, ql.Following, ql.DateGeneration.CDS2015, ql.Actual360(),
                  recovery, discount_handle)
        if par_spreads is not None:
            quotes = _sorted_quotes("par_spreads", par_spreads)
            for tenor, _, spread in quotes:
                if spread <= 0.0:
                    raise PricingInputError(f"par_spreads[{tenor!r}]", spread, "must be positive")
            helpers = [
                ql.SpreadCdsHelper(spread, period, 0, *common, True, True, ql.Date(),
                                   ql.Actual360(True), True, model)
                for _, period, spread in quotes
            ]
        else:
            running = finite("coupon", coupon)
            if running <= 0.0:
                raise PricingInputError("coupon", coupon, "must be positive")
            quotes = _sorted_quotes("upfront_quotes", upfront_quotes)  # type: ignore[arg-type]
            helpers = [
                ql.UpfrontCdsHelper(upfront, running, period, 0, *common, UPFRONT_SETTLEMENT_DAYS,
                                    True, True, ql.Date(), ql.Actual360(True), True, model)
                for _, period, upfront in quotes
            ]
        curve = ql.PiecewiseFlatHazardRate(today, helpers, CURVE_DAY_COUNT)
        try:
            nodes = curve.nodes()
        except RuntimeError as error:
            raise PricingInputError(
                "par_spreads" if par_spreads is not None else "upfront_quotes",
                dict(par_spreads or upfront_quotes or {}),
                f"admit no hazard curve: a forward default intensity between two pillars would have to be "
                f"negative or beyond the solver's bound; the quotes are not arbitrage-free at this "
                f"recovery ({error})",
            ) from None
    return HazardCurve(
        day, tuple(from_ql_date(d) for d, _ in nodes), tuple(float(h) for _, h in nodes)
    )

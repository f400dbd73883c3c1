"""The governed risk parameters: documented defaults, hard bounds, and the margin calibration.

``RiskParameters`` is one frozen object with every number the margin engine, the fee schedule,
the OTC desk and the mark rule read. Governance changes it through the registry names of
``as_registry`` / ``from_registry``; a value outside its hard bound is refused with
``ParameterOutOfBounds`` whatever the vote says.

Margin defaults (``hashedge/domain/MARGIN.md`` has the data, the numbers and the comparison
with market practice). The recipe, applied by ``calibrated_margin`` to ``pricing.margin_ratio`` on
each calibration window (``pricing.calibration_windows``: the current halving era and a stressed
window, the era holding the largest one-epoch fall of difficulty on record):

- initial margin = the 99% worst loss over a **7-day margin period of risk** (daily variation
  margin, a day to meet a call, days to close out in a thin book), the **larger over the
  windows**, rounded up to a whole percent: a calm current era never lowers margins below what
  the worst known shock needs (anti-procyclicality, as EMIR RTS 153/2013 art. 28 asks of CCPs);
- maintenance margin = **two thirds** of initial, rounded up to a whole percent, and never less
  than the larger 99% loss over the **3 days** a liquidation may take (which does not bind today).

=================  =======  ===========  ================================================
product            initial  maintenance  set by (figures: MARGIN.md, generated from data)
=================  =======  ===========  ================================================
HASHPRICE_MONTHLY  15.0%    10.0%        the stressed window (6.25 BTC era), HASHPRICE
BME14_EPOCH        15.0%    10.0%        the stressed window (6.25 BTC era), BME14
DIFF_EPOCH         13.0%    9.0%         the stressed window (6.25 BTC era), DIFF
BME14_CAPPED       n/a      n/a          fully collateralized: the whole range
=================  =======  ===========  ================================================

Other defaults: maker fee 2 bps, taker fee 5 bps of notional (rounded up to the sat); OTC block
trades within 5% of the mark; market orders checked (and protected by the service) at 5% from
the mark; limit orders within 20% of the mark; the mark rule and its numbers are in
``MARKS.md`` (beside ``marks.py``): the model anchors the mark, and only real two-sided depth of
at least 0.5 BTC a side within 5% of the model moves it, never beyond 4% of the model (the
smallest initial - maintenance gap) and by at most 1% of the model per re-mark. Liquidation
(``liquidation/`` and LIQUIDATION.md): a penalty of 1% of the notional closed, steps of 10% of a
position, a buffer of 4% of notional above maintenance, the book taken within 3% of the mark; each
date's penalties split 40% to the takers of the liquidation fills, 10% to the defaulted accounts'
OTC counterparties, 40% to the insurance fund and 10% to the community fund. The backstop pool
(``backstop/`` and BACKSTOP.md): withdrawals after 7 days, takeovers at the mark less 1%, at most 1%
of its NAV taken over and 1% paid for a shortfall per liquidation, at most 50% of its NAV in one
contract, a tenth of each position offered back to the book at the mark each hour. Default
protection (``protection/PROTECTION.md``): sellers post 50% of the notional (Carapace keeps sellers' capital at
50% of protection sold), raised to the mark-to-market; a booked premium within 50% (at least 25 bps)
of the fair one; the insurance fund sells protection of last resort on up to 25% of its balance, at
no less than 200 bps a year.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from types import MappingProxyType

from hashedge.domain.errors import DomainError, InvalidValue
from hashedge.domain.instruments import Product
from hashedge.domain.units import require_price

# --- the calibration recipe ---------------------------------------------------------------------

CALIBRATION_CONFIDENCE = 0.99
MARGIN_PERIOD_OF_RISK_DAYS = 7
LIQUIDATION_PERIOD_DAYS = 3
MAINTENANCE_FRACTION = Fraction(2, 3)
RATIO_STEP = Decimal("0.01")
CALIBRATION_INDEX = {
    Product.HASHPRICE_MONTHLY: "HASHPRICE",
    Product.BME14_EPOCH: "BME14",
    Product.DIFF_EPOCH: "DIFF",
}
FULLY_COLLATERALIZED = frozenset({Product.BME14_CAPPED})


class MarkAnchoring(str, Enum):
    """How the mark uses the order book and recent trades (``marks``, MARKS.md). Whatever the
    choice, only qualifying depth counts and the mark stays within the mark band of the model."""

    MEDIAN = "median"  # median of model, model clipped into the robust book, recent-trade average
    MODEL_CLIPPED_TO_BOOK = "model_clipped_to_book"  # model clipped into the robust (qualifying) book
    BOOK_MID = "book_mid"  # mid of the robust bid and ask
    MODEL_ONLY = "model_only"  # ignore the book


@dataclass(frozen=True)
class MarginRatios:
    """Initial and maintenance margin as fractions of notional (0.15 = 15%)."""

    initial: Decimal
    maintenance: Decimal


@dataclass(frozen=True)
class Bound:
    low: Decimal
    high: Decimal

    def __contains__(self, value: object) -> bool:
        return isinstance(value, Decimal) and self.low <= value <= self.high


class ParameterOutOfBounds(DomainError, ValueError):
    """A parameter value outside its hard bound (or breaking a rule between parameters)."""

    def __init__(self, name: str, value: object, low: object, high: object, reason: str = ""):
        super().__init__(f"parameter {name}={value} is outside its bound [{low}, {high}]"
                         + (f": {reason}" if reason else ""))
        self.name, self.value, self.low, self.high = name, value, low, high


BOUNDS = {
    "margin.initial": Bound(Decimal("0.05"), Decimal(1)),  # >= the 1-day 99% move (5.2%, stressed window)
    "margin.maintenance": Bound(Decimal("0.025"), Decimal(1)),  # and never above initial
    "fees.maker_bps": Bound(Decimal(0), Decimal(50)),
    "fees.taker_bps": Bound(Decimal(0), Decimal(100)),
    "otc.band_ratio": Bound(Decimal("0.005"), Decimal("0.25")),
    "orders.market_band_ratio": Bound(Decimal("0.005"), Decimal("0.25")),
    # limit orders: at least the market-order band (checked below), at most twice the mark
    "orders.price_band_ratio": Bound(Decimal("0.02"), Decimal(1)),
    # marks (MARKS.md): 0.01 BTC to 100 BTC of depth a side; bands up to 25%; 0 = model only
    "mark.min_book_notional_sats": Bound(Decimal(1_000_000), Decimal(10_000_000_000)),
    "mark.book_band_ratio": Bound(Decimal("0.005"), Decimal("0.25")),
    "mark.band_ratio": Bound(Decimal(0), Decimal("0.25")),
    "mark.max_change_ratio": Bound(Decimal("0.001"), Decimal("0.25")),
    "mark.trade_window_minutes": Bound(Decimal(1), Decimal(1440)),
    # liquidation (LIQUIDATION.md): a penalty of at most 5% (and below every maintenance ratio,
    # checked below); steps of 1% to all of a position; a buffer of up to 10% of notional
    "liquidation.penalty_ratio": Bound(Decimal(0), Decimal("0.05")),
    "liquidation.step_fraction": Bound(Decimal("0.01"), Decimal(1)),
    "liquidation.buffer_ratio": Bound(Decimal(0), Decimal("0.1")),
    "liquidation.book_band_ratio": Bound(Decimal("0.001"), Decimal("0.25")),
    # the nightly penalty split: shares of one, summing to exactly one (checked below)
    "penalty.split.takers": Bound(Decimal(0), Decimal(1)),
    "penalty.split.otc_counterparties": Bound(Decimal(0), Decimal(1)),
    "penalty.split.insurance_fund": Bound(Decimal(0), Decimal(1)),
    "penalty.split.community_fund": Bound(Decimal(0), Decimal(1)),
    # the backstop pool (BACKSTOP.md §5): a withdrawal delay of 1 to 30 days (Drift 13, HLP 4); a
    # takeover discount of at most 5%; per-liquidation caps of at most a quarter of the NAV taken
    # over (1% by default: the stress runs of BACKSTOP.md §7) and 5% of it paid for a shortfall; at
    # most twice the NAV of exposure in one instrument
    "pool.withdrawal_delay_days": Bound(Decimal(1), Decimal(30)),
    "pool.takeover_discount_ratio": Bound(Decimal(0), Decimal("0.05")),
    "pool.max_takeover_ratio": Bound(Decimal("0.001"), Decimal("0.25")),
    "pool.max_instrument_ratio": Bound(Decimal("0.01"), Decimal(2)),
    "pool.max_loss_ratio": Bound(Decimal(0), Decimal("0.05")),
    "pool.unwind_fraction": Bound(Decimal("0.01"), Decimal(1)),
    # the nightly fee split (fee_distribution.py): shares of one, summing to exactly one
    "fees.split.makers": Bound(Decimal(0), Decimal(1)),
    "fees.split.insurance_fund": Bound(Decimal(0), Decimal(1)),
    "fees.split.community_fund": Bound(Decimal(0), Decimal(1)),
    "fees.split.backstop_pool": Bound(Decimal(0), Decimal(1)),
    # governance (governance/GOVERNANCE.md; Aragon, Compound Governor Bravo): support and quorum
    # strictly above a share of at least one half; voting 1-14 days; a timelock of 2-30 days
    "governance.support_ratio": Bound(Decimal("0.5"), Decimal("0.9")),
    "governance.quorum_ratio": Bound(Decimal("0.5"), Decimal("0.9")),
    "governance.proposal_threshold_ratio": Bound(Decimal("0.001"), Decimal("0.25")),
    "governance.voting_period_days": Bound(Decimal(1), Decimal(14)),
    "governance.timelock_days": Bound(Decimal(2), Decimal(30)),
    "governance.execution_grace_days": Bound(Decimal(1), Decimal(30)),
    "governance.margin_step_ratio": Bound(Decimal("0.01"), Decimal(1)),
    # default protection (protection/PROTECTION.md): sellers post 10% to 100% of the notional; a
    # booked premium within a band around the fair one; the insurance fund sells protection of
    # last resort on at most its whole balance, at a premium of at most 100% a year
    "protection.collateral_ratio": Bound(Decimal("0.1"), Decimal(1)),
    "protection.premium_band_ratio": Bound(Decimal(0), Decimal(1)),
    "protection.premium_band_min_bps": Bound(Decimal(0), Decimal(1000)),
    "protection.fund_capacity_ratio": Bound(Decimal(0), Decimal(1)),
    "protection.fund_min_premium_bps": Bound(Decimal(0), Decimal(10000)),
}

# Registry name -> attribute of the scalar (non-margin) parameters; whole numbers are marked.
SCALARS = {
    "fees.maker_bps": "maker_fee_bps",
    "fees.taker_bps": "taker_fee_bps",
    "otc.band_ratio": "otc_band_ratio",
    "orders.market_band_ratio": "market_order_band_ratio",
    "orders.price_band_ratio": "order_price_band_ratio",
    "mark.min_book_notional_sats": "mark_min_book_notional_sats",
    "mark.book_band_ratio": "mark_book_band_ratio",
    "mark.band_ratio": "mark_band_ratio",
    "mark.max_change_ratio": "mark_max_change_ratio",
    "mark.trade_window_minutes": "mark_trade_window_minutes",
    "liquidation.penalty_ratio": "liquidation_penalty_ratio",
    "liquidation.step_fraction": "liquidation_step_fraction",
    "liquidation.buffer_ratio": "liquidation_buffer_ratio",
    "liquidation.book_band_ratio": "liquidation_book_band_ratio",
    "penalty.split.takers": "penalty_split_takers",
    "penalty.split.otc_counterparties": "penalty_split_otc_counterparties",
    "penalty.split.insurance_fund": "penalty_split_insurance_fund",
    "penalty.split.community_fund": "penalty_split_community_fund",
    "pool.withdrawal_delay_days": "pool_withdrawal_delay_days",
    "pool.takeover_discount_ratio": "pool_takeover_discount_ratio",
    "pool.max_takeover_ratio": "pool_max_takeover_ratio",
    "pool.max_instrument_ratio": "pool_max_instrument_ratio",
    "pool.max_loss_ratio": "pool_max_loss_ratio",
    "pool.unwind_fraction": "pool_unwind_fraction",
    "fees.split.makers": "fee_split_makers",
    "fees.split.insurance_fund": "fee_split_insurance_fund",
    "fees.split.community_fund": "fee_split_community_fund",
    "fees.split.backstop_pool": "fee_split_backstop_pool",
    "governance.support_ratio": "governance_support_ratio",
    "governance.quorum_ratio": "governance_quorum_ratio",
    "governance.proposal_threshold_ratio": "governance_proposal_threshold_ratio",
    "governance.voting_period_days": "governance_voting_period_days",
    "governance.timelock_days": "governance_timelock_days",
    "governance.execution_grace_days": "governance_execution_grace_days",
    "governance.margin_step_ratio": "governance_margin_step_ratio",
    "governance.risk_committee": "governance_risk_committee",
    "protection.collateral_ratio": "protection_collateral_ratio",
    "protection.premium_band_ratio": "protection_premium_band_ratio",
    "protection.premium_band_min_bps": "protection_premium_band_min_bps",
    "protection.fund_capacity_ratio": "protection_fund_capacity_ratio",
    "protection.fund_min_premium_bps": "protection_fund_min_premium_bps",
}
WHOLE_NUMBERS = frozenset({"mark.min_book_notional_sats", "mark.trade_window_minutes", "pool.withdrawal_delay_days",
                           "governance.voting_period_days", "governance.timelock_days",
                           "governance.execution_grace_days"})
# Text parameters (no numeric bound): the mark rule's name and the risk committee's desk usernames
TEXT_PARAMETERS = frozenset({"mark.anchoring", "governance.risk_committee"})
USERNAME = re.compile(r"[a-z0-9_.-]{1,64}")


def round_up_to_step(ratio: float | Fraction | Decimal, step: Decimal = RATIO_STEP) -> Decimal:
    """``ratio`` rounded up to a multiple of ``step`` (e.g. 0.1447 -> 0.15)."""
    steps = math.ceil(Fraction(ratio) / Fraction(step))
    return (step * steps).normalize()


MarginRatioFunction = Callable[[str, float, float], float]


Ratio = float | Fraction | Decimal


def recipe_ratios(initial_loss: Ratio, liquidation_loss: Ratio = 0) -> MarginRatios:
    """Initial and maintenance margin from the 7-day and 3-day 99% losses (module docstring)."""
    initial = round_up_to_step(initial_loss)
    maintenance = round_up_to_step(max(Fraction(initial) * MAINTENANCE_FRACTION, Fraction(liquidation_loss)))
    return MarginRatios(initial, maintenance)


@dataclass(frozen=True)
class ProductCalibration:
    """The recipe's inputs and result for one product: the losses in every window, the ratios."""

    product: Product
    index: str
    initial_loss_by_window: Mapping[str, float]  # 99% loss over the margin period of risk
    liquidation_loss_by_window: Mapping[str, float]  # 99% loss over the liquidation period
    ratios: MarginRatios

    @property
    def binding_window(self) -> str:
        """The window whose 7-day loss sets initial margin (the first one on a tie)."""
        losses = self.initial_loss_by_window
        return max(losses, key=losses.__getitem__)

    def ratios_on(self, window: str) -> MarginRatios:
        """The ratios the recipe would give on ``window`` alone."""
        return recipe_ratios(self.initial_loss_by_window[window], self.liquidation_loss_by_window[window])


def calibrate_products(ratio_by_window: Mapping[str, MarginRatioFunction]) -> dict[Product, ProductCalibration]:
    """The recipe (module docstring) over named calibration windows, each a function
    ``(index, horizon_days, confidence) -> loss ratio`` such as ``pricing.margin_ratio`` bound to
    one era. The domain does not import ``pricing``: the caller passes the functions in.
    """
    if not ratio_by_window:
        raise InvalidValue("windows", dict(ratio_by_window), "the recipe needs at least one calibration window")
    calibrations = {}
    for product, index in CALIBRATION_INDEX.items():
        initial_loss = {window: float(ratio(index, MARGIN_PERIOD_OF_RISK_DAYS, CALIBRATION_CONFIDENCE))
                        for window, ratio in ratio_by_window.items()}
        liquidation_loss = {window: float(ratio(index, LIQUIDATION_PERIOD_DAYS, CALIBRATION_CONFIDENCE))
                            for window, ratio in ratio_by_window.items()}
        ratios = recipe_ratios(max(initial_loss.values()), max(liquidation_loss.values()))
        calibrations[product] = ProductCalibration(product, index, MappingProxyType(initial_loss),
                                                   MappingProxyType(liquidation_loss), ratios)
    return calibrations


def calibrated_margin(ratio_by_window: Mapping[str, MarginRatioFunction]) -> dict[Product, MarginRatios]:
    """The margin ratios the recipe gives for every margined product (``calibrate_products``)."""
    return {product: calibration.ratios for product, calibration in calibrate_products(ratio_by_window).items()}


DEFAULT_MARGIN: Mapping[Product, MarginRatios] = MappingProxyType({
    Product.HASHPRICE_MONTHLY: MarginRatios(Decimal("0.15"), Decimal("0.1")),
    Product.BME14_EPOCH: MarginRatios(Decimal("0.15"), Decimal("0.1")),
    Product.DIFF_EPOCH: MarginRatios(Decimal("0.13"), Decimal("0.09")),
})


# --- the parameter object -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RiskParameters:
    """Every governed number the trading core reads, with its documented default."""

    margin: Mapping[Product, MarginRatios] = field(default_factory=lambda: DEFAULT_MARGIN)
    maker_fee_bps: Decimal = Decimal(2)
    taker_fee_bps: Decimal = Decimal(5)
    otc_band_ratio: Decimal = Decimal("0.05")
    market_order_band_ratio: Decimal = Decimal("0.05")
    order_price_band_ratio: Decimal = Decimal("0.2")
    mark_anchoring: MarkAnchoring = MarkAnchoring.MEDIAN
    mark_min_book_notional_sats: Decimal = Decimal(50_000_000)
    mark_book_band_ratio: Decimal = Decimal("0.05")
    mark_band_ratio: Decimal = Decimal("0.04")
    mark_max_change_ratio: Decimal = Decimal("0.01")
    mark_trade_window_minutes: Decimal = Decimal(60)
    liquidation_penalty_ratio: Decimal = Decimal("0.01")
    liquidation_step_fraction: Decimal = Decimal("0.1")
    liquidation_buffer_ratio: Decimal = Decimal("0.04")
    liquidation_book_band_ratio: Decimal = Decimal("0.03")
    penalty_split_takers: Decimal = Decimal("0.4")
    penalty_split_otc_counterparties: Decimal = Decimal("0.1")
    penalty_split_insurance_fund: Decimal = Decimal("0.4")
    penalty_split_community_fund: Decimal = Decimal("0.1")
    pool_withdrawal_delay_days: Decimal = Decimal(7)
    pool_takeover_discount_ratio: Decimal = Decimal("0.01")
    pool_max_takeover_ratio: Decimal = Decimal("0.01")
    pool_max_instrument_ratio: Decimal = Decimal("0.5")
    pool_max_loss_ratio: Decimal = Decimal("0.01")
    pool_unwind_fraction: Decimal = Decimal("0.1")
    fee_split_makers: Decimal = Decimal("0.2")
    fee_split_insurance_fund: Decimal = Decimal("0.4")
    fee_split_community_fund: Decimal = Decimal("0.1")
    fee_split_backstop_pool: Decimal = Decimal("0.3")
    governance_support_ratio: Decimal = Decimal("0.5")
    governance_quorum_ratio: Decimal = Decimal("0.5")
    governance_proposal_threshold_ratio: Decimal = Decimal("0.01")
    governance_voting_period_days: Decimal = Decimal(7)
    governance_timelock_days: Decimal = Decimal(2)
    governance_execution_grace_days: Decimal = Decimal(14)
    governance_margin_step_ratio: Decimal = Decimal("0.25")
    governance_risk_committee: str = ""  # desk usernames, comma-separated: who may tighten margins at once
    protection_collateral_ratio: Decimal = Decimal("0.5")
    protection_premium_band_ratio: Decimal = Decimal("0.5")
    protection_premium_band_min_bps: Decimal = Decimal(25)
    protection_fund_capacity_ratio: Decimal = Decimal("0.25")
    protection_fund_min_premium_bps: Decimal = Decimal(200)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mark_anchoring", MarkAnchoring(self.mark_anchoring))
        object.__setattr__(self, "governance_risk_committee", _committee(self.governance_risk_committee))
        object.__setattr__(self, "margin", MappingProxyType({Product(p): r for p, r in self.margin.items()}))
        missing = set(CALIBRATION_INDEX) - set(self.margin)
        if missing:
            names = ", ".join(sorted(p.value for p in missing))
            raise InvalidValue("margin", names, "needs margin ratios for every margined product")
        for name, value in self.as_registry().items():
            if name not in TEXT_PARAMETERS:
                _check_bound(name, value)
            if name in WHOLE_NUMBERS and value != value.to_integral_value():
                raise InvalidValue(name, value, "must be a whole number")
        for product, ratios in self.margin.items():
            if product in FULLY_COLLATERALIZED:
                raise InvalidValue("margin", product.value, "is fully collateralized and takes no ratio")
            if ratios.maintenance > ratios.initial:
                name = f"margin.maintenance.{product.value}"
                raise ParameterOutOfBounds(name, ratios.maintenance, BOUNDS["margin.maintenance"].low,
                                           ratios.initial, "maintenance cannot exceed initial margin")
        smallest = min(r.maintenance for r in self.margin.values())
        if self.liquidation_penalty_ratio >= smallest:
            raise ParameterOutOfBounds("liquidation.penalty_ratio", self.liquidation_penalty_ratio,
                                       BOUNDS["liquidation.penalty_ratio"].low, smallest,
                                       "the penalty must stay below every maintenance ratio (Drift's rule)")
        split = (self.penalty_split_takers + self.penalty_split_otc_counterparties + self.penalty_split_insurance_fund
                 + self.penalty_split_community_fund)
        if split != 1:
            raise ParameterOutOfBounds("penalty.split", split, 1, 1, "the penalty split's shares must sum to 1")
        fee_split = (self.fee_split_makers + self.fee_split_insurance_fund + self.fee_split_community_fund
                     + self.fee_split_backstop_pool)
        if fee_split != 1:
            raise ParameterOutOfBounds("fees.split", fee_split, 1, 1, "the fee split's shares must sum to 1")
        if self.order_price_band_ratio < self.market_order_band_ratio:
            raise ParameterOutOfBounds("orders.price_band_ratio", self.order_price_band_ratio,
                                       self.market_order_band_ratio, BOUNDS["orders.price_band_ratio"].high,
                                       "a market order's own band must lie inside the limit-price band")

    @property
    def risk_committee(self) -> frozenset[str]:
        """The desk usernames that may tighten margins at once (GOVERNANCE.md)."""
        return frozenset(filter(None, self.governance_risk_committee.split(",")))

    def ratios(self, product: Product) -> MarginRatios:
        product = Product(product)
        if product in FULLY_COLLATERALIZED:
            raise InvalidValue("product", product.value, "is margined at its whole range, not by a ratio")
        return self.margin[product]

    def as_registry(self) -> dict[str, Decimal | str]:
        """Flat ``name -> value`` pairs, the names governance proposals use."""
        values: dict[str, Decimal | str] = {}
        for product in sorted(self.margin, key=lambda p: p.value):
            values[f"margin.initial.{product.value}"] = self.margin[product].initial
            values[f"margin.maintenance.{product.value}"] = self.margin[product].maintenance
        values |= {name: getattr(self, attribute) for name, attribute in SCALARS.items()}
        values["mark.anchoring"] = self.mark_anchoring.value
        return values

    @classmethod
    def from_registry(cls, values: Mapping[str, Decimal | str]) -> RiskParameters:
        """Parameters from registry pairs; names not given keep their defaults, unknown names fail."""
        return cls().with_changes(values)

    def with_changes(self, changes: Mapping[str, Decimal | str]) -> RiskParameters:
        """A copy with some registry values changed (bounds checked)."""
        known = self.as_registry()
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise InvalidValue("name", ", ".join(unknown), "is not a governed parameter")
        merged = known | dict(changes)
        margin = {}
        for product in self.margin:
            margin[product] = MarginRatios(merged[f"margin.initial.{product.value}"],
                                           merged[f"margin.maintenance.{product.value}"])
        scalars = {attribute: merged[name] for name, attribute in SCALARS.items()}
        return replace(self, margin=margin, mark_anchoring=MarkAnchoring(merged["mark.anchoring"]), **scalars)


def bound_of(name: str) -> Bound:
    """The hard bound of a registry name (``margin.initial.<product>`` share one bound)."""
    family = name.rsplit(".", 1)[0] if name.startswith("margin.") else name
    if family not in BOUNDS:
        raise InvalidValue("name", name, "has no numeric bound")
    return BOUNDS[family]


def _committee(value: object) -> str:
    """The risk committee as sorted, distinct, comma-separated desk usernames."""
    if not isinstance(value, str):
        raise InvalidValue("governance.risk_committee", value, "must be desk usernames separated by commas")
    names = sorted({name.strip() for name in value.split(",") if name.strip()})
    for name in names:
        if not USERNAME.fullmatch(name):
            raise InvalidValue("governance.risk_committee", name, "is not a desk username")
    return ",".join(names)


def _check_bound(name: str, value: object) -> None:
    bound = bound_of(name)
    if not isinstance(value, Decimal):
        require_price(value, name)
    if value not in bound:
        raise ParameterOutOfBounds(name, value, bound.low, bound.high)

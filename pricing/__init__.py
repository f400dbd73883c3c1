"""HashEdge pricing: difficulty curve, futures valuation, risk model, CDS and counterparty default.

Plain inputs in, frozen-dataclass (or float) results out; QuantLib stays inside the package and
its global evaluation date is set and restored inside each call. Depends on ``indices`` only:
never imports ``hashedge``, Flask or the database layer. Formulas and conventions:
pricing/README.md.
"""

from pricing.cds import (
    STANDARD_COUPONS,
    CdsResult,
    CdsTrade,
    implied_hazard_rate,
    price_cds,
    price_cds_book,
    standard_maturity,
    standard_upfront,
)
from pricing.curves import (
    DiscountCurve,
    HazardCurve,
    bootstrap_discount_curve,
    bootstrap_hazard_curve,
    flat_discount_curve,
    flat_hazard_curve,
)
from pricing.default_model import DefaultRisk, default_probability, default_risk, simulate_default
from pricing.difficulty_curve import (
    difficulty_from_growth,
    implied_difficulty,
    implied_growth_rate,
    mean_discount,
)
from pricing.errors import NoSolutionError, PricingInputError
from pricing.forward import (
    ChainObservation,
    ForwardPath,
    TrendGrowth,
    forward_path,
    known_epochs,
    mean_fees_per_block_sats,
    trend_growth_per_epoch,
)
from pricing.futures import (
    CappedFlooredContract,
    EpochForecast,
    FuturesValuation,
    bme_settlement_btc_per_th_day,
    hashprice_settlement_sats_per_phd,
    value_futures,
)
from pricing.history import CalibrationWindows, calibration_windows, load_epoch_history
from pricing.margin import MarginCalibration, margin_calibration, margin_ratio
from pricing.portfolio_margin import (
    InstrumentRisk,
    MarginResult,
    portfolio_worst_loss,
    scenario_margin,
)
from pricing.protection import ProtectionQuote, protection_premium
from pricing.scenarios import (
    ScenarioSet,
    bootstrap_scenarios,
    historical_scenarios,
    parametric_scenarios,
    with_btc_usd,
)
from pricing.term_structure import BmeFuturesQuote, DifficultyTermStructure, DiffFuturesQuote

__all__ = [
    "STANDARD_COUPONS",
    "BmeFuturesQuote",
    "CalibrationWindows",
    "CappedFlooredContract",
    "CdsResult",
    "CdsTrade",
    "ChainObservation",
    "DefaultRisk",
    "DiffFuturesQuote",
    "DifficultyTermStructure",
    "DiscountCurve",
    "EpochForecast",
    "ForwardPath",
    "FuturesValuation",
    "HazardCurve",
    "InstrumentRisk",
    "MarginCalibration",
    "MarginResult",
    "NoSolutionError",
    "PricingInputError",
    "ProtectionQuote",
    "ScenarioSet",
    "TrendGrowth",
    "bme_settlement_btc_per_th_day",
    "bootstrap_discount_curve",
    "bootstrap_hazard_curve",
    "bootstrap_scenarios",
    "calibration_windows",
    "default_probability",
    "default_risk",
    "difficulty_from_growth",
    "flat_discount_curve",
    "flat_hazard_curve",
    "forward_path",
    "hashprice_settlement_sats_per_phd",
    "historical_scenarios",
    "implied_difficulty",
    "implied_growth_rate",
    "implied_hazard_rate",
    "known_epochs",
    "load_epoch_history",
    "margin_calibration",
    "margin_ratio",
    "mean_discount",
    "mean_fees_per_block_sats",
    "parametric_scenarios",
    "portfolio_worst_loss",
    "price_cds",
    "price_cds_book",
    "protection_premium",
    "scenario_margin",
    "simulate_default",
    "standard_maturity",
    "standard_upfront",
    "trend_growth_per_epoch",
    "value_futures",
    "with_btc_usd",
]

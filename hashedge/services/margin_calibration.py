"""Recalibrating the margin defaults on the epoch history, and the tables of MARGIN.md.

``recalibrate_margin`` applies the domain's recipe (``hashedge.domain.parameters``) to
``pricing.margin_ratio`` on each calibration window of the history (``pricing.calibration_windows``:
the current era and the stressed one). ``python -m hashedge.services.margin_calibration`` prints
the tables of hashedge/domain/MARGIN.md; ``--write hashedge/domain/MARGIN.md`` rewrites them in
place between their markers (``pricing.calibration_report``), and a test fails when the file and
the data disagree. Nothing here touches the database.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from hashedge.domain.instruments import Product
from hashedge.domain.parameters import (
    CALIBRATION_CONFIDENCE,
    MARGIN_PERIOD_OF_RISK_DAYS,
    ProductCalibration,
    calibrate_products,
)
from pricing.calibration_report import percent, run, table, window_label, windows_table
from pricing.history import CalibrationWindows, EpochHistory, calibration_windows, load_epoch_history
from pricing.margin import horizon_for_ratio, margin_calibration, margin_ratio

COMMAND = "python -m hashedge.services.margin_calibration"
CONTRACTS = {
    Product.HASHPRICE_MONTHLY: "`HP-YYYY-MM` monthly hashprice",
    Product.BME14_EPOCH: "`BME14-E…`",
    Product.DIFF_EPOCH: "`DIFF-E…`",
}
COMPARISON_CONFIDENCE = 0.975


@dataclass(frozen=True)
class MarginRecalibration:
    """The recipe's result on a history: its windows and, per product, every figure it used."""

    history: EpochHistory
    windows: CalibrationWindows
    products: dict[Product, ProductCalibration]


def recalibrate_margin(history: EpochHistory | None = None) -> MarginRecalibration:
    """The margin recipe on the calibration windows of ``history`` (default: the shared file)."""
    data = history if history is not None else load_epoch_history()
    windows = calibration_windows(data)
    ratio_by_window = {era.name: partial(margin_ratio, history=data, era=era) for era in windows.eras}
    return MarginRecalibration(data, windows, calibrate_products(ratio_by_window))


# -- MARGIN.md's tables ----------------------------------------------------------------------------

def _whole_percent(ratio: Decimal) -> str:
    return f"{ratio * 100:.0f}%"


def _role(windows: CalibrationWindows, name: str) -> str:
    era = next(era for era in windows.eras if era.name == name)
    return window_label(windows, era)


def _points(difference: Decimal) -> str:
    return f"{difference * 100:+.0f}" if difference else "±0"


def numbers_table(result: MarginRecalibration) -> str:
    """Per product: the 7-day and 3-day losses in each window, the ratios, what binds."""
    current, stressed = result.windows.current.name, result.windows.stressed.name
    header = ["product", "index", f"7 d 99%, {current}", f"7 d 99%, {stressed}", "initial",
              f"3 d 99%, {current}", f"3 d 99%, {stressed}", "maintenance", "set by",
              f"{current} era alone", "leverage at initial"]
    rows = []
    for product, calibration in result.products.items():
        ratios, alone = calibration.ratios, calibration.ratios_on(current)
        initial, liquidation = calibration.initial_loss_by_window, calibration.liquidation_loss_by_window
        lower = f"{_points(alone.initial - ratios.initial)} / {_points(alone.maintenance - ratios.maintenance)} points"
        rows.append([
            CONTRACTS[product], calibration.index, percent(initial[current], 2), percent(initial[stressed], 2),
            f"**{_whole_percent(ratios.initial)}**", percent(liquidation[current], 2),
            percent(liquidation[stressed], 2), f"**{_whole_percent(ratios.maintenance)}**",
            _role(result.windows, calibration.binding_window),
            f"{_whole_percent(alone.initial)} / {_whole_percent(alone.maintenance)} ({lower})",
            f"{1 / ratios.initial:.1f}x",
        ])
    rows.append(["`BME14C-E…`", "BME14, floor/cap", "–", "–", "range", "–", "–", "range", "fully collateralized",
                 "range", "about 2.5x at listing (floor/cap at -40%/+40%)"])
    return table(header, rows)


def sides_table(result: MarginRecalibration) -> str:
    """The 7-day figure by side and by method in each window."""
    header = ["index", "window", "long", "short", "stationary bootstrap", "Student-t fit",
              f"historical at {COMPARISON_CONFIDENCE * 100:g}%"]
    rows = []
    indices = dict.fromkeys(c.index for c in result.products.values() if c.index != "BME14")
    for index in indices:
        for era in result.windows.eras:
            common = dict(history=result.history, era=era)
            historical = margin_calibration(index, MARGIN_PERIOD_OF_RISK_DAYS, CALIBRATION_CONFIDENCE, **common)
            others = [margin_ratio(index, MARGIN_PERIOD_OF_RISK_DAYS, CALIBRATION_CONFIDENCE, method=method, **common)
                      for method in ("bootstrap", "parametric")]
            rows.append([index, window_label(result.windows, era), percent(historical.long_ratio, 2),
                         percent(historical.short_ratio, 2), *(percent(value, 2) for value in others),
                         percent(margin_ratio(index, MARGIN_PERIOD_OF_RISK_DAYS, COMPARISON_CONFIDENCE, **common), 2)])
    return table(header, rows)


def cover_table(result: MarginRecalibration) -> str:
    """After how many days the 99% loss reaches each initial margin, in each window."""
    header = ["product", "initial"] + [f"days for the 99% loss to reach it, {window_label(result.windows, era)}"
                                       for era in result.windows.eras]
    rows = []
    for product, calibration in result.products.items():
        ratio = float(calibration.ratios.initial)
        days = [horizon_for_ratio(calibration.index, ratio, CALIBRATION_CONFIDENCE, history=result.history, era=era)
                for era in result.windows.eras]
        rows.append([CONTRACTS[product], _whole_percent(calibration.ratios.initial)] + [f"{d:.0f}" for d in days])
    return table(header, rows)


def margin_doc_blocks(history: EpochHistory | None = None) -> dict[str, str]:
    """Every generated table of hashedge/domain/MARGIN.md by block name."""
    result = recalibrate_margin(history)
    return {
        "windows": windows_table(result.history, result.windows),
        "numbers": numbers_table(result),
        "sides": sides_table(result),
        "cover": cover_table(result),
    }


if __name__ == "__main__":
    sys.exit(run(COMMAND, margin_doc_blocks))

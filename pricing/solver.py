"""Bracketed one-dimensional root finding on QuantLib's Brent solver, with clear errors."""

from __future__ import annotations

import math
from collections.abc import Callable

import QuantLib as ql

from pricing.errors import NoSolutionError

MAX_EVALUATIONS = 500


def solve_bracketed(
    function: Callable[[float], float],
    lower: float,
    upper: float,
    *,
    accuracy: float,
    field: str,
    value: object,
    what: str,
    edge_tolerance: float = 0.0,
) -> float:
    """Root of a continuous ``function`` in ``[lower, upper]``.

    The bracket is checked first: when ``function`` has the same strict sign at both ends there
    is no root in it and :class:`NoSolutionError` names ``field``/``value`` and ``what`` the
    bracket means, instead of QuantLib's generic "root not bracketed". A bracket end where
    ``|function|`` is within ``edge_tolerance`` is taken as the root (rounding at an exact edge).
    """
    f_lower, f_upper = function(lower), function(upper)
    if abs(f_lower) <= edge_tolerance:
        return lower
    if abs(f_upper) <= edge_tolerance:
        return upper
    if math.isnan(f_lower) or math.isnan(f_upper) or (f_lower > 0) == (f_upper > 0):
        raise NoSolutionError(field, value, f"has no solution: {what}")
    failures: list[BaseException] = []

    def guarded(x: float) -> float:
        # QuantLib reports an exception raised inside the callback as "failed to call Python
        # function"; keep the original to re-raise it.
        try:
            return function(x)
        except Exception as error:  # noqa: BLE001 - re-raised below, unchanged
            failures.append(error)
            raise

    brent = ql.Brent()
    brent.setMaxEvaluations(MAX_EVALUATIONS)
    guess = lower + (upper - lower) / 2.0
    try:
        return brent.solve(guarded, accuracy, guess, lower, upper)
    except RuntimeError:
        if failures:
            raise failures[0] from None
        raise

"""Errors raised by the pricing library, and the input checks that raise them.

Every bad input raises :class:`PricingInputError`, a ``ValueError`` that names the field, the value
received and the rule it broke, so callers (API schemas, desk forms) can map it to a field error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real


class PricingInputError(ValueError):
    """An input outside its domain: ``field`` got ``value`` but must satisfy ``rule``."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field} {rule}, got {value!r}")


class NoSolutionError(PricingInputError):
    """A solver input for which no solution exists inside the admissible bracket."""


def finite(field: str, value: object) -> float:
    """``value`` as a float; rejects bools, non-numbers, NaN and infinities."""
    if type(value) is float:  # the common case, without the ABC check below
        if not math.isfinite(value):
            raise PricingInputError(field, value, "must be finite")
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise PricingInputError(field, value, "must be a real number")
    number = float(value)
    if not math.isfinite(number):
        raise PricingInputError(field, value, "must be finite")
    return number


def positive(field: str, value: object) -> float:
    number = finite(field, value)
    if number <= 0.0:
        raise PricingInputError(field, value, "must be positive")
    return number


def non_negative(field: str, value: object) -> float:
    number = finite(field, value)
    if number < 0.0:
        raise PricingInputError(field, value, "must be non-negative")
    return number


def probability_level(field: str, value: object) -> float:
    """A confidence level strictly between 0 and 1."""
    number = finite(field, value)
    if not 0.0 < number < 1.0:
        raise PricingInputError(field, value, "must be strictly between 0 and 1")
    return number


def recovery_rate(field: str, value: object) -> float:
    """A recovery rate in [0, 1): a recovery of 1 leaves nothing to protect."""
    number = finite(field, value)
    if not 0.0 <= number < 1.0:
        raise PricingInputError(field, value, "must be in [0, 1)")
    return number


def positive_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingInputError(field, value, "must be an int")
    if value <= 0:
        raise PricingInputError(field, value, "must be positive")
    return value


def non_negative_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingInputError(field, value, "must be an int")
    if value < 0:
        raise PricingInputError(field, value, "must be non-negative")
    return value


def one_of(field: str, value: object, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    if value not in allowed:
        raise PricingInputError(field, value, f"must be one of {', '.join(map(repr, allowed))}")
    return value  # type: ignore[return-value]

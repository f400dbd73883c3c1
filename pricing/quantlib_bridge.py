"""The one place that converts plain Python values to QuantLib and scopes its global state.

QuantLib keeps a process-wide evaluation date (``Settings.instance().evaluationDate``). Every
valuation in this package runs inside :func:`evaluation_date`, which sets the date, holds a lock so
that two threads cannot interleave their dates, and restores the previous date on exit. Results
therefore never depend on the order of calls or on what other code did to QuantLib's settings.
QuantLib objects built inside the scope never leave it: modules return plain numbers and dates.
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import QuantLib as ql

from pricing.errors import PricingInputError

_EVALUATION_LOCK = threading.RLock()
_TENOR = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)
_UNITS = {"D": ql.Days, "W": ql.Weeks, "M": ql.Months, "Y": ql.Years}
_DAYS_PER_UNIT = {"D": 1, "W": 7, "M": 30, "Y": 365}  # only used to order tenors


def as_date(field: str, value: object) -> dt.date:
    """A ``datetime.date`` (a ``datetime`` is reduced to its date; nothing else is accepted)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise PricingInputError(field, value, "must be a datetime.date")


# QuantLib numbers days from 31 Dec 1899 = 1 (the spreadsheet serial; its valid range starts in
# 1901, after the spreadsheet's phantom 29 Feb 1900), so a serial is a proleptic ordinal shifted by
# a constant: one SWIG call per conversion instead of three.
_SERIAL_OFFSET = dt.date(1899, 12, 30).toordinal()


def to_ql_date(value: dt.date) -> ql.Date:
    return ql.Date(value.toordinal() - _SERIAL_OFFSET)


def from_ql_date(value: ql.Date) -> dt.date:
    return dt.date.fromordinal(value.serialNumber() + _SERIAL_OFFSET)


def parse_tenor(field: str, text: object) -> ql.Period:
    """A tenor such as ``"6M"``, ``"1Y"``, ``"10Y"``, ``"2W"``, ``"30D"`` as a QuantLib Period."""
    match = _TENOR.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise PricingInputError(field, text, "must be a positive tenor such as '6M' or '5Y'")
    return ql.Period(int(match.group(1)), _UNITS[match.group(2).upper()])


def tenor_sort_key(text: str) -> int:
    """Approximate length in days, to order and de-duplicate quoted tenors ("12M" == "1Y")."""
    match = _TENOR.match(text)
    assert match is not None
    count, unit = int(match.group(1)), match.group(2).upper()
    if unit == "M" and count % 12 == 0:
        return count // 12 * 365
    return count * _DAYS_PER_UNIT[unit]


class evaluation_date:  # noqa: N801 - used like a function: ``with evaluation_date(day) as today``
    """Run a valuation with QuantLib's evaluation date set to ``date``, then restore it.

    ``with evaluation_date(day) as today:`` gives ``day`` as a QuantLib date. A class rather than a
    generator-based context manager: it runs once per priced trade, and this is half the cost.
    """

    __slots__ = ("_date", "_previous")

    def __init__(self, date: dt.date):
        self._date = to_ql_date(date)
        self._previous: ql.Date | None = None

    def __enter__(self) -> ql.Date:
        _EVALUATION_LOCK.acquire()
        try:
            settings = ql.Settings.instance()
            self._previous = settings.evaluationDate
            settings.evaluationDate = self._date
        except BaseException:
            _EVALUATION_LOCK.release()
            raise
        return self._date

    def __exit__(self, *exc_info) -> None:
        try:
            ql.Settings.instance().evaluationDate = self._previous
        finally:
            _EVALUATION_LOCK.release()

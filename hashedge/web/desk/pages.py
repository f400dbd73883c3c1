"""The desk's page toolkit: pagination from query strings, number and time filters for templates.

Tables paginate with ``page_args`` (bad or huge values fall back, never a 500) and the ``pager``
macro of ``templates/desk/macros.html``, which keeps the page's other query arguments (filters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import Flask, request

MAX_PAGE = 100_000


@dataclass(frozen=True)
class Pager:
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else min(self.total, (self.page - 1) * self.page_size + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)


def page_args(default_size: int = 25, max_size: int = 200) -> tuple[int, int]:
    """``page`` and ``page_size`` from the query string, kept within bounds."""

    def number(name: str, default: int, high: int) -> int:
        raw = request.args.get(name, "")
        return min(max(int(raw), 1), high) if raw.isdigit() and len(raw) < 9 else default

    return number("page", 1, MAX_PAGE), number("page_size", default_size, max_size)


def pager_of(result) -> Pager:
    return Pager(result.page, result.page_size, result.total)


def sats(value) -> str:
    """12,345,678 (with a minus sign when negative); an em dash for None."""
    if value is None:
        return "—"
    return f"{int(value):,}"


def btc(value) -> str:
    if value is None:
        return "—"
    return f"{Decimal(int(value)) / Decimal(100_000_000):,.8f}"


def number(value, places: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal) and places == 0:
        return f"{value:,f}"  # exactly as stored: a price on a 0.01 tick keeps its cents
    return f"{value:,.{places}f}"


def percent(value, places: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{places}f}%"


def when(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def compact(value) -> str:
    """Large numbers the way a desk reads them: 1.52e14 -> 152.4 T."""
    if value is None:
        return "—"
    for factor, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M")):
        if abs(value) >= factor:
            return f"{value / factor:,.2f}{suffix}"
    return f"{value:,.2f}"


def init_filters(app: Flask) -> None:
    app.add_template_filter(sats, "sats")
    app.add_template_filter(btc, "btc")
    app.add_template_filter(number, "number")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(when, "when")
    app.add_template_filter(compact, "compact")

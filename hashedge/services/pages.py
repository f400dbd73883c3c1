"""The one paging and filtering convention of every list the API serves.

A list is a page: ``items`` (at most ``page_size``), ``total`` (how many match the filters),
``page`` (1-based) and ``page_size`` (1 to ``MAX_PAGE_SIZE``, default 100). Time-ordered lists take
``start``/``end`` (inclusive, timezone-aware), lists of an account's contracts take ``instrument``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from hashedge.errors import InvalidInput

MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000  # beyond any real history; keeps offsets inside every backend's integers
DEFAULT_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def check_page(page: int, page_size: int) -> int:
    """The offset of ``page``; InvalidInput naming the field out of range."""
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput("page out of range", fields={"page": [f"must be between 1 and {MAX_PAGE}"]})
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput("page size out of range", fields={"page_size": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
    return (page - 1) * page_size


def check_window(start: datetime | None, end: datetime | None) -> None:
    for name, moment in (("start", start), ("end", end)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{name} needs a timezone", fields={name: ["give an offset, e.g. Z or +00:00"]})
    if start is not None and end is not None and start > end:
        raise InvalidInput("start is after end", fields={"start": ["must not be after end"]})

"""The last list of instruments each process read, per database, kept while it is current.

``GET /instruments`` (and the desk's pages, the CLI, analytics) list every listed and expired
contract with its latest mark and the chain's tip. Read every time, that took three statements and
a record per contract, most of a request's CPU at 200 requests a second (BENCHMARKS.md, part P).
The list changes only when a contract is listed, expires or settles, a mark is stored or a block
arrives, so each process keeps the last one it read with its version
(``adapters.repositories.listing_version``, which changes with every one of those writes) and
reads it again only when one statement finds another version. Nothing is ever served that the
database does not hold now: the version is read on every call, and the kept list was read in the
same transaction as the version it is kept under. Whether a contract trades now is worked out on
every call from the kept tip and the clock (``services.instruments.list_instruments``).

Kept per engine (a weak key: a test's engine takes its list with it) and per question (with or
without settled contracts); a list read by one thread replaces another's whole, never in part.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from hashedge.adapters.repositories.listing_version import listing_version
from hashedge.adapters.repositories.trading import InstrumentRecord, MarkRecord
from hashedge.adapters.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Listing:
    """The instruments of one question as of ``version``: records in listing order, their latest
    marks by symbol, the tip's height."""

    version: tuple
    records: tuple[InstrumentRecord, ...]
    marks: dict[str, MarkRecord]
    tip_height: int | None


class ListingMemo:
    def __init__(self):
        self._lock = threading.Lock()
        self._by_database: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def current(self, uow: UnitOfWork, include_settled: bool) -> Listing:
        """The list as the database holds it now: the kept one if its version is current, else
        read (with its version) in one read-only transaction and kept."""
        database = uow.database
        kept = self._by_database.get(database, {}).get(include_settled)
        if kept is not None and uow.read_detached(listing_version) == kept.version:
            return kept
        with uow.read_only():
            version = uow.instruments.listing_version()
            records = uow.instruments.all(None if include_settled else ("listed", "expired"))
            marks = uow.marks.latest([r.symbol for r in records])
            tip = uow.blocks.tip_height()
        listing = Listing(version, tuple(records), marks, tip)
        with self._lock:
            self._by_database.setdefault(database, {})[include_settled] = listing
        return listing


LISTINGS = ListingMemo()

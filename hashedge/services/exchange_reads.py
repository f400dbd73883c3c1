"""What a batch of the exchange reads under its locks, from the database or from what the
engine's last batch left (ORDER_PATH.md, "What a batch keeps for the next").

``BatchReads`` reads everything from the database. ``KeptReads`` serves the same answers from a
``Kept`` state: the placing accounts' holdings, positions, instrument records, marks, specs and
the chain tip as the engine's previous batch left them in its commit. It is only handed out when
nothing else was written to the database since that commit (``UnitOfWork.write_marker``: on
SQLite the same connection, no row changed through it and no commit by another connection since;
on PostgreSQL the same generation of writes and no other writer open, read after the batch's
row locks, migration 0019) and the governed parameters in force are the same, so the kept state IS the database's. What it
does not hold it reads, and what any read returns is exactly what ``BatchReads`` would return.
With ``HASHEDGE_VERIFY_KEPT_STATE=1`` (set by the test suite, engine processes included) every
kept answer is also read from the database and compared, and a difference fails the batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.trading import InstrumentRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.journal_chain import ChainLink
from hashedge.domain.ledger import LedgerAccount
from hashedge.domain.margin import InstrumentMargin, OrderTotal
from hashedge.domain.order_levels import order_total, summing_bounds
from hashedge.domain.orders import Order, Side
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position

VERIFY_VARIABLE = "HASHEDGE_VERIFY_KEPT_STATE"  # "1" (the test suite): check kept answers against the database


def verifying() -> bool:
    return os.environ.get(VERIFY_VARIABLE) == "1"


Bounds = dict[str, tuple[int, int, int, Fraction]]


@dataclass
class Holding:
    """A placing account's margin inputs: its collateral, its open positions by instrument, its
    resting orders summed per instrument and side where the database sums them
    (``domain.order_levels``) and the others one by one."""

    collateral_sats: int
    positions: dict[str, Position]
    totals: dict[tuple[str, Side], OrderTotal]
    orders: dict[str, Order]
    # its margin terms per instrument as the last batch worked them out, at the marks, specs and
    # parameters it kept (``services.exchange._Account.terms``); not read from the database
    terms: dict[str, InstrumentMargin] = field(default_factory=dict)

    def resting_instruments(self) -> set[str]:
        return {s for (s, _), t in self.totals.items() if t.remaining_quantity} | {
            o.instrument_id for o in self.orders.values()}

    def comparable(self) -> tuple:
        """What two reads of the same holding agree on (a sum emptied in memory is no row)."""
        return (self.collateral_sats, {s: p for s, p in self.positions.items() if p.quantity},
                {k: t for k, t in self.totals.items() if t.remaining_quantity or t.fee_bound_sats}, self.orders)


@dataclass
class Kept:
    """What the engine's last batch left in the database, as it holds it (module docstring)."""

    marker: tuple
    # the governed parameters, from when and until when (None: no later version written) they are
    # in force while nothing is written (``margin.risk_parameters_window``)
    params_window: tuple[RiskParameters, datetime, datetime | None]
    accounts: set[int] = field(default_factory=set)
    records: dict[str, InstrumentRecord] = field(default_factory=dict)
    tip_height: int | None = None
    marks: dict[str, Decimal] = field(default_factory=dict)
    specs: dict[str, ContractSpec] = field(default_factory=dict)
    holdings: dict[str, Holding] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)  # (account, symbol)
    stored: set[tuple[str, str]] = field(default_factory=set)  # of those, the ones with a row
    sequences: dict[str, int] = field(default_factory=dict)  # instrument -> its last order sequence
    # instrument -> its summing bounds at the kept mark, spec and parameters (None: it sums nothing)
    bounds: dict[str, tuple[int, int, int, Fraction] | None] = field(default_factory=dict)
    key_holders: set[tuple[str, int]] = field(default_factory=set)  # (API key prefix, account): unrevoked
    # the journal chain's last link as the batch left it (None: not known; the next batch reads it
    # at the chain's lock): a batch on PostgreSQL links its entries after it without reading it
    # (``JournalChainRepository.assume_head``)
    chain_head: ChainLink | None = None

    @property
    def params(self) -> RiskParameters:
        return self.params_window[0]


class KeptStore:
    """The one ``Kept`` of this process. ``take`` hands it out (and forgets it) only if the
    database is as the batch that kept it left it; ``keep`` stores the state a batch committed."""

    def __init__(self) -> None:
        self._kept: Kept | None = None
        self._lock = threading.Lock()

    def take(self, marker: tuple | None) -> Kept | None:
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is None or not _same(kept.marker, marker):
            return None
        return kept

    def rekey(self, before: tuple | None, after: tuple | None) -> None:
        """The engine's own transaction between markers ``before`` and ``after`` wrote nothing the
        kept state holds (its lease): the state kept at ``before`` stands at ``after``. Kept at any
        other marker, it is left as it is (and the next batch will not take it)."""
        with self._lock:
            if self._kept is not None and after is not None and _same(self._kept.marker, before):
                self._kept.marker = after

    def keep(self, kept: Kept | None) -> None:
        with self._lock:
            self._kept = kept

    def forget(self) -> None:
        self.keep(None)


def _same(kept_marker: tuple, marker: tuple | None) -> bool:
    """Two write markers name the same state (``UnitOfWork.write_marker``): same connection
    object, same counters."""
    return marker is not None and kept_marker[0] is marker[0] and kept_marker[1:] == marker[1:]


KEPT = KeptStore()


def fee_bounds(specs: dict[str, ContractSpec], marks: dict[str, Decimal], params: RiskParameters,
               cache: dict[str, tuple[int, int, int, Fraction] | None] | None = None) -> Bounds:
    """The summing bounds (``domain.order_levels.summing_bounds``) of every instrument with a mark
    and a spec; ``cache`` keeps each instrument's between calls, for a caller whose marks, specs
    and ``params`` stay the same (the kept state's)."""
    cache = {} if cache is None else cache
    symbols = sorted(set(marks) & set(specs))
    for s in symbols:
        if s not in cache:
            cache[s] = summing_bounds(specs[s], marks[s], params.taker_fee_bps)
    return {s: cache[s] for s in symbols if cache[s] is not None}


@dataclass(frozen=True)
class Locked:
    """What a batch on PostgreSQL locks, and so reads, before its write marker: the last order
    sequences of its instruments and the collateral balances of its placing accounts."""

    sequences: dict[str, int]
    balances: dict[LedgerAccount, int]


class BatchReads:
    """Every read from the database, under the batch's locks (``locked``: those taken already)."""

    def __init__(self, uow: UnitOfWork, locked: Locked | None = None):
        self.uow, self.locked = uow, locked

    def existing(self, account_ids: set[int]) -> set[int]:
        return self.uow.accounts.existing(account_ids)

    def key_holders(self, holders: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Of these (API key prefix, account id) pairs, those whose key is the account's and unrevoked."""
        return self.uow.api_keys.active_holders(holders)

    def records(self, symbols: set[str]) -> dict[str, InstrumentRecord]:
        return self.uow.instruments.get_many(symbols)

    def tip_height(self) -> int | None:
        return self.uow.blocks.tip_height()

    def chain_head(self) -> ChainLink | None:
        """The journal chain's last link, when known without a read (None: read at its lock)."""
        return None

    def sequences(self, symbols: Iterable[str]) -> dict[str, int]:
        """The instruments' last order sequences, their rows locked in symbol order."""
        if self.locked is not None:
            return {s: self.locked.sequences[s] for s in symbols if s in self.locked.sequences}
        return self.uow.instruments.lock_sequences(symbols)

    def holdings(self, takers: list[int], symbols: Iterable[str], params: RiskParameters
                 ) -> tuple[dict[str, Holding], dict[str, Decimal], dict[str, ContractSpec], Bounds]:
        """The takers' holdings, and the marks, specs and summing bounds of every instrument they
        or the batch involve."""
        uow = self.uow
        collaterals = [collateral_of(a) for a in takers]
        balances = (uow.ledger.lock_balances(collaterals) if self.locked is None
                    else {c: self.locked.balances[c] for c in collaterals if c in self.locked.balances})
        positions = uow.positions.of_accounts(takers)
        resting_in = uow.orders.resting_instruments_of_accounts(takers)
        involved = set(symbols) | {p.instrument_id for ps in positions.values() for p in ps} | {
            s for ss in resting_in.values() for s in ss}
        marks, specs = self.marks_and_specs(involved)
        bounds = fee_bounds(specs, marks, params)
        holding = {s for a in takers for s in resting_in.get(str(a), set())}
        resting = uow.orders.resting_totals_of_accounts(takers, {s: bounds[s] for s in sorted(holding) if s in bounds})
        holdings = {}
        for a in takers:
            totals, each = resting[str(a)]
            holdings[str(a)] = Holding(
                collateral_sats=balances.get(collateral_of(a), 0),
                positions={p.instrument_id: p for p in positions.get(str(a), ())},
                totals={(s, Side(side)): order_total(str(a), s, side, q, fee) for s, side, q, fee in totals},
                orders={o.order_id: o for o in each})
        return holdings, marks, specs, bounds

    def marks_and_specs(self, symbols: set[str]) -> tuple[dict[str, Decimal], dict[str, ContractSpec]]:
        marks = {s: record.price for s, record in self.uow.marks.latest(symbols).items()} if symbols else {}
        return marks, (self.uow.instruments.specs(symbols) if symbols else {})

    def positions(self, parties: dict[str, set[str]], specs: dict[str, ContractSpec]
                  ) -> dict[str, tuple[dict[str, Position], set[str]]]:
        """Per symbol, the parties' positions (flat for those without a row) and who has a row."""
        return self.uow.positions.in_instruments(parties, specs)


class KeptReads(BatchReads):
    """``BatchReads``' answers from a ``Kept`` state, reading only what it does not hold."""

    def __init__(self, uow: UnitOfWork, kept: Kept, locked: Locked | None = None):
        super().__init__(uow, locked)
        self.kept = kept

    def _checked(self, kept_answer, read):
        if verifying():
            fresh = read()
            if fresh != kept_answer:
                raise AssertionError(f"kept state differs from the database: {kept_answer!r} != {fresh!r}")
        return kept_answer

    def existing(self, account_ids: set[int]) -> set[int]:
        known = {a for a in account_ids if a in self.kept.accounts}
        answer = known | super().existing(set(account_ids) - known)
        return self._checked(answer, lambda: super(KeptReads, self).existing(account_ids))

    def key_holders(self, holders: set[tuple[str, int]]) -> set[tuple[str, int]]:
        known = holders & self.kept.key_holders
        answer = known | super().key_holders(holders - known)
        return self._checked(answer, lambda: super(KeptReads, self).key_holders(holders))

    def records(self, symbols: set[str]) -> dict[str, InstrumentRecord]:
        known = {s: self.kept.records[s] for s in symbols if s in self.kept.records}
        answer = known | super().records(set(symbols) - set(known))
        return self._checked(answer, lambda: super(KeptReads, self).records(symbols))

    def tip_height(self) -> int | None:
        return self._checked(self.kept.tip_height, super().tip_height)

    def chain_head(self) -> ChainLink | None:
        if self.kept.chain_head is None:
            return None
        return self._checked(self.kept.chain_head, self.uow.ledger.chain.head)

    def sequences(self, symbols: Iterable[str]) -> dict[str, int]:
        if self.locked is not None:  # PostgreSQL: locked (and read) already
            return super().sequences(symbols)
        # SQLite: the batch's transaction holds the database's write lock from its BEGIN
        # IMMEDIATE: no row lock to take for the sequences it holds.
        symbols = set(symbols)
        known = {s: self.kept.sequences[s] for s in symbols if s in self.kept.sequences}
        answer = known | super().sequences(symbols - set(known))
        return self._checked(answer, lambda: super(KeptReads, self).sequences(symbols))

    def marks_and_specs(self, symbols: set[str]) -> tuple[dict[str, Decimal], dict[str, ContractSpec]]:
        missing = {s for s in symbols if s not in self.kept.marks or s not in self.kept.specs}
        marks, specs = super().marks_and_specs(missing)
        marks |= {s: self.kept.marks[s] for s in symbols - missing}
        specs |= {s: self.kept.specs[s] for s in symbols - missing}
        return self._checked((marks, specs), lambda: super(KeptReads, self).marks_and_specs(symbols))

    def holdings(self, takers: list[int], symbols: Iterable[str], params: RiskParameters
                 ) -> tuple[dict[str, Holding], dict[str, Decimal], dict[str, ContractSpec], Bounds]:
        known = [a for a in takers if str(a) in self.kept.holdings]
        unknown = [a for a in takers if str(a) not in self.kept.holdings]
        if unknown:
            holdings, marks, specs, _ = super().holdings(unknown, symbols, params)
        else:
            holdings, marks, specs = {}, {}, {}
        holdings |= {str(a): self.kept.holdings[str(a)] for a in known}
        involved = set(symbols) | {s for a in known for s in self.kept.holdings[str(a)].positions} | {
            s for a in known for s in self.kept.holdings[str(a)].resting_instruments()}
        more_marks, more_specs = self.marks_and_specs(involved - set(marks))
        marks, specs = marks | more_marks, specs | more_specs
        if known and verifying():
            fresh = BatchReads(self.uow).holdings(known, (), params)[0]
            for a in known:
                if fresh[str(a)].comparable() != holdings[str(a)].comparable():
                    raise AssertionError(f"kept holding of account {a} differs from the database: "
                                         f"{holdings[str(a)].comparable()!r} != {fresh[str(a)].comparable()!r}")
        # each instrument's bounds worked out once while its mark, spec and the parameters stay
        # those kept (the kept state is dropped when any of them changes)
        bounds = fee_bounds(specs, marks, params, self.kept.bounds)
        return holdings, marks, specs, self._checked(bounds, lambda: fee_bounds(specs, marks, params))

    def positions(self, parties: dict[str, set[str]], specs: dict[str, ContractSpec]
                  ) -> dict[str, tuple[dict[str, Position], set[str]]]:
        kept = self.kept
        missing = {s: {a for a in ids if (a, s) not in kept.positions} for s, ids in parties.items()}
        read = super().positions({s: ids for s, ids in missing.items() if ids}, specs)
        answer = {}
        for symbol, ids in parties.items():
            found, stored = read.get(symbol, ({}, set()))
            found = dict(found) | {a: kept.positions[(a, symbol)] for a in ids - missing[symbol]}
            stored = set(stored) | {a for a in ids - missing[symbol] if (a, symbol) in kept.stored}
            answer[symbol] = (found, stored)
        return self._checked(answer, lambda: super(KeptReads, self).positions(parties, specs))


def reads_for(uow: UnitOfWork, kept: Kept | None, params: RiskParameters, locked: Locked | None = None
              ) -> BatchReads:
    """``KeptReads`` over ``kept`` if it was kept under the same parameters, else ``BatchReads``."""
    if kept is not None and kept.params == params:
        return KeptReads(uow, kept, locked)
    return BatchReads(uow, locked)

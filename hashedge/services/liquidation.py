"""Liquidation use cases: liquidate one account, and the sweep that finds the accounts to liquidate.

``liquidate_account`` is ONE transaction per account. It loads the engine's inputs under the locks
below, re-checks that the account is still liquidatable, runs the pure engine
(``domain.liquidation.liquidate``) and stores what it decided: the account's cancelled orders, the
liquidation's IOC orders and the makers they traded with, every fill through the same booking as
any trade (``services.trading.record_fill``: trade record, positions, fees, realized PnL), the
penalty into ``penalty_escrow``, each shortfall stage's payment, the account events, and the record
with the inputs and outcome as canonical JSON. It then checks the account's stored collateral
equals the engine's (a mismatch is a bug: nothing is committed). Killed half-way, it leaves
nothing; run again from the same state (and clock) it writes the identical ledger: ids come from
the inputs (``L<account id>-<n>`` for the account's n-th liquidation, the instruments' order
sequences), never from a random number.

Lock order (the journal's, ``hashedge/domain/JOURNAL.md``, so writers queue instead of deadlocking):
1. the instrument sequence rows of every instrument the account holds or has orders in, in symbol
   order (as matching and settlement take them);
2. the collateral rows of the account, of the makers its liquidation orders can reach and of the
   opposite-position holders it may deleverage, of the backstop offers' owners and of the backstop
   pool's account, in key order, in one statement;
3. the waterfall lock (``LiquidationRepository.lock_waterfall``): one liquidation at a time reads
   the insurance fund and decides what it pays. Only liquidations draw from the fund; everyone
   else only adds to it, so the balance read under this lock can only understate what is there;
4. at commit, like every transaction, the platform balance rows it changes (fees, settlement
   clearing, penalty escrow, the insurance fund) in key order, then the journal's chain lock.

The deleveraging candidates to lock come from the sweep's snapshot (``AdlQueues``: the queue of
each instrument and side, ranked by the domain); the engine ranks the locked ones again on their
state under the locks. If those run out while more opposite positions exist, the transaction is
rolled back and run again with a longer list (``NeedMoreCandidates``).

``sweep``: the vectorized risk sweep (``services.risk``), margin-call events for status changes
(``services.margin_calls``), then each liquidatable account, worst first, each in its own
transaction; repeated (at most ``MAX_ROUNDS``) while liquidations change other accounts (ADL), so
no account is left below maintenance while a stage could still act.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from hashedge import faults
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.liquidation import StoredLiquidation
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.account_events import AccountEvent, EventKind
from hashedge.domain.backstop.offers import BackstopOffer
from hashedge.domain.liquidation import NeedMoreCandidates, liquidate
from hashedge.domain.liquidation.adl import AdlCandidate, rank
from hashedge.domain.liquidation.penalties import otc_exposure
from hashedge.domain.liquidation.record import (
    LiquidationInputs,
    LiquidationOutcome,
    canonical,
    inputs_json,
    outcome_json,
)
from hashedge.domain.margin import MarginStatus, account_margin
from hashedge.domain.marks import price_band
from hashedge.domain.orders import Order, OrderType, Side, TimeInForce
from hashedge.domain.parameters import RiskParameters
from hashedge.services.ledger import post
from hashedge.services.margin import (
    account_state,
    account_states,
    latest_marks,
    parameter_version,
    withdrawal_requirement_sats,
)
from hashedge.services import adl_ranks, protection_events
from hashedge.services.margin_calls import record_status_changes
from hashedge.services.risk import RiskSnapshot, RiskSweep
from hashedge.services.risk import sweep as risk_sweep
from hashedge.services.trading import record_fill

log = logging.getLogger(__name__)

MAX_ROUNDS = 5
STAGE_KINDS = {"book": "liquidation", "adl": "adl", "backstop_offers": "backstop",
               "backstop_pool": "pool"}  # trade kind of each takeover stage's fills
COVER_SOURCES = {"insurance_fund": ledger.INSURANCE_FUND}  # the pool pays from its own account's collateral


class LiquidationMismatch(RuntimeError):
    """The stored collateral after booking differs from the engine's: a bug; nothing is committed."""


@dataclass(frozen=True)
class LiquidationResult:
    liquidation_id: str
    account_id: int
    outcome: LiquidationOutcome


@dataclass
class SweepReport:
    as_of: datetime
    rounds: int = 0
    liquidations: list[LiquidationResult] = field(default_factory=list)
    events: list[AccountEvent] = field(default_factory=list)
    left_liquidatable: list[int] = field(default_factory=list)  # no stage could act on them
    adl_ranks_changed: int = 0  # positions whose published ADL rank changed (``services.adl_ranks``)

    def as_dict(self) -> dict:
        outcomes = [r.outcome for r in self.liquidations]
        return {
            "as_of": self.as_of.isoformat(), "rounds": self.rounds, "liquidations": len(outcomes),
            "liquidation_ids": [r.liquidation_id for r in self.liquidations],
            "penalties_sats": sum(o.penalty_sats for o in outcomes),
            "insurance_fund_sats": sum(o.covered_by("insurance_fund") for o in outcomes),
            "protection_sats": sum(o.covered_by("protection") for o in outcomes),
            "adl_events": sum(len(o.adl_events) for o in outcomes),
            "uncovered_loss_sats": sum(o.uncovered_sats for o in outcomes),
            "backstop_fills": sum(1 for o in outcomes for f in o.fills if f.stage == "backstop_offers"),
            "pool_takeovers": sum(1 for o in outcomes for f in o.fills if f.stage == "backstop_pool"),
            "pool_cover_sats": sum(o.covered_by("backstop_pool") for o in outcomes),
            "margin_calls": sum(1 for e in self.events if e.kind is EventKind.MARGIN_CALL),
            "left_liquidatable": self.left_liquidatable, "adl_ranks_changed": self.adl_ranks_changed,
        }


# --- whom a liquidation may deleverage ---------------------------------------------------------


class AdlQueues:
    """The deleveraging queue of each instrument and side, from a sweep's snapshot (ranked by the
    domain, built on first use): it only decides whom a liquidation locks. What the sweep's own
    liquidations deleverage is taken off (``consumed``), so later ones lock who still holds."""

    def __init__(self, snapshot: RiskSnapshot, equity_sats: dict[str, int],
                 protected: dict[str, set[str]] | None = None):
        self._snapshot, self._equity = snapshot, equity_sats
        self._protected = protected or {}  # per instrument: positions protection in force covers
        self._ranked: dict[tuple[str, bool], list[AdlCandidate]] = {}
        self._left: dict[tuple[str, str], int] = {}  # (symbol, account) -> contracts still held

    def ranked(self, symbol: str, longs: bool) -> list[AdlCandidate]:
        key = (symbol, longs)
        if key not in self._ranked:
            frame = self._snapshot.positions
            rows = frame[frame["instrument_id"] == symbol]
            multiplier = self._snapshot.specs[symbol].multiplier if symbol in self._snapshot.specs else Decimal(1)
            covered = self._protected.get(symbol, set())
            candidates = [AdlCandidate(account_id=a, quantity=int(q), open_value=v, multiplier=multiplier,
                                       equity_sats=int(self._equity.get(a, 0)), protected=a in covered)
                          for a, q, v in zip(rows["account_id"], rows["quantity"], rows["open_value"])
                          if (q > 0) == longs]
            self._ranked[key] = rank(candidates, self._snapshot.marks[symbol]) if candidates else []
        return self._ranked[key]

    def choose(self, symbol: str, longs: bool, exclude: str, needed: int, factor: int) -> tuple[list[str], bool]:
        """Accounts from the top of the queue holding ``factor`` times ``needed`` contracts, and
        ``factor`` more accounts besides; and whether that is everyone in the queue."""
        chosen, total, extra = [], 0, 0
        queue = [c for c in self.ranked(symbol, longs) if c.account_id != exclude]
        for candidate in queue:
            held = self._left.get((symbol, candidate.account_id), abs(candidate.quantity))
            if held == 0:
                continue
            if total >= needed * factor:
                if extra >= factor:
                    return chosen, False
                extra += 1
            chosen.append(candidate.account_id)
            total += held
        return chosen, True

    def consumed(self, outcome: LiquidationOutcome) -> None:
        for item in outcome.fills:
            if item.stage == "adl":
                key = (item.fill.instrument_id, item.counterparty)
                before = self._left.get(key)
                if before is None:
                    longs = item.fill.seller_account_id == item.counterparty
                    before = next((abs(c.quantity) for c in self.ranked(item.fill.instrument_id, longs)
                                   if c.account_id == item.counterparty), item.fill.quantity)
                self._left[key] = max(before - item.fill.quantity, 0)


def queues_from(result: RiskSweep, protected: dict[str, set[str]] | None = None) -> AdlQueues:
    """The sweep's queues; ``protected`` (``ProtectionRepository.protected_positions``) ranks the
    positions protection in force covers after every unprotected one, as the engine does."""
    equity = {str(a): int(e) for a, e in zip(result.accounts.index, result.accounts["equity_sats"])}
    assert result.snapshot is not None
    return AdlQueues(result.snapshot, equity, protected)


# --- one account ---------------------------------------------------------------------------------


class _InstrumentsChanged(Exception):
    """The account traded in another instrument between the first read and the locks."""


def liquidate_account(new_uow: Callable[[], UnitOfWork], clock: Clock, account_id: int,
                      queues: AdlQueues) -> LiquidationResult | None:
    """Liquidate the account if it is (still) liquidatable; ``None`` if it is not, or nothing in it
    can be liquidated (module docstring)."""
    factor = 4  # earlier liquidations of the sweep may have deleveraged the snapshot's first candidates
    for _ in range(20):
        try:
            return _liquidate_once(new_uow(), clock, account_id, queues, factor)
        except NeedMoreCandidates as more:
            log.info("liquidation of %s: more deleveraging candidates needed in %s", account_id, more.instrument_id)
            factor *= 8
        except _InstrumentsChanged:
            continue
    raise RuntimeError(f"liquidation of account {account_id} kept changing under it; retry later")


def _symbols(state) -> list[str]:
    return sorted({p.instrument_id for p in state.positions} | {o.instrument_id for o in state.open_orders})


def _liquidate_once(uow: UnitOfWork, clock: Clock, account_id: int, queues: AdlQueues,
                    factor: int) -> LiquidationResult | None:
    now, owner = clock.now(), str(account_id)
    with uow:
        version, params = parameter_version(uow, now)
        symbols = _symbols(account_state(uow, account_id))
        uow.instruments.lock_sequences(symbols)  # 1. instruments, in symbol order
        state = account_state(uow, account_id)
        if _symbols(state) != symbols:  # it traded in another instrument meanwhile: start again
            raise _InstrumentsChanged()
        records = {s: uow.instruments.get(s) for s in symbols}
        tip = uow.blocks.tip_height()
        tradable = {s for s, r in records.items() if r.status == "listed" and r.spec.is_trading_open(now, tip)}
        marks = latest_marks(uow, symbols)
        closing = [p for p in state.positions
                   if not records[p.instrument_id].spec.is_capped and p.instrument_id in tradable]
        books, candidates, whole_queue = {}, set(), set()
        for position in closing:
            spec = records[position.instrument_id].spec
            books[spec.symbol] = _reachable_orders(uow, spec, position.quantity, marks[spec.symbol], owner, params, now)
            longs = position.quantity < 0  # a short is closed against longs
            chosen, everyone = queues.choose(spec.symbol, longs, owner, abs(position.quantity), factor)
            candidates |= set(chosen)
            if everyone:
                whole_queue.add(spec.symbol)
        makers = {o.account_id for orders in books.values() for o in orders}
        offers = _offers(uow, closing, owner)
        pool_id = uow.pool.account_id()
        backstops = {o.account_id for found in offers.values() for o in found} | (
            {str(pool_id)} if pool_id is not None and str(pool_id) != owner else set())
        contracts = protection_events.in_force(uow, account_id, candidates, now.date())
        protected = {str(a) for a in protection_events.parties(contracts)}
        uow.ledger.lock_balances([collateral_of(int(a))  # 2.
                                  for a in {owner} | makers | candidates | backstops | protected])
        uow.liquidations.lock_waterfall()  # 3. the funds' decisions, one liquidation at a time
        available = uow.ledger.balances([ledger.INSURANCE_FUND])  # only liquidations draw from it
        counterparties = account_states(uow, sorted(candidates | makers | backstops, key=int))
        all_symbols = set(symbols) | {p.instrument_id for s in counterparties.values() for p in s.positions}
        marks = latest_marks(uow, all_symbols)
        specs = {s: (records[s] if s in records else uow.instruments.get(s)).spec for s in all_symbols}
        if account_margin(state, marks, params, specs=specs).status is not MarginStatus.LIQUIDATABLE or not closing:
            return None
        sequence = uow.liquidations.count_for(account_id) + 1
        inputs = LiquidationInputs(
            liquidation_id=f"L{account_id}-{sequence}", occurred_at=now, account=state, marks=marks, specs=specs,
            params=params, books=books, last_sequences={s: uow.instruments.lock_sequence(s) for s in books},
            counterparties=counterparties,
            complete_queues=frozenset(s for s in whole_queue if _queue_complete(uow, s, state, counterparties)),
            closed_instruments=frozenset(set(symbols) - tradable),
            available_sats={"insurance_fund": available.get(ledger.INSURANCE_FUND, 0)}
            | _pool_available(uow, pool_id, owner),
            otc_exposure_sats=_otc_exposure(uow, owner), backstop_offers=offers,
            pool_account_id=str(pool_id) if pool_id is not None and str(pool_id) != owner else None,
            protection=tuple(s.contract for s in contracts),
            protection_capacity_sats=protection_events.capacities(uow, account_id, contracts),
        )
        outcome = liquidate(inputs)
        _store(uow, inputs, outcome, sequence, now, params, version.id if version else None, contracts)
        faults.checkpoint("liquidation.before_commit")
        uow.commit()
    return LiquidationResult(inputs.liquidation_id, account_id, outcome)


def _reachable_orders(uow: UnitOfWork, spec, quantity: int, mark: Decimal, owner: str, params: RiskParameters,
                      now: datetime) -> tuple[Order, ...]:
    """Other accounts' resting orders a liquidation order at the band's edge would cross."""
    side = Side.SELL if quantity > 0 else Side.BUY
    low, high = price_band(spec, mark, params.liquidation_book_band_ratio)
    probe = Order(order_id="probe", account_id=owner, instrument_id=spec.symbol, side=side, quantity=abs(quantity),
                  sequence=0, created_at=now, order_type=OrderType.LIMIT, price=low if side is Side.SELL else high,
                  time_in_force=TimeInForce.IOC)
    return tuple(sorted((o for o in uow.orders.crossed_by(probe, spec.tick_size) if o.account_id != owner),
                        key=lambda o: o.sequence))


def _offers(uow: UnitOfWork, closing, owner: str) -> dict[str, tuple[BackstopOffer, ...]]:
    """Other accounts' active backstop offers on the side that takes over each position. Read under
    the instruments' locks: every liquidation that could fill an offer holds its instrument's lock,
    so no other fills it meanwhile (the pool, shared by all instruments, is read under its account's
    collateral lock, step 2)."""
    found = {}
    for position in closing:
        side = Side.BUY if position.quantity > 0 else Side.SELL  # a long is taken over by a buyer
        offers = tuple(BackstopOffer(offer_id=o.id, account_id=str(o.account_id), instrument_id=o.instrument,
                                     side=side, remaining=o.remaining, max_discount_bps=o.max_discount_bps)
                       for o in uow.backstop_offers.active(position.instrument_id, side.value)
                       if str(o.account_id) != owner and o.remaining > 0)
        if offers:
            found[position.instrument_id] = offers
    return found


def _pool_available(uow: UnitOfWork, pool_id: int | None, owner: str) -> dict[str, int]:
    """What the pool can pay for a shortfall: its free collateral (under its lock)."""
    if pool_id is None or str(pool_id) == owner:
        return {}
    balance = uow.ledger.balances([collateral_of(pool_id)]).get(collateral_of(pool_id), 0)
    return {"backstop_pool": max(0, balance - withdrawal_requirement_sats(pool_id, uow))}


def _otc_exposure(uow: UnitOfWork, owner: str) -> dict[str, int]:
    """The account's OTC counterparties' open exposure to it (for the nightly penalty split)."""
    blocks = uow.trades.blocks_of(int(owner))
    if not blocks:
        return {}
    symbols = {f.instrument_id for f in blocks}
    specs = {s: uow.instruments.get(s).spec for s in symbols}
    marks = {s: record.price for s, record in uow.marks.latest(symbols).items()}
    pairs = {(f.seller_account_id if f.buyer_account_id == owner else f.buyer_account_id, f.instrument_id)
             for f in blocks}
    positions = {(a, s): uow.positions.get(int(a), specs[s]).quantity for a, s in pairs}
    return otc_exposure(owner, blocks, positions, marks, specs)


def _queue_complete(uow: UnitOfWork, symbol: str, state, locked: dict) -> bool:
    """Whether every opposite position of ``symbol`` belongs to a locked account (counted under the
    instrument's lock, so no position appears meanwhile). Only asked when the snapshot's whole queue
    was locked: otherwise the queue is incomplete, and running out of it means more are loaded."""
    long = state.position(symbol) < 0  # a short is closed against longs
    held = sum(1 for s in locked.values() if (s.position(symbol) > 0) == long and s.position(symbol) != 0)
    return uow.positions.count_holders(symbol, long=long, excluding=int(state.account_id)) == held


def _store(uow: UnitOfWork, inputs: LiquidationInputs, outcome: LiquidationOutcome, sequence: int, now: datetime,
           params: RiskParameters, parameters_version_id: int | None, contracts=()) -> None:
    owner, key = inputs.account.account_id, inputs.liquidation_id
    for order in outcome.cancelled_orders:
        uow.orders.save_state(order, now)
    for order in outcome.orders:
        spec = inputs.specs[order.instrument_id]
        uow.orders.add(order, style="liquidation", idempotency_key=None, at=now, tick_size=spec.tick_size)
        uow.instruments.set_sequence(order.instrument_id, order.sequence)
    for maker in outcome.maker_updates:
        uow.orders.save_state(maker, now)
    for item in outcome.fills:
        record_fill(uow, inputs.specs[item.fill.instrument_id], item.fill, kind=STAGE_KINDS[item.stage],
                    params=params, now=now, fees_sats=item.fees_sats)
    if outcome.penalty_sats:
        ledger_entry = ledger.penalty(owner, outcome.penalty_sats, idempotency_key=f"liquidation:{key}:penalty",
                                      occurred_at=now, memo=f"liquidation penalty {key}")
        post(uow, ledger_entry, now)
    for item in outcome.offer_fills:
        uow.backstop_offers.add_fill(item.offer_id, item.quantity)
    sources = dict(COVER_SOURCES)
    if inputs.pool_account_id is not None:
        sources["backstop_pool"] = ledger.collateral(inputs.pool_account_id)
    for cover in outcome.covers:
        if cover.amount_sats and cover.stage in sources:
            post(uow, ledger.shortfall_cover(sources[cover.stage], owner, cover.amount_sats,
                                              idempotency_key=f"liquidation:{key}:cover:{cover.stage}",
                                              occurred_at=now, memo=f"{cover.stage} covers liquidation {key}"), now)
    protection_events.settle(uow, inputs, outcome, list(contracts), now, params)  # the protection stage, events
    stored = uow.ledger.balances([collateral_of(int(owner))]).get(collateral_of(int(owner)), 0)
    if stored != outcome.collateral_after_sats:
        raise LiquidationMismatch(f"liquidation {key}: collateral {stored} sats stored, "
                                  f"{outcome.collateral_after_sats} sats computed")
    uow.liquidations.add(StoredLiquidation(
        id=key, account_id=int(owner), sequence=sequence, occurred_at=now, business_date=now.date(),
        notional_closed_sats=outcome.notional_closed_sats, penalty_sats=outcome.penalty_sats,
        shortfall_sats=outcome.shortfall_sats, insurance_fund_sats=outcome.covered_by("insurance_fund"),
        adl_contracts=sum(f.fill.quantity for f in outcome.fills if f.stage == "adl"),
        uncovered_sats=outcome.uncovered_sats, inputs={}, outcome={}, parameters_version_id=parameters_version_id),
        inputs_text=canonical(inputs_json(inputs)), outcome_text=canonical(outcome_json(outcome)))
    events = [AccountEvent(account_id=owner, kind=EventKind.LIQUIDATION, occurred_at=now, standing=outcome.after,
                           liquidation_id=key, detail={
                               "penalty_sats": outcome.penalty_sats, "shortfall_sats": outcome.shortfall_sats,
                               "uncovered_sats": outcome.uncovered_sats,
                               "contracts_closed": sum(f.fill.quantity for f in outcome.fills)})]
    events += [AccountEvent(account_id=e.account_id, kind=EventKind.ADL, occurred_at=now, standing=e.standing,
                            liquidation_id=key, detail={"instrument": e.instrument_id, "quantity": e.quantity,
                                                        "notional_sats": e.notional_sats})
               for e in outcome.adl_events]
    uow.account_events.add_many(events)
    uow.account_status.set(owner, outcome.after.status, now)


# --- the sweep --------------------------------------------------------------------------------


def sweep(new_uow: Callable[[], UnitOfWork], clock: Clock, *, max_rounds: int = MAX_ROUNDS) -> SweepReport:
    """Find and liquidate every liquidatable account (module docstring)."""
    report = SweepReport(clock.now())
    done: set[int] = set()
    for _ in range(max_rounds):
        result = risk_sweep(new_uow(), clock)
        report.rounds += 1
        report.events += record_status_changes(new_uow(), result)
        frame = result.at_risk()
        liquidatable = [int(a) for a in frame.index[frame["status"] == MarginStatus.LIQUIDATABLE.value]]
        todo = [a for a in liquidatable if a not in done]
        if not todo:
            break
        with new_uow().read_only() as uow:  # whom to lock first: protected positions go last
            protected = uow.protection.protected_positions(clock.now().date())
        queues = queues_from(result, protected)
        for account_id in todo:
            liquidated = liquidate_account(new_uow, clock, account_id, queues)
            if liquidated is None:
                done.add(account_id)
            else:
                queues.consumed(liquidated.outcome)
                report.liquidations.append(liquidated)
                if liquidated.outcome.unabsorbed or liquidated.outcome.after.status is MarginStatus.LIQUIDATABLE:
                    done.add(account_id)  # nothing more can act on it this sweep
    final = risk_sweep(new_uow(), clock)
    report.events += record_status_changes(new_uow(), final)
    with new_uow().read_only() as uow:
        protected = uow.protection.protected_positions(clock.now().date())
    report.adl_ranks_changed = adl_ranks.publish(new_uow, queues_from(final, protected), final.snapshot, clock.now())
    report.left_liquidatable = sorted(int(a) for a in final.accounts.index[
        final.accounts["status"] == MarginStatus.LIQUIDATABLE.value])
    return report

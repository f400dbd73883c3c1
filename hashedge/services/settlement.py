"""Daily settlement of a business date: variation margin, then final settlement of expiries.

``run_daily_settlement(uow, clock, business_date)`` runs once per date, in one transaction,
recorded in ``settlement_runs`` under (date, ``daily``): running it again returns the recorded
summary and changes nothing.

1. **Variation margin** (CME-style): every instrument with open positions and a mark as of the
   date's close (00:00 UTC the next day) is settled at that mark. Each position is re-marked
   (``Position.mark_to``): its open PnL is crystallized and its entry value reset to the
   settlement price. One ``variation_margin`` entry for the date moves each account's PnL (net
   over its instruments; the summary keeps it per instrument) to or from collateral against
   settlement clearing; gains and losses net to zero except for the sub-sat rounding (down,
   against the account) that stays in clearing.
2. **Final settlement**: every contract whose last trading time is at or before the close and
   whose fixings are all published is settled at ``domain.settlement.settlement_price`` (clamped
   by ``final_price`` for capped contracts): positions expire (``Position.expire``), resting
   orders are cancelled, one ``final_settlement`` entry, and the instrument becomes ``settled``.
   A contract whose fixings are not all in yet stays ``expired`` and is reported as pending; a
   later date's run settles it.

3. **Penalties** (a final run only, never a provisional one): every closed date up to this one
   whose liquidation penalties have not been shared out yet is distributed
   (``services.penalties.distribute_due``), in the same transaction.
4. **Default protection** (a final run only): the date's premiums, marks, sellers' collateral moves
   and expiries (``services.protection_nightly``), in the same transaction.

A date that has not begun is refused, and so is a date before the platform's first listing
(nothing traded then). **Today** may be settled before its close, but only *provisionally*, as a
clearing house makes an intraday margin call: variation margin at the marks as of now, recorded
as the date's ``provisional`` run (one per date; its entry is keyed apart from the close's), and
nothing expires. The date is not done: after 00:00 UTC its close settles as usual, re-marking
from the provisional marks, so over the two runs each position is paid the move from its last
settlement price to the close, as one run at the close would pay it (each run rounds down, by
less than a sat per position, into clearing, as always). Refusing today would take away the
intraday margin call a clearing house relies on in a fast market; letting it stand for the close
would settle the day at a price that was not the close. ``run_due_settlements`` (the nightly job)
settles every closed date since the last one settled, oldest first, each in its own transaction;
after each it executes the backstop pool's due withdrawals and records the date's pool NAV
(``services.pool``, each its own transaction: a crash between them leaves the withdrawals due, and
the next run executes them).

Locks: the instruments' sequence rows in symbol order, then the collateral rows of every
account with a position, in key order (the order ``place_order`` uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.book import OrderBook
from hashedge.domain.orders import CancelReason
from hashedge.domain.settlement import MissingFixings, final_price, settlement_price
from hashedge.errors import InvalidInput
from hashedge.services.ledger import post
from hashedge.services import pool, protection_nightly
from hashedge.services.fee_distribution import distribute_fees_due
from hashedge.services.penalties import distribute_due
from hashedge.services.protection_nightly import run_nightly

DAILY = "daily"
PROVISIONAL = "provisional"  # today's early run: intraday variation margin, the close still to come


@dataclass(frozen=True)
class SettlementSummary:
    business_date: date
    already_done: bool
    variation_margin_sats: dict[str, dict[str, int]] = field(default_factory=dict)  # symbol -> account -> sats
    settlement_prices: dict[str, str] = field(default_factory=dict)
    final_settlements: dict[str, dict[str, int]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # symbol -> why it is not settled yet
    provisional: bool = False  # an early run of today: the date's close is still to settle
    marks_as_of: datetime | None = None  # the close, or the moment of a provisional run
    penalties_sats: dict[str, int] = field(default_factory=dict)  # date -> penalties shared out by this run
    fees_sats: dict[str, int] = field(default_factory=dict)  # date -> trading fees shared out by this run
    protection: dict = field(default_factory=dict)  # the nightly protection run (services.protection_nightly)

    def as_dict(self) -> dict:
        return {"provisional": self.provisional,
                "marks_as_of": None if self.marks_as_of is None else self.marks_as_of.isoformat(),
                "variation_margin_sats": self.variation_margin_sats, "settlement_prices": self.settlement_prices,
                "final_settlements": self.final_settlements, "pending": self.pending,
                "penalties_sats": self.penalties_sats, "fees_sats": self.fees_sats,
                **({"protection": self.protection} if self.protection else {})}


def business_day_close(business_date: date) -> datetime:
    """A business date closes at 00:00 UTC of the next day."""
    return datetime.combine(business_date + timedelta(days=1), time(0), tzinfo=timezone.utc)


def run_daily_settlement(uow: UnitOfWork, clock: Clock, business_date: date) -> SettlementSummary:
    if not isinstance(business_date, date) or isinstance(business_date, datetime):
        raise InvalidInput("business date must be a date", fields={"date": ["expected YYYY-MM-DD"]})
    now, close = clock.now(), business_day_close(business_date)
    if business_date > now.date():
        raise InvalidInput(f"business date {business_date} has not begun",
                           fields={"date": ["must be today or earlier (UTC)"]})
    provisional = now < close  # today: an intraday run at the marks as of now (module docstring)
    cutoff, kind = (now, PROVISIONAL) if provisional else (close, DAILY)
    with uow:
        _require_listed_by(uow, business_date)
        records = {r.symbol: r for r in uow.instruments.all(("listed", "expired"))}
        uow.instruments.lock_sequences(records)
        done = uow.settlement_runs.get(business_date, kind)  # read under the locks: runs queue
        if done is not None:
            return _from_record(business_date, done.summary)
        with_positions = uow.positions.instruments_with_positions() & set(records)
        positions = {s: uow.positions.open_in(s, records[s].spec.multiplier) for s in sorted(with_positions)}
        owners = {int(p.account_id) for held in positions.values() for p in held}
        contracts = [] if provisional else protection_nightly.due(uow, business_date)
        owners |= protection_nightly.parties(contracts)
        uow.ledger.lock_balances([collateral_of(owner) for owner in owners])
        summary = SettlementSummary(business_date, already_done=False, provisional=provisional, marks_as_of=cutoff)
        marks = uow.marks.latest(with_positions, at_or_before=cutoff)
        total_sats: dict[str, int] = {}
        for symbol, held in positions.items():
            if symbol not in marks:
                summary.pending[symbol] = f"no mark as of {cutoff.isoformat()}"
                continue
            price = marks[symbol].price
            summary.settlement_prices[symbol] = format(price, "f")
            summary.variation_margin_sats[symbol] = amounts = _remark(uow, held, lambda p: p.mark_to(price), now)
            for owner, amount in amounts.items():
                total_sats[owner] = total_sats.get(owner, 0) + amount
        key = f"settlement:{business_date.isoformat()}:{'provisional:' if provisional else ''}variation_margin"
        entry = ledger.variation_margin(total_sats, idempotency_key=key, occurred_at=now, memo=key)
        if entry is not None:  # one entry for the date: each account's net over its instruments
            post(uow, entry, now)
        if not provisional:  # expiries settle at the close only, and penalties after a date closes
            for symbol, record in records.items():
                if record.spec.last_trading_time <= close:
                    _final(uow, record, summary, business_date, now)
            for paid in distribute_due(uow, now, business_date):
                summary.penalties_sats[paid.business_date.isoformat()] = paid.total_sats
            for shared in distribute_fees_due(uow, now, business_date):
                summary.fees_sats[shared.business_date.isoformat()] = shared.total_sats
            if contracts:
                summary.protection.update(run_nightly(uow, now, business_date, contracts).as_dict())
        uow.settlement_runs.add_completed(business_date, kind, summary.as_dict(), now, clock.now())
        uow.commit()
    return summary


def _require_listed_by(uow: UnitOfWork, business_date: date) -> None:
    """Refuse a date before the platform's first listing: nothing traded, nothing to settle."""
    first = uow.instruments.first_listed_at()
    if first is None:
        raise InvalidInput(f"cannot settle {business_date}: no contract has been listed yet",
                           fields={"date": ["nothing has been listed yet"]})
    if business_date < first.date():
        raise InvalidInput(f"cannot settle {business_date}: it is before the platform's first listing "
                           f"({first.date()})", fields={"date": [f"must be {first.date()} or later"]})


def _remark(uow: UnitOfWork, held, change, now: datetime) -> dict[str, int]:
    """Apply ``change`` to each position, store them, and return the PnL each one crystallized."""
    amounts: dict[str, int] = {}
    changed = []
    for before in held:
        after = change(before)
        changed.append(after)
        amounts[before.account_id] = after.realized_pnl_sats - before.realized_pnl_sats
    uow.positions.save_many(changed, now)
    return amounts


def _apply(uow: UnitOfWork, held, change, builder, key: str, now: datetime) -> dict[str, int]:
    amounts = _remark(uow, held, change, now)
    entry = builder(amounts, idempotency_key=key, occurred_at=now, memo=key)
    if entry is not None:
        post(uow, entry, now)
    return amounts


def _final(uow: UnitOfWork, record, summary: SettlementSummary, business_date: date, now: datetime) -> None:
    spec = record.spec
    fixings = uow.fixings.latest(spec.underlying)
    try:
        price = final_price(spec, settlement_price(spec, fixings))
    except MissingFixings as exc:
        uow.instruments.set_status(spec.symbol, "expired")
        summary.pending[spec.symbol] = str(exc)
        return
    book = OrderBook.from_resting(spec.trading_rules(), uow.orders.resting(spec.symbol))
    for order in book.resting_orders():
        uow.orders.save_state(order.cancelled(CancelReason.EXPIRY), now)
    held = uow.positions.open_in(spec.symbol, spec.multiplier)
    uow.ledger.lock_balances([collateral_of(int(p.account_id)) for p in held])
    summary.final_settlements[spec.symbol] = _apply(
        uow, held, lambda p: p.expire(price), ledger.final_settlement,
        f"settlement:{business_date.isoformat()}:final:{spec.symbol}", now)
    summary.settlement_prices[spec.symbol] = format(price, "f")
    uow.instruments.set_status(spec.symbol, "settled", final_price=price, settled_at=now)


def _from_record(business_date: date, stored: dict) -> SettlementSummary:
    as_of = stored.get("marks_as_of")
    return SettlementSummary(business_date, True, stored.get("variation_margin_sats", {}),
                             stored.get("settlement_prices", {}), stored.get("final_settlements", {}),
                             stored.get("pending", {}), stored.get("provisional", False),
                             None if as_of is None else datetime.fromisoformat(as_of), stored.get("penalties_sats", {}),
                             stored.get("fees_sats", {}),
                             stored.get("protection", {}))


def run_due_settlements(new_uow: Callable[[], UnitOfWork], clock: Clock) -> list[SettlementSummary]:
    """Settle every closed business date after the last settled one, up to yesterday (UTC).

    With no settlement on record it settles yesterday only: history before the platform's first
    run has nothing to re-mark. Never a date before the first listing (nothing at all before
    one). Each date commits on its own, so an interrupted catch-up resumes where it stopped.
    """
    yesterday = clock.now().date() - timedelta(days=1)
    with new_uow() as uow:
        last = uow.settlement_runs.latest_date(DAILY)
        first_listed = uow.instruments.first_listed_at()
    if first_listed is None:
        return []
    first = max(yesterday if last is None else last + timedelta(days=1), first_listed.date())
    summaries = []
    day = first
    while day <= yesterday:
        summary = run_daily_settlement(new_uow(), clock, day)
        summaries.append(summary)
        if not summary.already_done:  # the backstop pool: due withdrawals at the NAV, then the date's NAV
            pool.execute_due_withdrawals(new_uow(), clock)
            pool.record_nav(new_uow(), clock, day)
        day += timedelta(days=1)
    return summaries

"""The nightly distribution of liquidation penalties, one business date at a time.

A date's penalties are those of the liquidations that occurred on it (UTC), waiting in the
``penalty_escrow`` account. Once the date has closed they are shared out by the governed split
(``domain.liquidation.penalties.split``): the accounts that took the other side of the
liquidations' fills, pro rata to the notional they took (book makers, auto-deleveraged
positions); the defaulted accounts' OTC block-trade counterparties, pro rata to the open exposure
recorded at each liquidation; the insurance fund; the community fund. Accounts liquidated that
date are not paid a share. Each recipient's share is rounded down and the remainder goes to the
insurance fund, stated in the summary.

One journal entry per date (``penalties:<date>``: the escrow debited, one posting per recipient, so
a statement line each) and one ``settlement_runs`` row (kind ``penalties``) in the same
transaction: a date is paid exactly once, a crash before the commit pays nothing, and a second run
changes nothing. The parameters are the ones in force when the date is distributed.

``distribute_due`` runs inside the nightly settlement's transaction (``services.settlement``): it
pays every closed date up to the one being settled that has penalties and no distribution yet, so
an early settlement of today leaves today's penalties to the first run after today closes.
``distribute_penalties`` is the same for one date by hand (``hashedge penalties distribute``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hashedge import faults
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.liquidation.penalties import split
from hashedge.domain.liquidation.record import fill_from_json
from hashedge.errors import InvalidInput
from hashedge.services.ledger import post
from hashedge.services.margin import risk_parameters

PENALTIES = "penalties"  # the settlement_runs kind


@dataclass(frozen=True)
class Distribution:
    business_date: date
    already_done: bool
    total_sats: int
    recipients_sats: dict[str, int]  # account id -> sats
    insurance_fund_sats: int
    community_fund_sats: int
    remainder_sats: int  # what rounding and shares without recipients added to the insurance fund
    liquidations: list[str]

    def as_dict(self) -> dict:
        return {"business_date": self.business_date.isoformat(), "already_done": self.already_done,
                "total_sats": self.total_sats, "recipients_sats": self.recipients_sats,
                "insurance_fund_sats": self.insurance_fund_sats, "community_fund_sats": self.community_fund_sats,
                "remainder_sats": self.remainder_sats, "liquidations": self.liquidations}


def _closes(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=timezone.utc)


def _from_record(day: date, summary: dict) -> Distribution:
    return Distribution(day, True, summary["total_sats"], summary["recipients_sats"], summary["insurance_fund_sats"],
                        summary["community_fund_sats"], summary["remainder_sats"], summary["liquidations"])


def distribute_penalties(uow: UnitOfWork, clock: Clock, business_date: date) -> Distribution:
    """Distribute one closed date's penalties in its own transaction (module docstring)."""
    if not isinstance(business_date, date) or isinstance(business_date, datetime):
        raise InvalidInput("business date must be a date", fields={"date": ["expected YYYY-MM-DD"]})
    now = clock.now()
    if _closes(business_date) > now:
        raise InvalidInput(f"the penalties of {business_date} are distributed once the date has closed",
                           fields={"date": ["must be a closed date (before today, UTC)"]})
    with uow:
        result = distribute_date(uow, business_date, now)
        faults.checkpoint("penalties.before_commit")
        uow.commit()
    return result


def distribute_due(uow: UnitOfWork, now: datetime, up_to: date) -> list[Distribution]:
    """Inside the caller's transaction: every closed date up to ``up_to`` with penalties not yet paid."""
    paid = []
    for day in uow.liquidations.dates_with_penalties(up_to):
        if _closes(day) <= now and uow.settlement_runs.get(day, PENALTIES) is None:
            paid.append(distribute_date(uow, day, now))
    return paid


def distribute_date(uow: UnitOfWork, day: date, now: datetime) -> Distribution:
    """Inside the caller's transaction: pay one date (or return what was paid)."""
    done = uow.settlement_runs.get(day, PENALTIES)
    if done is not None:
        return _from_record(day, done.summary)
    records = uow.liquidations.on_date(day)
    total = sum(r.penalty_sats for r in records)
    defaulted = {str(r.account_id) for r in records}
    takers: dict[str, int] = {}
    exposure: dict[str, int] = {}
    multipliers: dict[str, Decimal] = {}
    for record in records:
        for item in record.outcome["fills"]:
            fill = fill_from_json(item)
            if item["counterparty"] in defaulted:
                continue
            if fill.instrument_id not in multipliers:
                multipliers[fill.instrument_id] = uow.instruments.get(fill.instrument_id).spec.multiplier
            notional = int(fill.price * fill.quantity * multipliers[fill.instrument_id])  # whole sats: on the tick
            takers[item["counterparty"]] = takers.get(item["counterparty"], 0) + notional
        for account_id, sats in record.inputs["otc_exposure_sats"].items():
            if account_id not in defaulted:
                exposure[account_id] = exposure.get(account_id, 0) + sats
    shares = split(total, takers_notional_sats=takers, otc_exposure_sats=exposure, params=risk_parameters(uow))
    recipients = shares.by_recipient()
    result = Distribution(day, False, total, recipients, shares.insurance_fund_sats, shares.community_fund_sats,
                          shares.remainder_sats, [r.id for r in records])
    amounts = {collateral_of(int(a)): v for a, v in recipients.items()}
    if shares.insurance_fund_sats:
        amounts[ledger.INSURANCE_FUND] = shares.insurance_fund_sats
    if shares.community_fund_sats:
        amounts[ledger.COMMUNITY_FUND] = shares.community_fund_sats
    if total:
        key = f"penalties:{day.isoformat()}"
        memo = (f"liquidation penalties of {day}: {len(records)} liquidations, {total} sats shared out "
                f"(takers, OTC counterparties, insurance fund, community fund)")
        post(uow, ledger.penalty_distribution(amounts, idempotency_key=key, occurred_at=now, memo=memo), now)
    uow.settlement_runs.add_completed(day, PENALTIES, result.as_dict(), now, now)
    return result

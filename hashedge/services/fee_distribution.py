"""The nightly fee distribution, one business date at a time (``domain.fee_distribution``).

A date's fees are those credited to the ``fees`` account by entries that occurred on it (UTC),
refunds netted. Once the date has closed they are shared out by the governed fee split
(``fees.split.*``, the version in force when the date is distributed, named in the run's summary): makers pro rata to the
maker notional of that date's book fills, the insurance fund, the community fund, the backstop
pool (into its account's collateral: the pool's NAV); rounding remainders, the makers' share of a
date without makers and the pool's share before the pool's first deposit go to the insurance fund.

One journal entry per date (``fees:<date>``, the ``fees`` account debited, one posting per
recipient, so a statement line each) and one ``settlement_runs`` row (kind ``fees``) in the same
transaction: a date is paid exactly once. ``distribute_fees_due`` runs inside the nightly
settlement's transaction, like the penalty distribution (``services.penalties``);
``distribute_fees`` is the same for one date by hand (``hashedge fees distribute``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.fee_distribution import split_fees
from hashedge.domain.units import PAYOUT_ROUNDING, exact, to_sats
from hashedge.errors import InvalidInput
from hashedge.services.ledger import post
from hashedge.services.margin import parameter_version

FEES = "fees"  # the settlement_runs kind


@dataclass(frozen=True)
class FeeDistribution:
    business_date: date
    already_done: bool
    total_sats: int
    makers_sats: dict[str, int]  # account id -> sats
    insurance_fund_sats: int
    community_fund_sats: int
    backstop_pool_sats: int
    remainder_sats: int
    parameters_version: int | None = None  # the registry version whose split was applied

    def as_dict(self) -> dict:
        return {"business_date": self.business_date.isoformat(), "already_done": self.already_done,
                "total_sats": self.total_sats, "makers_sats": self.makers_sats,
                "insurance_fund_sats": self.insurance_fund_sats, "community_fund_sats": self.community_fund_sats,
                "backstop_pool_sats": self.backstop_pool_sats, "remainder_sats": self.remainder_sats,
                "parameters_version": self.parameters_version}


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def _from_record(day: date, summary: dict) -> FeeDistribution:
    return FeeDistribution(day, True, summary["total_sats"], summary["makers_sats"], summary["insurance_fund_sats"],
                           summary["community_fund_sats"], summary["backstop_pool_sats"], summary["remainder_sats"],
                           summary.get("parameters_version"))


def distribute_fees(uow: UnitOfWork, clock: Clock, business_date: date) -> FeeDistribution:
    """Distribute one closed date's fees in its own transaction (module docstring)."""
    if not isinstance(business_date, date) or isinstance(business_date, datetime):
        raise InvalidInput("business date must be a date", fields={"date": ["expected YYYY-MM-DD"]})
    now = clock.now()
    if _start(business_date + timedelta(days=1)) > now:
        raise InvalidInput(f"the fees of {business_date} are distributed once the date has closed",
                           fields={"date": ["must be a closed date (before today, UTC)"]})
    with uow:
        result = distribute_date(uow, business_date, now)
        uow.commit()
    return result


def distribute_fees_due(uow: UnitOfWork, now: datetime, up_to: date) -> list[FeeDistribution]:
    """Inside the caller's transaction: every closed date up to ``up_to`` since the last one
    distributed (from the first fee on) with fees not yet shared out."""
    last = uow.settlement_runs.latest_date(FEES)
    first_fee = uow.fees.first_fee_at()
    if first_fee is None:
        return []
    day = max(first_fee.date(), last + timedelta(days=1)) if last else first_fee.date()
    paid = []
    while day <= up_to and _start(day + timedelta(days=1)) <= now:
        if uow.settlement_runs.get(day, FEES) is None:
            paid.append(distribute_date(uow, day, now))
        day += timedelta(days=1)
    return paid


def distribute_date(uow: UnitOfWork, day: date, now: datetime) -> FeeDistribution:
    """Inside the caller's transaction: pay one date (or return what was paid)."""
    done = uow.settlement_runs.get(day, FEES)
    if done is not None:
        return _from_record(day, done.summary)
    start, end = _start(day), _start(day + timedelta(days=1))
    total = max(uow.fees.collected(start, end), 0)  # refunds beyond the date's fees: nothing to share
    makers: dict[str, int] = {}
    for maker, _instrument, price, quantity, multiplier in uow.fees.maker_fills(start, end):
        notional = to_sats(exact(Decimal(price)) * quantity * exact(Decimal(multiplier)), PAYOUT_ROUNDING)
        makers[str(maker)] = makers.get(str(maker), 0) + notional
    version, params = parameter_version(uow, now)
    shares = split_fees(total, maker_notional_sats=makers, params=params)
    result = FeeDistribution(day, False, total, shares.makers_sats, shares.insurance_fund_sats,
                             shares.community_fund_sats, shares.backstop_pool_sats, shares.remainder_sats,
                             version.id if version else None)
    pool_id = uow.pool.account_id()
    if pool_id is None and shares.backstop_pool_sats:  # no pool yet: its share to the insurance fund
        shares = replace(shares, insurance_fund_sats=shares.insurance_fund_sats + shares.backstop_pool_sats,
                         remainder_sats=shares.remainder_sats + shares.backstop_pool_sats, backstop_pool_sats=0)
        result = replace(result, insurance_fund_sats=shares.insurance_fund_sats, backstop_pool_sats=0,
                         remainder_sats=shares.remainder_sats)
    amounts: dict = {}
    for account, amount in [*((collateral_of(int(a)), v) for a, v in shares.makers_sats.items()),
                            (ledger.INSURANCE_FUND, shares.insurance_fund_sats),
                            (ledger.COMMUNITY_FUND, shares.community_fund_sats),
                            (collateral_of(pool_id) if pool_id is not None else None, shares.backstop_pool_sats)]:
        if amount:
            amounts[account] = amounts.get(account, 0) + amount
    if total:
        key = f"fees:{day.isoformat()}"
        memo = (f"trading fees of {day}: {total} sats shared out (makers pro rata to maker volume, "
                f"insurance fund, community fund, backstop pool)")
        post(uow, ledger.fee_distribution(amounts, idempotency_key=key, occurred_at=now, memo=memo), now)
    uow.settlement_runs.add_completed(day, FEES, result.as_dict(), now, now)
    return result

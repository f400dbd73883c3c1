"""The nightly run of default protection, inside the daily settlement of a closed business date
(``services.settlement``: once per date, in its transaction; a re-run changes nothing).

For every contract in force on the date, in id order:

1. **Premium**: what accrued through the date and is not paid yet (``domain.protection.premium``:
   Act/360, rounded down once on the running total), from the buyer to the seller (the insurance
   fund when it sold). One entry ``protection:<date>:premium`` nets every contract's payment.
2. **Mark and re-margin**: the contract's mark-to-market (``protection_pricing``: the reference
   account's default risk at the date's marks, after variation margin), and the seller's collateral
   moved to the requirement (the governed ratio of the notional raised to the mark, never above the
   notional): taken from the seller's collateral, or the excess returned. A contract on a position
   keeps the ratio (its credit event is a deleveraging, not its account's default). A seller short
   of margin afterwards is in a margin call or liquidated by the sweep like any account.
3. **Expiry**: a contract whose maturity is the date or earlier matures: its premium through the
   maturity is paid and its whole escrow returns to the seller.

The collateral moves and releases of the date are one entry ``protection:<date>:collateral``. Each
contract's lines are kept in ``protection_events`` (unique per contract, kind and date).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.protection import FUND_SELLER, ProtectionEvent, StoredContract
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain import ledger
from hashedge.domain.protection import (
    ContractStatus,
    collateral_required_sats,
    premium_due_sats,
)
from hashedge.errors import HashEdgeError
from hashedge.services.ledger import post
from hashedge.services.margin import risk_parameters
from hashedge.services.protection import load_reference_risk, reference_risks
from hashedge.services.protection_pricing import ReferenceRisk, mark_to_market_sats


@dataclass
class NightlySummary:
    contracts: int = 0
    premiums_sats: int = 0
    collateral_moved_sats: int = 0  # into escrow (negative: released)
    matured: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"contracts": self.contracts, "premiums_sats": self.premiums_sats,
                "collateral_moved_sats": self.collateral_moved_sats, "matured": self.matured}


def due(uow: UnitOfWork, business_date: date) -> list[StoredContract]:
    """Active contracts traded on or before the date, in id order."""
    return [s for s in uow.protection.all(status=ContractStatus.ACTIVE.value) if s.contract.trade_date <= business_date]


def parties(contracts: list[StoredContract]) -> set[int]:
    found = set()
    for s in contracts:
        found.add(int(s.contract.buyer_account_id))
        if s.contract.seller_account_id != FUND_SELLER:
            found.add(int(s.contract.seller_account_id))
    return found


def _account(owner: str) -> ledger.LedgerAccount:
    return ledger.INSURANCE_FUND if owner == FUND_SELLER else ledger.collateral(owner)


def run_nightly(uow: UnitOfWork, now: datetime, business_date: date,
                contracts: list[StoredContract] | None = None) -> NightlySummary:
    """The date's premiums, marks, collateral moves and expiries (module docstring), inside the
    caller's transaction, which holds the parties' collateral locks."""
    params = risk_parameters()
    contracts = due(uow, business_date) if contracts is None else contracts
    summary = NightlySummary(contracts=len(contracts))
    premium_moves: dict[ledger.LedgerAccount, int] = {}
    collateral_moves: dict[ledger.LedgerAccount, int] = {}
    events: list[ProtectionEvent] = []
    references = {s.contract.reference_account_id for s in contracts
                  if not s.contract.references_position and business_date < s.contract.maturity_date}
    try:
        risks: dict[str, ReferenceRisk | None] = reference_risks(uow, references, params)
    except HashEdgeError:  # an instrument without a mark yet: each reference on its own, the rest keep theirs
        risks = {}
    updated: list[StoredContract] = []
    premium_key = f"protection:{business_date.isoformat()}:premium"
    collateral_key = f"protection:{business_date.isoformat()}:collateral"
    for stored in contracts:
        c = stored.contract
        through = min(business_date, c.maturity_date)
        premium = premium_due_sats(c, stored.premium_paid_through, through)
        if premium:
            premium_moves[_account(c.buyer_account_id)] = premium_moves.get(_account(c.buyer_account_id), 0) - premium
            premium_moves[_account(c.seller_account_id)] = premium_moves.get(_account(c.seller_account_id), 0) + premium
            events.append(ProtectionEvent(c.contract_id, "premium", business_date, now, premium, premium_key,
                                          {"through": through.isoformat()}))
            summary.premiums_sats += premium
        matured = business_date >= c.maturity_date
        mark = 0
        if matured:
            required = 0
        else:
            if not c.references_position:
                if c.reference_account_id not in risks:  # only after the batch failed
                    try:
                        risks[c.reference_account_id] = load_reference_risk(uow, int(c.reference_account_id), params)
                    except HashEdgeError:  # no mark yet for one of its instruments: keep the last mark
                        risks[c.reference_account_id] = None
                risk = risks[c.reference_account_id]
                mark = stored.mark_sats if risk is None else int(mark_to_market_sats(
                    risk, notional_sats=c.notional_sats, premium_bps=c.premium_bps, valued_on=business_date,
                    maturity=c.maturity_date))
            required = collateral_required_sats(c.notional_sats, params.protection_collateral_ratio, mark)
        moved = required - stored.collateral_sats
        if moved:
            seller = _account(c.seller_account_id)
            collateral_moves[seller] = collateral_moves.get(seller, 0) - moved
            collateral_moves[ledger.PROTECTION_ESCROW] = collateral_moves.get(ledger.PROTECTION_ESCROW, 0) + moved
            events.append(ProtectionEvent(c.contract_id, "collateral", business_date, now, moved, collateral_key,
                                          {"required_sats": required, "mark_sats": mark}))
            summary.collateral_moved_sats += moved
        if matured:
            events.append(ProtectionEvent(c.contract_id, "matured", business_date, now, 0, None,
                                          {"premium_paid_sats": stored.premium_paid_sats + premium}))
            summary.matured.append(c.contract_id)
        updated.append(StoredContract(
            contract=c if not matured else replace(c, status=ContractStatus.MATURED), collateral_sats=required,
            premium_paid_sats=stored.premium_paid_sats + premium,
            premium_paid_through=max(through, stored.premium_paid_through or through),
            mark_sats=mark, marked_on=business_date, credit_event_liquidation_id=None, booked_via=stored.booked_via,
            booked_at=stored.booked_at, closed_at=now if matured else None))
    uow.protection.update_many(updated)
    for key, moves, kind in ((premium_key, premium_moves, ledger.EntryKind.PREMIUM),
                             (collateral_key, collateral_moves, ledger.EntryKind.PROTECTION)):
        entry = ledger.protection({a: v for a, v in moves.items() if v}, idempotency_key=key, occurred_at=now,
                                  kind=kind, memo=key)
        if entry is not None:
            post(uow, entry, now)
    uow.protection.add_events(events)
    return summary


def lock_parties(uow: UnitOfWork, business_date: date) -> list[StoredContract]:
    """The contracts due, their parties' collateral rows locked (in key order)."""
    contracts = due(uow, business_date)
    uow.ledger.lock_balances([collateral_of(a) for a in parties(contracts)])
    return contracts

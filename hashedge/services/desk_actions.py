"""The desk's state-changing use cases, each the platform's own service run inside an audited unit
of work (``services.audit.AuditedUnitOfWork``): the action and its audit record commit together.

The desk calls these, never the platform services directly, so nothing the desk changes goes
unrecorded; the API and the CLI call the platform services (their callers are identified by API
key or by the operator's shell). Four-eyes actions (``services.approvals``) run through the same
functions with an ``on_enter`` check and an ``on_commit`` that closes the request.
"""

from __future__ import annotations

from datetime import date
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.repositories.ledger import AccountRecord
from hashedge.adapters.repositories.protection import StoredContract
from hashedge.adapters.repositories.trading import TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.errors import NotFound
from hashedge.domain import ledger as journal
from hashedge.domain.governance.registry import ParameterVersion
from hashedge.services import (
    accounts,
    audit,
    block_trades,
    governance,
    insurance,
    ledger,
    liquidation,
    pool,
    protection,
    settlement,
)
from hashedge.services.audit import Actor, AuditedUnitOfWork, collateral_snapshot, positions_snapshot
from hashedge.services.ledger import CollateralMovement, PostedEntry
from hashedge.services.liquidation import SweepReport
from hashedge.services.settlement import SettlementSummary

SessionFactory = sessionmaker[Session]
OnEnter = Callable[[UnitOfWork], None] | None
OnCommit = Callable[[AuditedUnitOfWork, dict | None], None] | None


def _keys_snapshot(account_id: int):
    def snapshot(uow: UnitOfWork) -> dict:
        return {"api_keys": [{"prefix": k.prefix, "revoked": k.revoked_at is not None}
                             for k in uow.api_keys.of_account(account_id)]}

    return snapshot


def onboard_account(session_factory: SessionFactory, clock: Clock, actor: Actor, name: str) -> tuple[AccountRecord, str]:
    """Create a counterparty with one API key (returned in plaintext this once)."""

    def after_state(uow: UnitOfWork) -> dict | None:
        created = uow.accounts.by_name(accounts.valid_name(name))
        if created is None:
            return None
        return {"id": created.id, "name": created.name, **_keys_snapshot(created.id)(uow)}

    def name_target(uow: AuditedUnitOfWork, after: dict | None) -> None:
        if after:
            uow.target = f"account:{after['id']}"

    uow = AuditedUnitOfWork(session_factory, clock, actor, "account.create", f"account:{name}", {"name": name},
                            snapshot=after_state, on_commit=name_target)
    return accounts.create_account(uow, clock, name)


def issue_api_key(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int) -> str:
    uow = AuditedUnitOfWork(session_factory, clock, actor, "account.issue_key", f"account:{account_id}", {},
                            snapshot=_keys_snapshot(account_id))
    return accounts.issue_api_key(uow, clock, account_id)


def revoke_api_key(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int, prefix: str) -> None:
    def belongs(uow: UnitOfWork) -> None:
        key = uow.api_keys.by_prefix(prefix) if isinstance(prefix, str) else None
        if key is None or key.account_id != account_id:
            raise NotFound(f"account {account_id} has no API key {prefix!r}", fields={"prefix": ["unknown key"]})

    uow = AuditedUnitOfWork(session_factory, clock, actor, "account.revoke_key", f"account:{account_id}",
                            {"prefix": prefix}, snapshot=_keys_snapshot(account_id), on_enter=belongs)
    accounts.revoke_api_key(uow, clock, prefix)


def deposit(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int, amount_sats: int,
            idempotency_key: str, memo: str = "") -> CollateralMovement:
    uow = AuditedUnitOfWork(session_factory, clock, actor, "cash.deposit", f"account:{account_id}",
                            {"amount_sats": amount_sats, "memo": memo, "idempotency_key": idempotency_key},
                            snapshot=collateral_snapshot(account_id))
    return ledger.deposit(uow, clock, account_id, amount_sats, idempotency_key, memo=memo)


def withdraw(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int, amount_sats: int,
             idempotency_key: str, memo: str = "", *, details: dict | None = None, on_enter: OnEnter = None,
             on_commit: OnCommit = None) -> CollateralMovement:
    uow = AuditedUnitOfWork(session_factory, clock, actor, "cash.withdraw", f"account:{account_id}",
                            {"amount_sats": amount_sats, "memo": memo, "idempotency_key": idempotency_key,
                             **(details or {})},
                            snapshot=collateral_snapshot(account_id), on_enter=on_enter, on_commit=on_commit)
    return ledger.withdraw(uow, clock, account_id, amount_sats, idempotency_key, memo=memo)


def book_block_trade(session_factory: SessionFactory, clock: Clock, actor: Actor, *, buyer_id: int, seller_id: int,
                     instrument: str, quantity: int, price, trade_id: str | None = None,
                     details: dict | None = None, on_enter: OnEnter = None, on_commit: OnCommit = None) -> TradeRecord:
    uow = AuditedUnitOfWork(session_factory, clock, actor, "trade.block", f"instrument:{instrument}",
                            {"buyer_id": buyer_id, "seller_id": seller_id, "instrument": instrument,
                             "quantity": quantity, "price": str(price), **(details or {})},
                            snapshot=positions_snapshot(instrument, buyer_id, seller_id),
                            on_enter=on_enter, on_commit=on_commit)
    return block_trades.book_block_trade(uow, clock, buyer_id=buyer_id, seller_id=seller_id, instrument=instrument,
                                         quantity=quantity, price=price, trade_id=trade_id)


def book_protection(session_factory: SessionFactory, clock: Clock, actor: Actor, *, buyer_id: int,
                    seller_id: int | None, reference_id: int, notional_sats: int, premium_bps: object,
                    maturity: date | None, settlement: str, upfront_sats: int = 0,
                    reference_instrument: str | None = None, contract_id: str | None = None,
                    details: dict | None = None, on_enter: OnEnter = None,
                    on_commit: OnCommit = None) -> StoredContract:
    """A protection contract booked by the desk (``protection.book_protection``; ``seller_id`` None:
    the insurance fund), audited with the parties' collateral before and after."""
    parties = (buyer_id,) if seller_id is None else (buyer_id, seller_id)
    uow = AuditedUnitOfWork(session_factory, clock, actor, "protection.book", f"account:{reference_id}",
                            {"buyer_id": buyer_id, "seller_id": seller_id, "reference_id": reference_id,
                             "reference_instrument": reference_instrument, "notional_sats": notional_sats,
                             "premium_bps": str(premium_bps), "maturity": None if maturity is None else str(maturity),
                             "settlement": settlement, "upfront_sats": upfront_sats, **(details or {})},
                            snapshot=collateral_snapshot(*parties), on_enter=on_enter, on_commit=on_commit)
    return protection.book_protection(uow, clock, buyer_id=buyer_id, seller_id=seller_id, reference_id=reference_id,
                                      notional_sats=notional_sats, premium_bps=premium_bps, maturity=maturity,
                                      settlement=settlement, upfront_sats=upfront_sats,
                                      reference_instrument=reference_instrument, contract_id=contract_id)


def reverse_block_trade(session_factory: SessionFactory, clock: Clock, actor: Actor, *, trade_id: str,
                        reason: str) -> TradeRecord:
    with UnitOfWork(session_factory) as uow:
        original = uow.trades.get(trade_id)
    if original is None:
        raise NotFound(f"no block trade {trade_id!r}", fields={"trade_id": ["unknown block trade"]})
    fill = original.fill
    uow = AuditedUnitOfWork(session_factory, clock, actor, "trade.reverse", f"trade:{trade_id}", {"reason": reason},
                            snapshot=positions_snapshot(fill.instrument_id, int(fill.buyer_account_id),
                                                        int(fill.seller_account_id)))
    return block_trades.reverse_block_trade(uow, clock, trade_id=trade_id, reason=reason)


def run_settlement(session_factory: SessionFactory, clock: Clock, actor: Actor, business_date: date) -> SettlementSummary:
    """A day's settlement from the desk (idempotent: an already settled date changes nothing and
    leaves no record)."""

    def done(uow: UnitOfWork) -> dict:
        return {"settled": uow.settlement_runs.get(business_date, settlement.DAILY) is not None}

    uow = AuditedUnitOfWork(session_factory, clock, actor, "operations.settle", f"date:{business_date.isoformat()}",
                            {"business_date": business_date.isoformat()}, snapshot=done)
    return settlement.run_daily_settlement(uow, clock, business_date)


def run_liquidation_sweep(session_factory: SessionFactory, clock: Clock, actor: Actor) -> SweepReport:
    """The liquidation sweep from the desk (``services.liquidation.sweep``, the job's and
    ``hashedge liquidate --sweep``'s). Each liquidation is its own transaction, so the audit record
    (who ran it, and what it did: ``SweepReport.as_dict``) is written in one more once the sweep
    ends. Idempotent: a sweep liquidates only accounts below maintenance margin, re-checked under
    each liquidation's locks, so running it again right after (or beside the scheduler's) finds
    nothing left to do for an account the first one brought back above maintenance."""
    report = liquidation.sweep(lambda: UnitOfWork(session_factory), clock)
    with UnitOfWork(session_factory) as uow:
        audit.record(uow, clock, actor, "risk.liquidation_sweep", "sweep", {}, after=report.as_dict())
        uow.commit()
    return report


def _insurance_snapshot(uow: UnitOfWork) -> dict:
    return {"insurance_fund_sats": uow.ledger.balances([journal.INSURANCE_FUND]).get(journal.INSURANCE_FUND, 0)}


def contribute_to_insurance_fund(session_factory: SessionFactory, clock: Clock, actor: Actor, amount_sats: int,
                                 idempotency_key: str, memo: str = "", *, details: dict | None = None,
                                 on_enter: OnEnter = None, on_commit: OnCommit = None) -> PostedEntry:
    """The platform's contribution to the insurance fund (``services.insurance.contribute``),
    audited with the fund's balance before and after; idempotent by key."""
    uow = AuditedUnitOfWork(session_factory, clock, actor, "insurance.contribute", "insurance_fund",
                            {"amount_sats": amount_sats, "memo": memo, "idempotency_key": idempotency_key,
                             **(details or {})},
                            snapshot=_insurance_snapshot, on_enter=on_enter, on_commit=on_commit)
    return insurance.contribute(uow, clock, amount_sats, idempotency_key, memo=memo)


def _pool_snapshot(account_id: int):
    def snapshot(uow: UnitOfWork) -> dict:
        return {"pool_shares": uow.pool.shares_of(account_id), "queued_shares": uow.pool.queued_shares(account_id)}

    return snapshot


def pool_deposit(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int, amount_sats: int,
                 idempotency_key: str):
    """An LP's deposit into the backstop pool, on its behalf (``services.pool.deposit``), audited."""
    uow = AuditedUnitOfWork(session_factory, clock, actor, "pool.deposit", f"account:{account_id}",
                            {"amount_sats": amount_sats, "idempotency_key": idempotency_key},
                            snapshot=_pool_snapshot(account_id))
    return pool.deposit(uow, clock, account_id, amount_sats, idempotency_key)


def pool_withdrawal(session_factory: SessionFactory, clock: Clock, actor: Actor, account_id: int, shares: int,
                    idempotency_key: str):
    """An LP's withdrawal request, on its behalf (``services.pool.request_withdrawal``), audited."""
    uow = AuditedUnitOfWork(session_factory, clock, actor, "pool.withdraw", f"account:{account_id}",
                            {"shares": shares, "idempotency_key": idempotency_key},
                            snapshot=_pool_snapshot(account_id))
    return pool.request_withdrawal(uow, clock, account_id, shares, idempotency_key)


def record_vote(session_factory: SessionFactory, clock: Clock, actor: Actor, proposal_id: int, account_id: int,
                choice: str) -> governance.ProposalView:
    """A counterparty's vote, recorded by the desk on its instruction (``governance.cast_vote``)."""
    uow = AuditedUnitOfWork(session_factory, clock, actor, "governance.vote", f"proposal:{proposal_id}",
                            {"account_id": account_id, "choice": choice})
    return governance.cast_vote(uow, clock, proposal_id, account_id, choice)


def emergency_tighten(session_factory: SessionFactory, clock: Clock, actor: Actor, changes: dict[str, str],
                      reason: str) -> ParameterVersion:
    """A risk committee member tightens margins at once (``governance.emergency_tighten``); the
    audit record holds the values before and after."""

    def values(uow: UnitOfWork) -> dict:
        current = uow.parameters.in_force().parameters().as_registry()
        return {name: str(current[name]) for name in changes if name in current}

    uow = AuditedUnitOfWork(session_factory, clock, actor, "governance.emergency_tighten", "parameters",
                            {"changes": dict(changes), "reason": reason}, snapshot=values)
    return governance.emergency_tighten(uow, clock, actor.username, changes, reason)

"""Credit events, inside the liquidation that determines them (``services.liquidation``).

Before the engine runs, ``in_force`` loads the contracts the liquidation may trigger (cash or
novation protection written on the liquidated account; protection of a position that may be
deleveraged) and ``capacities`` what each cash contract's seller can pay of a shortfall: its
collateral in escrow plus its own collateral above zero (each seller's counted once, in contract
order), up to the notional; protection sold by the insurance fund counts its escrow only (the fund's
balance is the next stage). Both go into the record's inputs, so the ``protection`` stage and the
ADL queue (protected positions last) replay from the record.

After it, ``settle`` reads each contract's credit event from the record
(``domain.protection.determine_credit_event``) and settles it in ONE journal entry
``protection:<contract>:credit_event:<liquidation>``: the premium accrued to the event date (buyer
to seller), the cash (the cover the stage reserved, into the liquidated account; the buyer's ADL
loss, to the buyer), paid from the seller's escrow first and then its account, and the rest of the
escrow back to the seller. Novation also reopens the buyer's deleveraged positions against the seller
at the ADL price (trades of kind ``novation``, no fees), as many contracts as the seller can carry
at or above its maintenance margin (none for the insurance fund, which holds no positions); the
rest is settled in cash (its ADL loss, within the notional left). A seller whose margin falls
afterwards is in a margin call or liquidated by the sweep, below zero it runs down the waterfall
like anyone. The contract ends (``triggered``) and cites the liquidation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.protection import FUND_SELLER, ProtectionEvent, StoredContract
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain import ledger
from hashedge.domain.fills import Fill
from hashedge.domain.liquidation.record import LiquidationInputs, LiquidationOutcome
from hashedge.domain.orders import Side
from hashedge.domain.margin import AccountState, MarginStatus, account_margin
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from hashedge.domain.protection import (
    ContractStatus,
    SettlementMethod,
    cash_settlement,
    determine_credit_event,
    novation_takeovers,
    premium_due_sats,
)
from hashedge.domain.protection.credit_events import allocate_cover
from hashedge.services.ledger import post
from hashedge.services.margin import account_state, latest_marks
from hashedge.services.trading import record_fill


def in_force(uow: UnitOfWork, account_id: int, candidates, day) -> list[StoredContract]:
    """Active contracts this liquidation may trigger (module docstring), in id order."""
    owner, deleverageable = str(account_id), {str(c) for c in candidates}
    found = []
    for stored in uow.protection.active_on([account_id, *[int(c) for c in deleverageable]]):
        c = stored.contract
        if not c.covers(day):
            continue
        if (not c.references_position and c.reference_account_id == owner) or (
                c.references_position and c.buyer_account_id in deleverageable):
            found.append(stored)
    return found


def parties(contracts: list[StoredContract]) -> set[int]:
    """The accounts whose collateral a settlement may move (to lock with the liquidation's)."""
    found = set()
    for stored in contracts:
        found.add(int(stored.contract.buyer_account_id))
        if stored.contract.seller_account_id != FUND_SELLER:
            found.add(int(stored.contract.seller_account_id))
    return found


def capacities(uow: UnitOfWork, account_id: int, contracts: list[StoredContract]) -> dict[str, int]:
    """What each cash contract on the account can pay of its shortfall (module docstring)."""
    cash = [s for s in contracts if s.contract.settlement is SettlementMethod.CASH
            and not s.contract.references_position and s.contract.reference_account_id == str(account_id)]
    sellers = {s.contract.seller_account_id for s in cash if s.contract.seller_account_id != FUND_SELLER}
    balances = uow.ledger.balances([collateral_of(int(a)) for a in sellers])
    left = {a: max(0, balances.get(collateral_of(int(a)), 0)) for a in sellers}
    found = {}
    for stored in sorted(cash, key=lambda s: s.id):
        seller = stored.contract.seller_account_id
        own = left.get(seller, 0)
        capacity = min(stored.contract.notional_sats, stored.collateral_sats + own)
        if seller in left:
            left[seller] = own - max(0, capacity - stored.collateral_sats)
        found[stored.id] = capacity
    return found


def _seller_account(seller: str) -> ledger.LedgerAccount:
    return ledger.INSURANCE_FUND if seller == FUND_SELLER else ledger.collateral(seller)


def settle(uow: UnitOfWork, inputs: LiquidationInputs, outcome: LiquidationOutcome,
           contracts: list[StoredContract], now: datetime, params: RiskParameters) -> list[str]:
    """Settle every credit event of this liquidation (module docstring); the contracts triggered."""
    paid_cover = allocate_cover(dict(inputs.protection_capacity_sats), outcome.covered_by("protection"))
    triggered = []
    for stored in sorted(contracts, key=lambda s: s.id):
        contract = stored.contract
        event = determine_credit_event(contract, inputs, outcome)
        if event is None:
            if stored.id in paid_cover:  # the stage reserved its cover: it must be paid
                raise RuntimeError(f"protection {stored.id} covered {outcome.liquidation_id} without a credit event")
            continue
        day = event.occurred_at.date()
        premium = premium_due_sats(contract, stored.premium_paid_through, day)
        takeovers = ()
        if contract.settlement is SettlementMethod.NOVATION:
            takeovers, buyer_cash = novation_takeovers(contract, event,
                                                       limit=_carried(uow, inputs, contract, event, params))
            cover = 0
        else:
            settled = cash_settlement(contract, event, cover_sats=paid_cover.get(stored.id, 0))
            cover, buyer_cash = settled.cover_sats, settled.buyer_sats
        buyer, seller = ledger.collateral(contract.buyer_account_id), _seller_account(contract.seller_account_id)
        moves: dict[ledger.LedgerAccount, int] = {}

        def move(account: ledger.LedgerAccount, amount: int) -> None:
            moves[account] = moves.get(account, 0) + amount

        move(ledger.PROTECTION_ESCROW, -stored.collateral_sats)
        move(seller, stored.collateral_sats - cover - buyer_cash + premium)
        move(ledger.collateral(inputs.account.account_id), cover)
        move(buyer, buyer_cash - premium)
        key = f"protection:{stored.id}:credit_event:{outcome.liquidation_id}"
        entry = ledger.protection({a: v for a, v in moves.items() if v}, idempotency_key=key, occurred_at=now,
                                  memo=f"protection {stored.id}: credit event {event.kind.value} in "
                                       f"{outcome.liquidation_id}")
        if entry is not None:
            post(uow, entry, now)
        fills = []
        for n, takeover in enumerate(takeovers, start=1):
            buyer_side = takeover.buyer_side is Side.BUY
            fill = Fill.block_trade(
                fill_id=f"{outcome.liquidation_id}-nov-{stored.id}-{n}", instrument_id=takeover.instrument_id,
                buyer_account_id=contract.buyer_account_id if buyer_side else contract.seller_account_id,
                seller_account_id=contract.seller_account_id if buyer_side else contract.buyer_account_id,
                quantity=takeover.quantity, price=takeover.price, occurred_at=now)
            record_fill(uow, inputs.specs[takeover.instrument_id], fill, kind="novation", params=params, now=now,
                        fees_sats={})
            fills.append(fill.fill_id)
        uow.protection.update(StoredContract(
            contract=replace(contract, status=ContractStatus.TRIGGERED), collateral_sats=0,
            premium_paid_sats=stored.premium_paid_sats + premium, premium_paid_through=day,
            mark_sats=stored.mark_sats, marked_on=stored.marked_on,
            credit_event_liquidation_id=outcome.liquidation_id, booked_via=stored.booked_via,
            booked_at=stored.booked_at, closed_at=now))
        uow.protection.add_events([ProtectionEvent(stored.id, "credit_event", day, now, cover + buyer_cash, key, {
            "liquidation_id": outcome.liquidation_id, "kind": event.kind.value, "cover_sats": cover,
            "buyer_sats": buyer_cash, "adl_loss_sats": event.adl_loss_sats, "premium_sats": premium,
            "collateral_released_sats": stored.collateral_sats, "novation_fills": fills,
            "novated_contracts": sum(t.quantity for t in takeovers)})])
        triggered.append(stored.id)
    return triggered


def _carried(uow: UnitOfWork, inputs: LiquidationInputs, contract, event, params: RiskParameters) -> int:
    """How many of the deleveraged contracts the seller can take over and stay at or above its
    maintenance margin (the insurance fund holds no positions: none, it settles in cash)."""
    if contract.seller_account_id == FUND_SELLER:
        return 0
    seller = contract.seller_account_id
    state = account_state(uow, int(seller))
    symbols = {p.instrument_id for p in state.positions} | {h.instrument_id for h in event.adl_hits}
    marks, specs = latest_marks(uow, symbols), uow.instruments.specs(symbols)
    takeovers, _ = novation_takeovers(contract, event)
    carried = 0
    for n, takeover in enumerate(takeovers):
        for quantity in range(1, takeover.quantity + 1):
            side = Side.BUY if takeover.buyer_side is Side.SELL else Side.SELL  # the seller's side
            fill = Fill.block_trade(fill_id=f"check-{n}-{quantity}", instrument_id=takeover.instrument_id,
                                    buyer_account_id=seller if side is Side.BUY else "check",
                                    seller_account_id="check" if side is Side.BUY else seller,
                                    quantity=quantity, price=takeover.price, occurred_at=inputs.occurred_at)
            trial = _apply(state, fill, specs[takeover.instrument_id])
            if account_margin(trial, marks, params, specs=specs).status is MarginStatus.LIQUIDATABLE:
                return carried + quantity - 1
        state = _apply(state, Fill.block_trade(
            fill_id=f"check-{n}", instrument_id=takeover.instrument_id,
            buyer_account_id=seller if takeover.buyer_side is Side.SELL else "check",
            seller_account_id="check" if takeover.buyer_side is Side.SELL else seller,
            quantity=takeover.quantity, price=takeover.price, occurred_at=inputs.occurred_at),
            specs[takeover.instrument_id])
        carried += takeover.quantity
    return carried


def _apply(state: AccountState, fill: Fill, spec) -> AccountState:
    """The seller's state once ``fill`` is booked (no fees: novation trades carry none)."""
    owner = state.account_id
    held = {p.instrument_id: p for p in state.positions}
    before = held.get(fill.instrument_id) or Position(account_id=owner, instrument_id=fill.instrument_id,
                                                      multiplier=spec.multiplier)
    after = before.apply(fill)
    held[fill.instrument_id] = after
    return AccountState(account_id=owner, positions=tuple(held.values()), open_orders=state.open_orders,
                        collateral_sats=state.collateral_sats + after.realized_pnl_sats - before.realized_pnl_sats)


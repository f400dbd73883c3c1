"""Default protection use cases: quote, book (desk block or accepted RFQ answer), list and show.

Rules are in ``hashedge/domain/protection`` (PROTECTION.md); prices come from the pricing library
through ``services.protection_pricing``. Each use case is one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.protection import FUND_SELLER, ProtectionEvent, StoredContract
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import account_margin
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.protection import (
    ContractStatus,
    ProtectionContract,
    SettlementMethod,
    accrued_premium_sats,
    collateral_required_sats,
    is_cds_date,
)
from hashedge.errors import HashEdgeError, InvalidInput, NotFound
from hashedge.services.instruments import get_instrument
from hashedge.services.ledger import post
from hashedge.services.accounts import require_account
from hashedge.services.margin import (
    account_state,
    account_states,
    latest_marks,
    marks_and_specs,
    risk_parameters,
)
from pricing.errors import PricingInputError
from hashedge.services.protection_pricing import (
    FairQuote,
    ReferenceRisk,
    fair_quote,
    mark_to_market_sats,
    reference_risk,
)

TENORS = ("3M", "6M", "9M", "1Y", "2Y", "3Y", "5Y")
MAX_NOTIONAL_SATS = 21_000_000 * 100_000_000


@dataclass(frozen=True)
class Quote:
    reference_account_id: int
    tenor: str
    reference: ReferenceRisk
    fair: FairQuote


def require_notional(notional_sats: object) -> int:
    if isinstance(notional_sats, bool) or not isinstance(notional_sats, int) or not 0 < notional_sats <= MAX_NOTIONAL_SATS:
        raise InvalidInput("notional must be a positive whole number of sats",
                           fields={"notional_sats": [f"must be an integer between 1 and {MAX_NOTIONAL_SATS}"]})
    return notional_sats


def require_tenor(tenor: object) -> str:
    if tenor not in TENORS:
        raise InvalidInput("unknown tenor", fields={"tenor": [f"must be one of {', '.join(TENORS)}"]})
    return str(tenor)


def load_reference_risk(uow: UnitOfWork, account_id: int, params: RiskParameters) -> ReferenceRisk:
    """The reference account's equity, exposure and volatility at the latest marks (open uow)."""
    require_account(uow, account_id)
    state = account_state(uow, account_id)
    marks, specs = marks_and_specs(uow, state)
    return reference_risk(state, marks, specs, params)


def reference_risks(uow: UnitOfWork, account_ids, params: RiskParameters) -> dict[str, ReferenceRisk]:
    """Several reference accounts' risk in a few queries (the nightly run marks thousands)."""
    states = account_states(uow, sorted({int(a) for a in account_ids}))
    symbols = {p.instrument_id for state in states.values() for p in state.positions}
    marks, specs = latest_marks(uow, symbols), uow.instruments.specs(symbols)
    return {account_id: reference_risk(state, marks, specs, params) for account_id, state in states.items()}


def price_reference(risk: ReferenceRisk, *, notional_sats: int, trade_date: date, tenor: str | None = None,
                    maturity: date | None = None) -> FairQuote:
    if risk.equity_sats <= 0:
        raise InvalidInput(f"account {risk.account_id} has no equity left: it cannot be protected",
                           fields={"reference": ["has no equity (it is insolvent)"]})
    try:
        return fair_quote(risk.equity_sats, risk.exposure_sats, risk.daily_vol, notional_sats=notional_sats,
                          trade_date=trade_date, tenor=tenor, maturity=maturity)
    except PricingInputError as error:  # default within days is all but certain: no finite premium
        raise InvalidInput(f"account {risk.account_id} is too close to default to be quoted ({error.rule})",
                           fields={"reference": ["too close to default to be quoted"]}) from error


def quote_protection(uow: UnitOfWork, clock: Clock, *, reference_account_id: int, notional_sats: int,
                     tenor: str = "3M") -> Quote:
    """The fair running premium and upfront for protection on an account (``protection_pricing``)."""
    notional, tenor = require_notional(notional_sats), require_tenor(tenor)
    with uow.read_only():  # the governed parameters in force now, read in the quote's own transaction
        risk = load_reference_risk(uow, reference_account_id, risk_parameters(uow))
    fair = price_reference(risk, notional_sats=notional, trade_date=clock.now().date(), tenor=tenor)
    return Quote(reference_account_id, tenor, risk, fair)


# --- booking ------------------------------------------------------------------------------------


class ProtectionRefused(HashEdgeError):
    """A booking the rules refuse: premium outside the band, a seller short of margin, ..."""

    code = "protection_refused"
    http_status = 422


def parse_premium(value: object, field: str = "premium_bps") -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise InvalidInput(f"{field} must be a decimal number", fields={field: ["must be a decimal number"]})
    try:
        premium = Decimal(value)
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field} must be a decimal number", fields={field: ["must be a decimal number"]}) from None
    if not premium.is_finite() or premium < 0 or premium > 100_000 or premium != round(premium, 6):
        raise InvalidInput(f"{field} must be between 0 and 100000 bps with at most 6 decimals",
                           fields={field: ["between 0 and 100000, at most 6 decimals"]})
    return premium


def premium_band(fair_bps: Decimal, params: RiskParameters) -> tuple[Decimal, Decimal]:
    """The premiums a booking may use: within the governed band around the fair premium."""
    width = max(fair_bps * params.protection_premium_band_ratio, params.protection_premium_band_min_bps)
    return max(Decimal(0), fair_bps - width), fair_bps + width


def _contract(**fields) -> ProtectionContract:
    try:
        return ProtectionContract(**fields)
    except InvalidValue as error:
        raise InvalidInput(f"{error.field}: {error.reason}", fields={error.field: [error.reason]}) from None


def _free_after(uow: UnitOfWork, account_id: int, change_sats: int, params: RiskParameters) -> int:
    state = account_state(uow, account_id)
    marks, specs = marks_and_specs(uow, state)
    state = replace(state, collateral_sats=state.collateral_sats + change_sats)
    return account_margin(state, marks, params, specs=specs).free_collateral_sats


def check_terms(notional_sats: object, premium_bps: object, maturity: date | None, tenor: str | None,
                settlement: object, upfront_sats: object) -> tuple[int, Decimal, str | None]:
    """The terms of a booking, parsed: a clear field error for each bad one."""
    notional, premium = require_notional(notional_sats), parse_premium(premium_bps)
    if maturity is None:
        tenor = require_tenor(tenor or "3M")
    elif not is_cds_date(maturity):
        raise InvalidInput("the maturity must be a standard CDS date",
                           fields={"maturity": ["must be a standard CDS date (20 March, June, September or December)"]})
    if settlement not in {m.value for m in SettlementMethod}:
        raise InvalidInput("unknown settlement", fields={"settlement": ["must be novation or cash"]})
    if isinstance(upfront_sats, bool) or not isinstance(upfront_sats, int) or abs(upfront_sats) > notional:
        raise InvalidInput("upfront must be whole sats, at most the notional either way",
                           fields={"upfront_sats": ["whole sats, |upfront| <= notional"]})
    return notional, premium, tenor


def book_protection(uow: UnitOfWork, clock: Clock, *, buyer_id: int, seller_id: int | None, reference_id: int,
                    notional_sats: int, premium_bps: object, maturity: date | None = None, tenor: str | None = None,
                    settlement: str = "cash", upfront_sats: int = 0, reference_instrument: str | None = None,
                    via: str = "desk", contract_id: str | None = None) -> StoredContract:
    """Book a contract between two named parties (``seller_id`` ``None``: the insurance fund, the
    seller of last resort), at a premium within the band around the fair one; the seller's
    collateral moves into escrow and the upfront is paid, in one journal entry (PROTECTION.md)."""
    notional, premium, tenor = check_terms(notional_sats, premium_bps, maturity, tenor, settlement, upfront_sats)
    with uow:
        stored = book_in(uow, clock.now(), buyer_id=buyer_id, seller_id=seller_id, reference_id=reference_id,
                         notional_sats=notional, premium_bps=premium, maturity=maturity, tenor=tenor,
                         settlement=settlement, upfront_sats=upfront_sats, reference_instrument=reference_instrument,
                         via=via, contract_id=contract_id or f"P-{uuid.uuid4().hex[:12]}")
        uow.commit()
    return stored


def book_in(uow: UnitOfWork, now: datetime, *, buyer_id: int, seller_id: int | None, reference_id: int,
            notional_sats: int, premium_bps: Decimal, maturity: date | None, tenor: str | None, settlement: str,
            upfront_sats: int, reference_instrument: str | None, via: str, contract_id: str) -> StoredContract:
    """``book_protection`` inside an open unit of work (an accepted RFQ answer books this way too)."""
    params, notional, premium = risk_parameters(), notional_sats, premium_bps
    for account_id in {buyer_id, reference_id} | ({seller_id} if seller_id is not None else set()):
        require_account(uow, account_id)
    parties = [collateral_of(a) for a in sorted({buyer_id} | ({seller_id} if seller_id is not None else set()))]
    uow.ledger.lock_balances(parties)
    if seller_id is None:
        uow.liquidations.lock_waterfall()  # the fund is drawn only under this lock
    risk = load_reference_risk(uow, reference_id, params)
    fair = price_reference(risk, notional_sats=notional, trade_date=now.date(), tenor=tenor, maturity=maturity)
    contract = _contract(
        contract_id=contract_id, buyer_account_id=str(buyer_id),
        seller_account_id=FUND_SELLER if seller_id is None else str(seller_id),
        reference_account_id=str(reference_id), reference_instrument_id=reference_instrument,
        notional_sats=notional, premium_bps=premium, upfront_sats=upfront_sats, trade_date=now.date(),
        maturity_date=fair.maturity, settlement=settlement)
    low, high = premium_band(fair.premium_bps, params)
    if not low <= premium <= high:
        raise ProtectionRefused(f"premium {premium} bps is outside the band [{low}, {high}] around the fair "
                                f"{fair.premium_bps} bps", fields={"premium_bps": [f"outside the band: between {low} and {high} bps around the fair "
                                                            f"{fair.premium_bps}"]})
    if reference_instrument is not None and uow.positions.get(
            buyer_id, get_instrument(uow, reference_instrument).spec).quantity == 0:
        raise InvalidInput("the buyer holds no position in the reference instrument",
                           fields={"reference_instrument": ["no position of the buyer's"]})
    mark = mark_to_market_sats(risk, notional_sats=notional, premium_bps=premium, valued_on=now.date(),
                               maturity=fair.maturity)
    required = collateral_required_sats(notional, params.protection_collateral_ratio, mark)
    seller_account = ledger.INSURANCE_FUND if seller_id is None else collateral_of(seller_id)
    if seller_id is None:
        _check_fund(uow, params, notional, premium, required, upfront_sats)
    elif _free_after(uow, seller_id, upfront_sats - required, params) < 0:
        raise ProtectionRefused(f"seller {seller_id} cannot post {required} sats of collateral",
                                fields={"seller": [f"free collateral below the {required} sats required"]})
    if upfront_sats > 0 and _free_after(uow, buyer_id, -upfront_sats, params) < 0:
        raise ProtectionRefused(f"buyer {buyer_id} cannot pay the {upfront_sats} sats upfront",
                                fields={"upfront_sats": ["more than the buyer's free collateral"]})
    key = f"protection:{contract_id}:booked"
    moves: dict = {ledger.PROTECTION_ESCROW: required}
    moves[seller_account] = moves.get(seller_account, 0) - required + upfront_sats
    moves[collateral_of(buyer_id)] = -upfront_sats
    entry = ledger.protection(moves, idempotency_key=key, occurred_at=now,
                              memo=f"protection {contract_id} booked: collateral and upfront")
    if entry is not None:
        post(uow, entry, now)
    stored = StoredContract(contract, required, 0, None, int(mark), now.date(), None, via, now, None)
    uow.protection.add(stored)
    uow.protection.add_events([ProtectionEvent(contract_id, "booked", now.date(), now, required, key, {
        "fair_premium_bps": format(fair.premium_bps, "f"), "band_bps": [format(low, "f"), format(high, "f")],
        "upfront_sats": upfront_sats, "collateral_sats": required, "mark_sats": int(mark)})])
    return stored


def _check_fund(uow: UnitOfWork, params: RiskParameters, notional: int, premium: Decimal, required: int,
                upfront_sats: int) -> None:
    """The insurance fund sells protection of last resort within its capacity and premium floor."""
    if premium < params.protection_fund_min_premium_bps:
        raise ProtectionRefused(f"the insurance fund sells protection at {params.protection_fund_min_premium_bps} "
                                "bps or more", fields={"premium_bps": [
                                    f"at least {params.protection_fund_min_premium_bps} from the insurance fund"]})
    balance = uow.ledger.balances([ledger.INSURANCE_FUND]).get(ledger.INSURANCE_FUND, 0)
    capacity = int(balance * params.protection_fund_capacity_ratio)
    sold = uow.protection.fund_notional_sats()
    if sold + notional > capacity or required - upfront_sats > balance:
        raise ProtectionRefused(f"the insurance fund's capacity is {capacity} sats of notional, {sold} sold",
                                fields={"notional_sats": [f"at most {max(capacity - sold, 0)} from the fund"]})


# --- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractView:
    stored: StoredContract
    events: list[ProtectionEvent]
    accrued_sats: int  # through the as-of date
    unpaid_sats: int  # accrued, not yet paid


def list_protection(uow: UnitOfWork, *, account_id: int | None = None, status: str | None = None
                    ) -> list[StoredContract]:
    """Contracts bought or sold by ``account_id`` (newest first), or every contract."""
    if status is not None and status not in {s.value for s in ContractStatus}:
        raise InvalidInput("unknown status", fields={"status": ["active, triggered or matured"]})
    with uow.read_only():
        if account_id is None:
            return uow.protection.all(status=status)
        return uow.protection.of_account(account_id, status=status)


def show_protection(uow: UnitOfWork, clock: Clock, contract_id: str, *, account_id: int | None = None
                    ) -> ContractView:
    """One contract with its history; another account's contract is not found."""
    with uow.read_only():
        stored = uow.protection.get(contract_id)
        parties = set() if stored is None else {stored.contract.buyer_account_id, stored.contract.seller_account_id}
        if stored is None or (account_id is not None and str(account_id) not in parties):
            raise NotFound(f"no protection contract {contract_id}", fields={"contract": ["unknown contract"]})
        events = uow.protection.events_of(contract_id)
    through = min(clock.now().date(), stored.contract.maturity_date)
    accrued = accrued_premium_sats(stored.contract, through) if stored.contract.status is ContractStatus.ACTIVE \
        else stored.premium_paid_sats
    return ContractView(stored, events, accrued, max(0, accrued - stored.premium_paid_sats))

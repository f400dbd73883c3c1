"""Default protection use cases: quote, book (desk block or accepted RFQ answer), list and show.

Rules are in ``hashedge/domain/protection`` (PROTECTION.md); prices come from the pricing library
through ``services.protection_pricing``. Each use case is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.parameters import RiskParameters
from hashedge.errors import InvalidInput
from hashedge.services.accounts import require_account
from hashedge.services.margin import account_state, marks_and_specs, risk_parameters
from pricing.errors import PricingInputError
from hashedge.services.protection_pricing import FairQuote, ReferenceRisk, fair_quote, reference_risk

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


def price_reference(risk: ReferenceRisk, *, notional_sats: int, trade_date: date, tenor: str) -> FairQuote:
    if risk.equity_sats <= 0:
        raise InvalidInput(f"account {risk.account_id} has no equity left: it cannot be protected",
                           fields={"reference": ["has no equity (it is insolvent)"]})
    try:
        return fair_quote(risk.equity_sats, risk.exposure_sats, risk.daily_vol, notional_sats=notional_sats,
                          trade_date=trade_date, tenor=tenor)
    except PricingInputError as error:  # default within days is all but certain: no finite premium
        raise InvalidInput(f"account {risk.account_id} is too close to default to be quoted ({error.rule})",
                           fields={"reference": ["too close to default to be quoted"]}) from error


def quote_protection(uow: UnitOfWork, clock: Clock, *, reference_account_id: int, notional_sats: int,
                     tenor: str = "3M") -> Quote:
    """The fair running premium and upfront for protection on an account (``protection_pricing``)."""
    notional, tenor = require_notional(notional_sats), require_tenor(tenor)
    params = risk_parameters()
    with uow.read_only():
        risk = load_reference_risk(uow, reference_account_id, params)
    fair = price_reference(risk, notional_sats=notional, trade_date=clock.now().date(), tenor=tenor)
    return Quote(reference_account_id, tenor, risk, fair)

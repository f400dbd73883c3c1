"""A protection contract: who, on what, how much, until when, settled how.

- **Reference**: an account (``reference_account_id``; bilateral OTC exposure to it), or one of the
  buyer's positions (``reference_account_id`` is the buyer and ``reference_instrument_id`` the
  instrument: protection of that position against auto-deleveraging).
- **Dates**: traded on ``trade_date``; protection and premium run from the **effective date**, the
  day after (ISDA's step-in date T+1), so cover cannot be bought on a liquidation already under way
  (Carapace's audit: protection bought at the last minute for free cover), through the
  ``maturity_date`` inclusive, a standard CDS date (20 March, June, September or December; a
  tenor's maturity is the pricing library's ``standard_maturity``, ISDA's CDS2015 rule).
- **Money**: ``notional_sats`` protected; ``premium_bps`` a year on it, accrued daily Act/360
  (``premium``); an optional ``upfront_sats`` paid by the buyer at booking (negative: paid by
  the seller).
- **Settlement**: ``novation`` (the seller steps into the defaulted side, the hedge continues) or
  ``cash`` (the seller pays the loss up to the notional); see ``credit_events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

from hashedge.domain.errors import InvalidValue
from hashedge.domain.units import require_price, require_sats

CDS_MONTHS = (3, 6, 9, 12)
CDS_DAY = 20
MAX_PREMIUM_BPS = Decimal(100_000)  # 1000% a year: beyond it a quote is a bet, not insurance


class SettlementMethod(str, Enum):
    NOVATION = "novation"
    CASH = "cash"


class ContractStatus(str, Enum):
    ACTIVE = "active"
    TRIGGERED = "triggered"  # a credit event settled it
    MATURED = "matured"  # ran to its maturity date


def is_cds_date(day: date) -> bool:
    return day.day == CDS_DAY and day.month in CDS_MONTHS


def next_cds_date(day: date) -> date:
    """The first 20 March/June/September/December strictly after ``day``."""
    year, month = day.year, day.month
    while True:
        if month in CDS_MONTHS and date(year, month, CDS_DAY) > day:
            return date(year, month, CDS_DAY)
        month += 1
        if month > 12:
            year, month = year + 1, 1


def effective_date(trade_date: date) -> date:
    return trade_date + timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class ProtectionContract:
    contract_id: str
    buyer_account_id: str
    seller_account_id: str  # an account id, or "insurance_fund" (seller of last resort)
    reference_account_id: str
    reference_instrument_id: str | None  # set: the buyer's position in it is the reference
    notional_sats: int
    premium_bps: Decimal
    upfront_sats: int
    trade_date: date
    maturity_date: date
    settlement: SettlementMethod
    status: ContractStatus = ContractStatus.ACTIVE

    def __post_init__(self) -> None:
        object.__setattr__(self, "settlement", SettlementMethod(self.settlement))
        object.__setattr__(self, "status", ContractStatus(self.status))
        if require_sats(self.notional_sats, "notional_sats") <= 0:
            raise InvalidValue("notional_sats", self.notional_sats, "must be positive")
        require_sats(self.upfront_sats, "upfront_sats")
        premium = require_price(self.premium_bps, "premium_bps")
        if not 0 <= premium <= MAX_PREMIUM_BPS:
            raise InvalidValue("premium_bps", premium, f"must be between 0 and {MAX_PREMIUM_BPS}")
        if self.buyer_account_id == self.seller_account_id:
            raise InvalidValue("seller", self.seller_account_id, "buyer and seller must be different")
        if self.reference_instrument_id is None and self.reference_account_id in (self.buyer_account_id,
                                                                                   self.seller_account_id):
            raise InvalidValue("reference", self.reference_account_id,
                               "an account reference must be a third party (neither buyer nor seller)")
        if self.reference_instrument_id is not None and self.reference_account_id != self.buyer_account_id:
            raise InvalidValue("reference", self.reference_account_id, "a position reference is the buyer's own")
        if not is_cds_date(self.maturity_date):
            raise InvalidValue("maturity", self.maturity_date.isoformat(),
                               "must be a standard CDS date (20 March, June, September or December)")
        if self.maturity_date < self.effective_date:
            raise InvalidValue("maturity", self.maturity_date.isoformat(), "must be after the trade date")

    @property
    def effective_date(self) -> date:
        return effective_date(self.trade_date)

    @property
    def references_position(self) -> bool:
        return self.reference_instrument_id is not None

    def covers(self, day: date) -> bool:
        """Whether a credit event on ``day`` is covered: from the effective date to maturity."""
        return self.status is ContractStatus.ACTIVE and self.effective_date <= day <= self.maturity_date


def contract_json(contract: ProtectionContract) -> dict:
    return {"contract_id": contract.contract_id, "buyer_account_id": contract.buyer_account_id,
            "seller_account_id": contract.seller_account_id, "reference_account_id": contract.reference_account_id,
            "reference_instrument_id": contract.reference_instrument_id, "notional_sats": contract.notional_sats,
            "premium_bps": format(contract.premium_bps, "f"), "upfront_sats": contract.upfront_sats,
            "trade_date": contract.trade_date.isoformat(), "maturity_date": contract.maturity_date.isoformat(),
            "settlement": contract.settlement.value, "status": contract.status.value}


def contract_from_json(data: dict) -> ProtectionContract:
    return ProtectionContract(**{**data, "premium_bps": Decimal(data["premium_bps"]),
                                 "trade_date": date.fromisoformat(data["trade_date"]),
                                 "maturity_date": date.fromisoformat(data["maturity_date"])})


def protected_positions(contracts, liquidated_account_id: str, day: date) -> frozenset[tuple[str, str | None]]:
    """(account, instrument) pairs whose deleveraging a contract in force covers; instrument
    ``None``: every position of the account (the buyer of protection on the liquidated account)."""
    pairs = set()
    for contract in contracts:
        if not contract.covers(day):
            continue
        if contract.references_position:
            pairs.add((contract.buyer_account_id, contract.reference_instrument_id))
        elif contract.reference_account_id == liquidated_account_id:
            pairs.add((contract.buyer_account_id, None))
    return frozenset(pairs)

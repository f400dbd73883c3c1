"""Default protection (CDS-like): the contract, its premium, the seller's collateral, credit events.

Pure: the standard library and the domain only. The rules users must trust are in PROTECTION.md
beside this package; the services (``services.protection*``) load, call and store.
"""

from hashedge.domain.protection.collateral import collateral_required_sats, collateral_transfer_sats
from hashedge.domain.protection.contract import (
    ContractStatus,
    ProtectionContract,
    SettlementMethod,
    effective_date,
    is_cds_date,
    next_cds_date,
)
from hashedge.domain.protection.credit_events import (
    CashSettlement,
    CreditEvent,
    EventKind,
    NovationTakeover,
    cash_settlement,
    determine_credit_event,
    novation_takeovers,
)
from hashedge.domain.protection.premium import accrued_premium_sats, accrual_days, premium_due_sats

__all__ = [
    "CashSettlement", "ContractStatus", "CreditEvent", "EventKind", "NovationTakeover", "ProtectionContract",
    "SettlementMethod", "accrual_days", "accrued_premium_sats", "cash_settlement", "collateral_required_sats",
    "collateral_transfer_sats", "determine_credit_event", "effective_date", "is_cds_date", "next_cds_date",
    "novation_takeovers", "premium_due_sats",
]

"""The running premium: accrued daily, Act/360, paid every night, never losing a satoshi.

Day ``d`` of protection (from the effective date through the maturity date, both included, as
ISDA's last period counts its end date) accrues ``notional x premium_bps / 10,000 / 360``. The
amount accrued **through** a day is the exact sum of its days rounded down once,

    accrued(d) = floor(notional_sats x premium_bps x days(d) / 3,600,000),

and the night of ``d`` pays ``accrued(d) - accrued(previous night)``. The sub-satoshi remainder
of one day is carried in the exact sum to the next, so no satoshi is lost or created: over the
whole contract the buyer pays exactly the rounded-down exact total (less than one satoshi short of
it, in the buyer's favour, as every payout on the platform rounds down).

Paid daily rather than quarterly on the CDS dates: the seller never holds an unsecured claim on the
buyer for more than a day (a quarter's premium owed by a buyer who then defaults would be a loss
the seller's collateral cannot see), and "accrued premium to the event date is paid" needs no
special case. At a zero discount rate this is worth the same as ISDA's quarterly coupons with
accrued premium paid on default, which is what the pricing library values.
"""

from __future__ import annotations

from datetime import date

from hashedge.domain.protection.contract import ProtectionContract
from hashedge.domain.units import exact

ACT_360_DENOMINATOR = 10_000 * 360


def accrual_days(contract: ProtectionContract, through: date) -> int:
    """Days of protection from the effective date through ``through`` (0 before it, capped at maturity)."""
    last = min(through, contract.maturity_date)
    return max(0, (last - contract.effective_date).days + 1)


def accrued_premium_sats(contract: ProtectionContract, through: date) -> int:
    """Premium accrued from the effective date through ``through``, rounded down once."""
    value = contract.notional_sats * exact(contract.premium_bps) * accrual_days(contract, through)
    return int(value // ACT_360_DENOMINATOR)


def premium_due_sats(contract: ProtectionContract, paid_through: date | None, through: date) -> int:
    """What the night of ``through`` pays when everything through ``paid_through`` is paid."""
    before = 0 if paid_through is None else accrued_premium_sats(contract, paid_through)
    return max(0, accrued_premium_sats(contract, through) - before)

"""The backstop pool's shares: exact integers, priced at the pool's NAV (BACKSTOP.md §2).

A share is an integer unit; the pool's first deposit mints one share per satoshi (a NAV per share
of 1 sat). After that a deposit of ``a`` sats into a pool of NAV ``N`` with ``S`` shares mints
``floor(a x S / N)`` shares and a withdrawal of ``s`` shares pays ``floor(s x N / S)`` sats: both
round against the LP, so what the rounding leaves stays in the pool and the NAV per share of the
LPs who stay never falls because someone came or went (``nav_per_share`` is exact, a Fraction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from fractions import Fraction

from hashedge.domain.errors import DomainError, InvalidValue


class ShareMovement(str, Enum):
    """The append-only record of shares (``pool_share_events``): one row per movement."""

    MINT = "mint"  # a deposit: shares created
    BURN = "burn"  # a withdrawal executed: shares destroyed
    WITHDRAWAL_REQUESTED = "withdrawal_requested"  # shares queued (still owned, still at risk)


class PoolInsolvent(DomainError):
    """The pool's NAV is not positive while shares exist: no share can be priced."""

    def __init__(self, nav_sats: int, shares_outstanding: int):
        super().__init__(f"the backstop pool's NAV is {nav_sats} sats for {shares_outstanding} shares: "
                         "deposits and withdrawals wait until it is positive again")
        self.nav_sats, self.shares_outstanding = nav_sats, shares_outstanding


@dataclass(frozen=True)
class PoolValue:
    nav_sats: int  # the pool's equity at the marks (collateral + unrealized PnL)
    shares_outstanding: int  # including shares queued for withdrawal (they stay at risk)

    @property
    def nav_per_share(self) -> Fraction | None:
        """Exact sats per share; ``None`` before the first share exists."""
        if self.shares_outstanding == 0:
            return None
        return Fraction(self.nav_sats, self.shares_outstanding)


def shares_for_deposit(amount_sats: int, value: PoolValue) -> int:
    """Shares minted for ``amount_sats`` (rounded down, against the depositor)."""
    if amount_sats <= 0:
        raise InvalidValue("amount_sats", amount_sats, "must be positive")
    if value.shares_outstanding == 0:
        return amount_sats  # one share per satoshi; a residue left by past LPs goes to the first new one
    if value.nav_sats <= 0:
        raise PoolInsolvent(value.nav_sats, value.shares_outstanding)
    shares = amount_sats * value.shares_outstanding // value.nav_sats
    if shares == 0:
        raise InvalidValue("amount_sats", amount_sats, "is less than one share at the current NAV")
    return shares


def payout_for_shares(shares: int, value: PoolValue) -> int:
    """Sats paid for ``shares`` at the NAV (rounded down, against the withdrawer)."""
    if shares <= 0:
        raise InvalidValue("shares", shares, "must be positive")
    if shares > value.shares_outstanding:
        raise InvalidValue("shares", shares, f"exceeds the {value.shares_outstanding} shares outstanding")
    if value.nav_sats <= 0:
        raise PoolInsolvent(value.nav_sats, value.shares_outstanding)
    return shares * value.nav_sats // value.shares_outstanding


def executes_at(requested_at: datetime, delay_days: int) -> datetime:
    """When a withdrawal requested at ``requested_at`` may execute (the governed delay later)."""
    return requested_at + timedelta(days=delay_days)

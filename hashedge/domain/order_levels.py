"""An account's resting orders summed per instrument and side, for the pre-trade check, exactly.

``domain.margin``'s order margin of a set of orders is, per order, (a) the most its fills can pay
in taker fees, ``q x fee of one contract at its price`` (rounded up per contract): linear in q;
(b) the loss it would book at once against the mark, for a buy above the (effective) mark or a
sell below it, rounded up *per order*; plus per instrument (c) a term of the buys' and the sells'
total quantities. The reduce-only test sums remaining quantities per side. So the orders of one
account on one side of one instrument that are NOT priced through the mark can stand as one
``margin.OrderTotal``: their summed remaining quantity and summed (a), and every figure comes out
to the same sat. The orders priced through the mark (rare: such an order would usually have
traded) are taken one by one, as they are.

The database does the sums (``OrderRepository.resting_totals_of``), so the check's cost follows
the account's instruments, not its orders. It needs, per instrument, the fee of one contract as
an integer formula of the stored price in ticks, ``ceil(ticks x numerator / denominator)``
(``fee_fraction``), and the ticks beyond which an order is priced through the mark
(``through_mark_ticks``). Tested equal to the check over every order by a property test
(tests/unit/trading/test_order_levels.py) and the database's sums equal to these formulas on
both backends (tests/integration/test_order_path.py).
"""

from __future__ import annotations

import functools
import math
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.fees import BPS
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import OrderTotal, effective_mark
from hashedge.domain.orders import Side
from hashedge.domain.units import exact

# The database evaluates ``ticks x numerator + denominator - 1`` in signed 64-bit integers.
_INT64_MAX = 2**63 - 1
# Orders priced above this are taken one by one (the trading service refuses such prices).
SUMMED_PRICE_LIMIT = Decimal(10**12)


def fee_fraction(spec: ContractSpec, fee_bps: Decimal, max_ticks: int) -> Fraction | None:
    """The taker fee of one contract per tick of price, exactly: ``fee_sats(spec, 1, price, bps)``
    is ``ceil(ticks x fraction)``. ``None`` if prices up to ``max_ticks`` could overflow the
    database's integers (then the orders are taken one by one)."""
    fraction = exact(spec.tick_size) * exact(spec.multiplier) * exact(fee_bps) / BPS
    if max_ticks * fraction.numerator + fraction.denominator > _INT64_MAX:
        return None
    return fraction


def fee_per_contract_sats(ticks: int, fraction: Fraction) -> int:
    """What the database computes per order: ``ceil(ticks x fraction)``."""
    return math.ceil(ticks * fraction)


def through_mark_ticks(spec: ContractSpec, mark: Decimal) -> tuple[int, int]:
    """``(highest buy, lowest sell)`` in ticks NOT priced through the effective mark: a buy at
    more ticks than the first, or a sell at fewer than the second, books a loss at once."""
    in_ticks = exact(effective_mark(spec, mark)) / exact(spec.tick_size)
    return math.floor(in_ticks), math.ceil(in_ticks)


def order_total(account_id: str, instrument_id: str, side: str | Side, remaining_quantity: int,
                fee_bound_sats: int) -> OrderTotal:
    return OrderTotal(account_id=account_id, instrument_id=instrument_id, side=Side(side),
                      remaining_quantity=remaining_quantity, fee_bound_sats=fee_bound_sats)


@functools.lru_cache(maxsize=4096)  # a pure function of values that change only with a new mark
def summing_bounds(spec: ContractSpec, mark: Decimal, fee_bps: Decimal) -> tuple[int, int, int, Fraction] | None:
    """``(highest buy, lowest sell, highest price, fee per tick)``: which of an account's resting
    orders in ``spec`` the database may sum (``OrderRepository.resting_totals_of``) and how it
    computes their fees; ``None`` to take them all one by one."""
    highest = int(SUMMED_PRICE_LIMIT / spec.tick_size)
    fee = fee_fraction(spec, fee_bps, highest)
    if fee is None:
        return None
    return (*through_mark_ticks(spec, mark), highest, fee)

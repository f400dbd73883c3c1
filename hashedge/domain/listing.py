"""The listing cycle: which contracts should be open for trading, decided from plain inputs.

Cycle
-----
- **Monthly hashprice**: the 6 calendar months after the current one (at any moment of
  December 2026: ``HP-2027-01`` .. ``HP-2027-06``). A month is listed before its window opens,
  so every contract starts with all its days ahead; it keeps trading through its own month until
  its last trading time, the window end, and the next month is added on the 1st.
- **Epoch futures** (``BME14``, ``BME14C``, ``DIFF``): the 6 epochs after the current one,
  ``current_epoch + 1 .. current_epoch + 6`` (the current epoch's difficulty is already fixed).
  When the chain enters a new epoch, the contract settling on it stops trading and the next
  epoch is added. An epoch whose halt height the tip has already reached (the tip is the last
  block before it, whose timestamp fixes its difficulty) is not listed: it could not trade.

Expected epoch start (last trading time of an epoch contract): with the chain at ``tip_height``
at ``now``, epoch E is expected to start after ``E * 2016 - tip_height`` more blocks of 600 s:
``now + (E * 2016 - tip_height) * 600 s``, truncated to the whole minute. Without
``tip_height`` the tip is taken at the current epoch's first block (the latest possible
estimate). It is only an estimate: blocks come faster or slower, so trading in an epoch contract
also stops at its halt height (``ContractSpec.is_trading_open``). The time is fixed at listing
and stored with the contract; later listings do not move it.

Capped BME14 range: ``floor`` and ``cap`` are set at listing from a reference price (the
current BME14 level in sats/PH/day, passed in by the service): reference x (1 - 40%) rounded
down and x (1 + 40%) rounded up to a multiple of 1,000 sats/PH/day. At a price near the
reference each side posts about 40% of notional: an implied leverage of about 2.5x, with no
liquidation. Without a reference price, capped contracts are not listed (nothing else depends
on them).

Everything is a function of the inputs: same inputs, same list, in the same order (months in
order, then per epoch BME14, BME14C, DIFF).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import (
    BLOCK_INTERVAL,
    BLOCKS_PER_EPOCH,
    ContractSpec,
    MonthWindow,
    Product,
    epoch_future,
    hashprice_monthly,
)
from hashedge.domain.units import Rounding, require_price, round_to_tick

MONTHS_LISTED = 6
EPOCHS_LISTED = 6
EPOCH_PRODUCTS = (Product.BME14_EPOCH, Product.BME14_CAPPED, Product.DIFF_EPOCH)
CAPPED_BAND = Decimal("0.40")
CAPPED_STEP = Decimal(1000)


def expected_epoch_start(now: datetime, tip_height: int, epoch: int) -> datetime:
    """When ``epoch`` is expected to start, from the tip at ``now`` and 600 s blocks (minute floor)."""
    blocks = epoch * BLOCKS_PER_EPOCH - tip_height
    if blocks <= 0:
        raise InvalidValue("epoch", epoch, f"has already started at tip height {tip_height}")
    moment = now.astimezone(timezone.utc) + blocks * BLOCK_INTERVAL
    return moment.replace(second=0, microsecond=0)


def capped_range(reference_price: Decimal, band: Decimal = CAPPED_BAND,
                 step: Decimal = CAPPED_STEP) -> tuple[Decimal, Decimal]:
    """(floor, cap) around ``reference_price``: +-``band``, rounded outward to ``step``."""
    reference = require_price(reference_price, "capped_reference_price")
    if reference <= 0:
        raise InvalidValue("capped_reference_price", reference, "must be positive")
    if not Decimal(0) < require_price(band, "band") < Decimal(1):
        raise InvalidValue("band", band, "must be strictly between 0 and 1")
    floor = round_to_tick(reference * (1 - band), step, Rounding.DOWN)
    cap = round_to_tick(reference * (1 + band), step, Rounding.UP)
    return floor, cap


def listing_cycle(
    now: datetime, current_epoch: int, *, tip_height: int | None = None,
    capped_reference_price: Decimal | None = None,
) -> list[ContractSpec]:
    """Every contract the cycle wants listed at ``now`` (module docstring)."""
    if now.tzinfo is None:
        raise InvalidValue("now", now, "must be timezone-aware (UTC)")
    if isinstance(current_epoch, bool) or not isinstance(current_epoch, int) or current_epoch < 0:
        raise InvalidValue("current_epoch", current_epoch, "must be a non-negative int")
    tip = current_epoch * BLOCKS_PER_EPOCH if tip_height is None else tip_height
    if isinstance(tip, bool) or not isinstance(tip, int) or tip // BLOCKS_PER_EPOCH != current_epoch:
        raise InvalidValue("tip_height", tip_height, f"is not a height in epoch {current_epoch}")
    specs = []
    month = MonthWindow.containing(now)
    for _ in range(MONTHS_LISTED):
        month = month.next()
        specs.append(hashprice_monthly(month.year, month.month))
    capped = capped_range(capped_reference_price) if capped_reference_price is not None else None
    for epoch in range(current_epoch + 1, current_epoch + EPOCHS_LISTED + 1):
        if tip >= epoch * BLOCKS_PER_EPOCH - 1:
            continue  # halted already: its difficulty is fixed by the tip's timestamp
        last_trading = expected_epoch_start(now, tip, epoch)
        for product in EPOCH_PRODUCTS:
            if product is Product.BME14_CAPPED:
                if capped is None:
                    continue
                specs.append(epoch_future(product, epoch, last_trading_time=last_trading,
                                          floor=capped[0], cap=capped[1]))
            else:
                specs.append(epoch_future(product, epoch, last_trading_time=last_trading))
    return specs


def instruments_to_list(
    now: datetime, current_epoch: int, existing_symbols: Iterable[str], *,
    tip_height: int | None = None, capped_reference_price: Decimal | None = None,
) -> list[ContractSpec]:
    """The contracts of the cycle not yet listed (``existing_symbols``), in cycle order.

    Running it again after listing them returns ``[]``: the listing job is idempotent.
    """
    existing = set(existing_symbols)
    cycle = listing_cycle(now, current_epoch, tip_height=tip_height,
                          capped_reference_price=capped_reference_price)
    return [spec for spec in cycle if spec.symbol not in existing]

"""Builders for the trading-domain tests: contracts, positions, fixings and accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from itertools import count

from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec, Product, epoch_future, hashprice_monthly
from hashedge.domain.orders import Order, OrderType, Side, TimeInForce
from hashedge.domain.positions import Position

D = Decimal
UTC = timezone.utc
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EPOCH_START = datetime(2026, 12, 30, 8, 0, tzinfo=UTC)

HP = hashprice_monthly(2026, 12)  # multiplier 31
BME = epoch_future(Product.BME14_EPOCH, 420, last_trading_time=EPOCH_START)
DIFF = epoch_future(Product.DIFF_EPOCH, 421, last_trading_time=EPOCH_START)
CAPPED = epoch_future(Product.BME14_CAPPED, 420, last_trading_time=EPOCH_START, floor=D(25_000), cap=D(59_000))
SPECS: dict[str, ContractSpec] = {s.symbol: s for s in (HP, BME, DIFF, CAPPED)}
MARKS = {HP.symbol: D(45_000), BME.symbol: D(41_999), DIFF.symbol: D("150.23"), CAPPED.symbol: D(42_000)}

_ids = count(1)


@dataclass(frozen=True)
class Fixing:
    """A stand-in for indices.fixings.FixingValue with only what settlement reads."""

    index: str
    kind: str
    as_of: datetime
    value: Decimal
    end_height: int = 0


def trade(spec: ContractSpec, buyer: str, seller: str, quantity: int, price: str) -> Fill:
    return Fill.block_trade(fill_id=f"f{next(_ids)}", instrument_id=spec.symbol, buyer_account_id=buyer,
                            seller_account_id=seller, quantity=quantity, price=D(price), occurred_at=T0)


def position(account: str, spec: ContractSpec, quantity: int, price: str) -> Position:
    """A position of ``quantity`` (signed) contracts opened at ``price`` in one trade."""
    empty = Position(account_id=account, instrument_id=spec.symbol, multiplier=spec.multiplier)
    if quantity == 0:
        return empty
    other = "counterparty"
    fill = trade(spec, account, other, quantity, price) if quantity > 0 else trade(spec, other, account, -quantity, price)
    return empty.apply(fill)


def order(account: str, spec: ContractSpec, side: str, quantity: int, price: str | None = None, *,
          order_id: str | None = None, filled: int = 0) -> Order:
    market = price is None
    return Order(
        order_id=order_id or f"o{next(_ids)}", account_id=account, instrument_id=spec.symbol, side=Side(side),
        quantity=quantity, sequence=next(_ids), created_at=T0,
        order_type=OrderType.MARKET if market else OrderType.LIMIT, price=None if market else D(price),
        time_in_force=TimeInForce.IOC if market else TimeInForce.GTC,
    )

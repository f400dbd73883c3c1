"""Hand-built liquidation inputs: accounts, resting orders and counterparties with readable numbers."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from itertools import count

from hashedge.domain.instruments import Product, epoch_future, hashprice_monthly
from hashedge.domain.liquidation.record import LiquidationInputs
from hashedge.domain.margin import AccountState
from hashedge.domain.orders import Order, OrderStatus, Side
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position

D = Decimal
AT = datetime(2026, 12, 10, 12, tzinfo=timezone.utc)
HP = hashprice_monthly(2026, 12)  # 31 PH-days a contract
CAPPED = epoch_future(Product.BME14_CAPPED, 470, last_trading_time=datetime(2026, 12, 30, tzinfo=timezone.utc),
                      floor=D(30_000), cap=D(70_000))
SPECS = {HP.symbol: HP, CAPPED.symbol: CAPPED}
# The worked figures in these tests use a 2% buffer (Drift's): the numbers stay small and readable.
# The default (4%, LIQUIDATION.md) is pinned by test_risk_parameters.
PARAMS = RiskParameters().with_changes({"liquidation.buffer_ratio": D("0.02")})
_sequence = count(100)


def position(account: str, quantity: int, price, spec=HP) -> Position:
    return Position(account_id=account, instrument_id=spec.symbol, multiplier=spec.multiplier, quantity=quantity,
                    open_value=D(price) * quantity)


def account(account_id: str, collateral: int, *positions: Position, orders=()) -> AccountState:
    return AccountState(account_id=account_id, collateral_sats=collateral, positions=positions,
                        open_orders=tuple(orders))


def resting(account_id: str, side: str, quantity: int, price, spec=HP) -> Order:
    return Order(order_id=f"o{next(_sequence)}", account_id=account_id, instrument_id=spec.symbol, side=Side(side),
                 quantity=quantity, sequence=next(_sequence), created_at=AT, price=D(price), status=OrderStatus.OPEN)


def inputs(liquidated: AccountState, *, mark=50_000, book=(), counterparties=(), insurance_fund=0,
           complete=True, params=None, marks=None) -> LiquidationInputs:
    orders = tuple(book)
    return LiquidationInputs(
        liquidation_id=f"L{liquidated.account_id}-1", occurred_at=AT, account=liquidated,
        marks=marks or {HP.symbol: D(mark), CAPPED.symbol: D(50_000)}, specs=SPECS, params=params or PARAMS,
        books={HP.symbol: orders} if orders else {}, last_sequences={HP.symbol: max([o.sequence for o in orders] + [0])},
        counterparties={c.account_id: c for c in counterparties},
        complete_queues=frozenset({HP.symbol}) if complete else frozenset(),
        available_sats={"insurance_fund": insurance_fund})

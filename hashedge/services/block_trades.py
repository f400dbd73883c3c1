"""OTC block trades: a negotiated trade between two named accounts, booked by the desk.

The price must be on the tick and within the OTC band around the mark
(``domain.marks.otc_price_check``); each side must pass the pre-trade margin check as if it
had sent the trade as an order (``domain.margin.pre_trade_check``, taker fee included). The
trade then goes through the same path as a book fill (``services.trading.record_fill``): a
trade record, both positions, both fees (the taker rate, ``domain.fees``) and realized PnL.
Locks: the instrument's sequence row, then both collateral rows in key order.
"""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.trading import TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.fills import Fill
from hashedge.domain.margin import pre_trade_check
from hashedge.domain.marks import otc_price_check
from hashedge.domain.orders import Order, Side, TimeInForce
from hashedge.errors import InvalidInput
from hashedge.services.accounts import require_account
from hashedge.services.instruments import get_instrument
from hashedge.services.margin import account_state, marks_and_specs, risk_parameters
from hashedge.services.trading import (
    InsufficientMargin,
    OrderRejected,
    parse_price,
    parse_quantity,
    record_fill,
    require_trading_open,
)


def book_block_trade(uow: UnitOfWork, clock: Clock, *, buyer_id: int, seller_id: int, instrument: str,
                     quantity: int, price: Decimal | int | str) -> TradeRecord:
    """Book a block trade (module docstring); returns the stored trade with both fees."""
    quantity, price = parse_quantity(quantity), parse_price(price)
    if price is None:
        raise InvalidInput("a block trade needs a price", fields={"price": ["required"]})
    if buyer_id == seller_id:
        raise InvalidInput("buyer and seller must be different accounts", fields={"seller": ["same as buyer"]})
    now, params = clock.now(), risk_parameters()
    with uow:
        for account_id in (buyer_id, seller_id):
            require_account(uow, account_id)
        record = get_instrument(uow, instrument)
        spec = record.spec
        require_trading_open(uow, record, now)
        uow.instruments.lock_sequence(spec.symbol)
        uow.ledger.lock_balances([collateral_of(buyer_id), collateral_of(seller_id)])
        trade_id = f"BLOCK-{uuid.uuid4().hex[:16]}"
        for account_id, side in ((buyer_id, Side.BUY), (seller_id, Side.SELL)):
            state = account_state(uow, account_id)
            marks, specs = marks_and_specs(uow, state, (spec.symbol,))
            denial = otc_price_check(spec, price, marks[spec.symbol], params)
            if denial is not None:
                raise OrderRejected(denial)
            as_order = Order(order_id=f"{trade_id}-{side.value}", account_id=str(account_id),
                             instrument_id=spec.symbol, side=side, quantity=quantity, sequence=0,
                             created_at=now, price=price, time_in_force=TimeInForce.IOC)
            denial = pre_trade_check(state, as_order, marks, params, specs=specs)
            if denial is not None:
                raise InsufficientMargin(dataclasses.replace(denial, message=f"{side.value}er {account_id}: {denial.message}"))
        fill = Fill.block_trade(fill_id=trade_id, instrument_id=spec.symbol, buyer_account_id=str(buyer_id),
                                seller_account_id=str(seller_id), quantity=quantity, price=price, occurred_at=now)
        fees = record_fill(uow, spec, fill, kind="block", params=params, now=now)
        uow.commit()
    return TradeRecord(fill, "block", fees.get(str(buyer_id), 0), fees.get(str(seller_id), 0))


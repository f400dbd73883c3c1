"""Cancel/replace through the service on SQLite and PostgreSQL: amendments racing fills on real
concurrent connections never lose a fill, a lower quantity is allowed under a margin call (it adds
no risk) while a new price is checked, and every amendment is recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.book import OrderBook
from hashedge.services import ledger, trading
from tests.integration.test_ledger_concurrency import race
from tests.integration.test_trading_concurrency import SYMBOL, funded, listed


def place(runtime, account_id, side, quantity, price):
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                               order_type="limit", quantity=quantity, price=price).order


def replace(runtime, account_id, order_id, **change):
    return trading.replace_order(runtime.uow(), runtime.clock, account_id, order_id, **change)


def test_amendments_racing_fills_never_lose_a_fill(runtime):
    listed(runtime)
    maker = funded(runtime, "maker", 100_000_000)
    takers = [funded(runtime, f"taker-{i}", 100_000_000) for i in range(5)]
    ask = place(runtime, maker, "sell", 20, 50000)

    def act(i: int):
        if i % 2:  # a quantity the fills may already have reached: a 422 then, never a lost fill
            return replace(runtime, maker, ask.order_id, quantity=20 + i)
        return trading.place_order(runtime.uow(), runtime.clock, takers[i // 2], instrument=SYMBOL, side="buy",
                                   order_type="ioc", quantity=2, price=50000)

    results = race(act)
    assert all(isinstance(r, (trading.PlacedOrder, trading.OrderRejected)) for r in results), results
    with runtime.uow() as uow:
        trades = uow.trades.of_instrument(SYMBOL)
        stored = uow.orders.get(ask.order_id).order
        assert stored.filled_quantity == sum(t.fill.quantity for t in trades) == 10
        assert uow.positions.net_quantity(SYMBOL) == 0
        record = uow.instruments.get(SYMBOL)
        OrderBook.from_resting(record.spec.trading_rules(), uow.orders.resting(SYMBOL))  # fails if crossed
    assert ledger.check_balances(runtime.uow()).ok


def test_a_lower_quantity_is_allowed_under_a_margin_call_but_a_new_price_is_checked(runtime):
    listed(runtime)
    account = funded(runtime, "short", 3_000_000)  # 10 contracts need 2,325,000 at the 50,000 mark
    ask = place(runtime, account, "sell", 10, 50000)
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(200000), "model", Decimal(200000))
        uow.commit()
    with pytest.raises(trading.InsufficientMargin):  # 5 x 200,001 x 31 x 15% = 4,650,024 > 3,000,000
        replace(runtime, account, ask.order_id, quantity=5, price=200001)
    with pytest.raises(trading.OrderRejected, match="160000 to 240000") as outside:  # the price band
        replace(runtime, account, ask.order_id, quantity=5, price=50001)
    assert outside.value.fields == {"price": [outside.value.message]}
    reduced = replace(runtime, account, ask.order_id, quantity=5)
    assert (reduced.order.quantity, reduced.order.sequence) == (5, ask.sequence)


def test_every_amendment_is_recorded_with_what_it_changed(runtime):
    listed(runtime)
    account = funded(runtime, "amender", 100_000_000)
    bid = place(runtime, account, "buy", 4, 49000)
    replace(runtime, account, bid.order_id, price=49100, idempotency_key="k-1")
    with runtime.uow() as uow:
        amendment = uow.orders.amendment_by_idempotency_key(account, ledger.request_key(account, "k-1"))
        stored = uow.orders.get(bid.order_id).order
    assert (amendment.previous_quantity, amendment.previous_price) == (4, Decimal(49000))
    assert (amendment.quantity, amendment.price) == (4, Decimal(49100))
    assert amendment.sequence == stored.sequence > bid.sequence

"""Orders racing on real concurrent connections, on SQLite and PostgreSQL: one account's orders
can never together exceed its margin, and crossing orders from many accounts on one instrument
are matched one after the other (positions net to zero, no order matched twice, no deadlock)."""

from __future__ import annotations

from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger, trading
from tests.integration.test_ledger_concurrency import race

SYMBOL = "HP-2026-12"


def listed(runtime) -> None:
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def test_simultaneous_orders_of_one_account_never_exceed_its_margin(runtime):
    listed(runtime)
    account = funded(runtime, "racer", 10_000_000)  # one order of 30 contracts needs about 7,000,000

    results = race(lambda i: trading.place_order(runtime.uow(), runtime.clock, account, instrument=SYMBOL,
                                                 side="buy", order_type="limit", quantity=30, price=49000))
    placed = [r for r in results if isinstance(r, trading.PlacedOrder)]
    refused = [r for r in results if isinstance(r, trading.InsufficientMargin)]
    assert len(placed) == 1 and len(refused) == len(results) - 1, results


def test_crossing_orders_from_many_accounts_are_matched_one_at_a_time(runtime):
    listed(runtime)
    ids = [funded(runtime, f"trader-{i}", 100_000_000) for i in range(10)]

    def act(i: int):
        side = "sell" if i % 2 else "buy"
        return trading.place_order(runtime.uow(), runtime.clock, ids[i], instrument=SYMBOL, side=side,
                                   order_type="limit", quantity=3, price=50000)

    results = race(act)
    assert all(isinstance(r, trading.PlacedOrder) for r in results), results
    with runtime.uow() as uow:
        assert uow.positions.net_quantity(SYMBOL) == 0
        assert sum(t.fill.quantity for t in uow.trades.of_instrument(SYMBOL)) == 15
        assert uow.orders.resting(SYMBOL) == []
    assert ledger.check_balances(runtime.uow()).ok

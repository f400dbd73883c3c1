"""Multi-fill sweeps racing on several instruments, on SQLite and PostgreSQL: each fill posts the
PnL it realizes (settlement clearing) and the fees (the fees account), in whichever order the
book dictates, yet no transaction waits for another in a cycle (no deadlock, no error), and the
books come out exact.

Each instrument has two makers: an *opener* (flat, its asks open a short: the fill realizes no
PnL) and a *closer* (long from an earlier trade at 49,000: its asks realize PnL). On half the
instruments the levels alternate opener, closer, ...; on the other half closer, opener, ... So a
two-level sweep on the first kind touches the fees account before settlement clearing, and on the
second kind the other way round: the pattern that deadlocked PostgreSQL when each fill took the
platform accounts as it went (25 of 80 sweeps failed with DeadlockDetected).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.fees import fill_fees_sats
from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.parameters import RiskParameters
from hashedge.services import accounts, ledger, trading
from tests.integration.test_ledger_concurrency import race

MONTHS = [(2026, 12), (2027, 1), (2027, 2), (2027, 3)]
TAKERS_PER_INSTRUMENT = 3
LEVELS_PER_SWEEP = 2
ENTRY_PRICE = 49_000
DEPOSIT_SATS = 2_000_000_000


def funded(runtime, name: str) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, DEPOSIT_SATS, f"seed-{name}")
    return account.id


def limit(runtime, account_id: int, symbol: str, side: str, quantity: int, price) -> trading.PlacedOrder:
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=symbol, side=side,
                               order_type="limit", quantity=quantity, price=price)


@pytest.fixture
def ladders(runtime):
    """Every instrument listed and marked at 50,000 with asks at consecutive ticks; returns
    symbol -> (tick size, the takers that will sweep it)."""
    clock, prepared = runtime.clock, {}
    levels = TAKERS_PER_INSTRUMENT * LEVELS_PER_SWEEP
    for n, (year, month) in enumerate(MONTHS):
        spec = hashprice_monthly(year, month)
        with runtime.uow() as uow:
            uow.instruments.add(spec, clock.now())
            uow.marks.add(spec.symbol, clock.now(), Decimal(50000), "model", Decimal(50000))
            uow.commit()
        opener, closer, seller = (funded(runtime, f"{role}-{spec.symbol}") for role in ("opener", "closer", "seller"))
        limit(runtime, seller, spec.symbol, "sell", levels // 2, ENTRY_PRICE)
        limit(runtime, closer, spec.symbol, "buy", levels // 2, ENTRY_PRICE)  # the closer is long
        makers = (opener, closer) if n % 2 == 0 else (closer, opener)
        for level in range(levels):
            limit(runtime, makers[level % 2], spec.symbol, "sell", 1, 50000 + level * spec.tick_size)
        takers = [funded(runtime, f"taker-{spec.symbol}-{i}") for i in range(TAKERS_PER_INSTRUMENT)]
        prepared[spec.symbol] = (spec, takers)
    return prepared


def test_two_level_sweeps_on_many_instruments_never_deadlock_and_books_stay_exact(runtime, ladders):
    sweeps = [(symbol, taker) for symbol, (_spec, takers) in ladders.items() for taker in takers]

    def sweep(i: int):
        symbol, taker = sweeps[i]
        spec = ladders[symbol][0]
        top = 50000 + (TAKERS_PER_INSTRUMENT * LEVELS_PER_SWEEP) * spec.tick_size
        return trading.place_order(runtime.uow(), runtime.clock, taker, instrument=symbol, side="buy",
                                   order_type="ioc", quantity=LEVELS_PER_SWEEP, price=top)

    results = race(sweep, threads=len(sweeps))

    errors = [r for r in results if not isinstance(r, trading.PlacedOrder)]
    assert errors == []
    assert all(len(r.fills) == LEVELS_PER_SWEEP and r.order.filled_quantity == LEVELS_PER_SWEEP for r in results)
    params = RiskParameters()
    fees_total = 0
    with runtime.uow() as uow:
        for symbol, (spec, takers) in ladders.items():
            assert uow.orders.resting(symbol) == []  # every level was taken exactly once
            assert uow.positions.net_quantity(symbol) == 0
            for trade in uow.trades.of_instrument(symbol):
                expected = fill_fees_sats(trade.fill, spec, params)
                assert {trade.fill.buyer_account_id: trade.buyer_fee_sats,
                        trade.fill.seller_account_id: trade.seller_fee_sats} == expected
                fees_total += trade.buyer_fee_sats + trade.seller_fee_sats
            for taker in takers:
                assert uow.positions.get(taker, spec).quantity == LEVELS_PER_SWEEP
        fees = {account.key: amount for account, amount in uow.ledger.balances().items()}["fees"]
    assert fees == fees_total
    for result in results:  # a flat taker realizes nothing: it paid its fees and nothing else
        account_id = int(result.order.account_id)
        paid = sum(result.fees_sats)
        assert accounts.account_summary(runtime.uow(), account_id).collateral_sats == DEPOSIT_SATS - paid
    assert ledger.check_balances(runtime.uow()).ok

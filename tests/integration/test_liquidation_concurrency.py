"""Two liquidations at once on SQLite and PostgreSQL: two bankrupt accounts in different contracts,
deleveraged against different accounts (so they share no instrument or collateral lock), liquidated
in parallel threads, with an insurance fund smaller than their two shortfalls. The waterfall lock
makes them decide one after the other: the fund pays exactly what it holds, never more, and the
rest is absorbed by auto-deleveraging; the ledger balances."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

from hashedge.domain import ledger as journal
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, insurance, ledger, liquidation, trading
from hashedge.services.risk import sweep as risk_sweep

MONTHS = {"HP-2026-12": hashprice_monthly(2026, 12), "HP-2027-01": hashprice_monthly(2027, 1)}
FUND_SATS = 1_000_000


def test_two_liquidations_at_once_never_draw_more_than_the_fund_holds(runtime):
    with runtime.uow() as uow:
        for symbol, spec in MONTHS.items():
            uow.instruments.add(spec, runtime.clock.now())
            uow.marks.add(symbol, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    longs = {}
    for n, symbol in enumerate(MONTHS):
        ids = {}
        for role, sats in (("long", 2_400_000), ("short", 100_000_000)):
            account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"{role}-{n}")
            ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{role}-{n}")
            ids[role] = account.id
        trading.place_order(runtime.uow(), runtime.clock, ids["short"], instrument=symbol, side="sell",
                            order_type="limit", quantity=10, price=50000)
        trading.place_order(runtime.uow(), runtime.clock, ids["long"], instrument=symbol, side="buy",
                            order_type="limit", quantity=10, price=50000)
        longs[symbol] = ids["long"]
    insurance.contribute(runtime.uow(), runtime.clock, FUND_SATS, "seed-fund")
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:  # each long: 2,392,250 - 3,100,000 = -707,750
        for symbol in MONTHS:
            uow.marks.add(symbol, runtime.clock.now(), Decimal(40000), "model", Decimal(40000))
        uow.commit()

    queues = liquidation.queues_from(risk_sweep(runtime.uow(), runtime.clock))
    start, results, errors = threading.Barrier(2), [], []

    def liquidate(account_id: int) -> None:
        try:
            start.wait(timeout=30)
            results.append(liquidation.liquidate_account(runtime.uow, runtime.clock, account_id, queues))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=liquidate, args=(a,)) for a in longs.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(results) == 2
    first, second = sorted((r.outcome for r in results), key=lambda o: -o.covered_by("insurance_fund"))
    assert first.covered_by("insurance_fund") == 707_750  # whichever decided first: its whole shortfall
    # the second saw what was left (292,250) and deleveraged the rest at its bankruptcy price (rounded
    # towards covering the loss, so the fund may pay a few sats less than was left)
    assert 0 < second.covered_by("insurance_fund") <= FUND_SATS - 707_750 and second.covered_by("adl") > 0
    for outcome in (first, second):
        assert outcome.shortfall_sats == 707_750 and outcome.uncovered_sats == 0
        assert outcome.covered_by("insurance_fund") + outcome.covered_by("adl") == 707_750
    with runtime.uow() as uow:
        left = uow.ledger.balances([journal.INSURANCE_FUND])[journal.INSURANCE_FUND]
    assert left == FUND_SATS - first.covered_by("insurance_fund") - second.covered_by("insurance_fund") >= 0
    assert ledger.check_balances(runtime.uow()).ok

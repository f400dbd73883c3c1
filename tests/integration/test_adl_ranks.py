"""The liquidation sweep publishes every position's place in its deleveraging queue
(``services.adl_ranks``): the ranks the desk's live ADL queues give, rewritten only where they
changed and all stamped with the sweep's time; a position closed since loses its rank, one opened
gets one at the next sweep."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger, liquidation, liquidation_queries, trading

SPEC = hashprice_monthly(2026, 12)
SYMBOL = SPEC.symbol


def trade(runtime, buyer: int, seller: int, quantity: int, price: int = 50000) -> None:
    for account, side in ((seller, "sell"), (buyer, "buy")):
        trading.place_order(runtime.uow(), runtime.clock, account, instrument=SYMBOL, side=side, order_type="limit",
                            quantity=quantity, price=price)


def stored(runtime, ids) -> dict:
    with runtime.uow() as uow:
        return {(r.instrument_id, r.account_id): (r.side, r.rank, r.queue_length, r.quintile, r.ranked_at)
                for account in ids for r in uow.adl_ranks.of_account(account).values()}


def live(runtime) -> dict:
    now = runtime.clock.now()
    return {(q.instrument_id, line.account_id): (q.side, line.rank, len(q.lines), line.quintile, now)
            for q in liquidation_queries.adl_queues(runtime.uow(), runtime.clock) for line in q.lines}


def sweep(runtime) -> int:
    runtime.clock.advance(timedelta(minutes=1))
    report = liquidation.sweep(runtime.uow, runtime.clock)
    assert report.liquidations == []
    return report.adl_ranks_changed


def test_each_sweep_publishes_the_queues_ranks_and_rewrites_only_what_changed(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(SPEC, runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    ids = []
    for i, sats in enumerate((3_000_000, 6_000_000, 9_000_000, 40_000_000)):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"trader-{i}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{i}")
        ids.append(account.id)
    for long in ids[:3]:
        trade(runtime, long, ids[3], 8)
    assert stored(runtime, ids) == {}
    assert sweep(runtime) == 4  # three longs and the short, all new
    first = stored(runtime, ids)
    assert first == live(runtime)
    assert [first[(SYMBOL, a)][1] for a in ids] == [1, 2, 3, 1]  # the most leveraged long first

    assert sweep(runtime) == 0  # nothing moved: no row rewritten, every row stamped with this sweep
    assert stored(runtime, ids) == live(runtime)

    trade(runtime, ids[3], ids[0], 8)  # the first long closes: its row goes, the others move up
    assert sweep(runtime) == 3
    second = stored(runtime, ids)
    assert second == live(runtime) and (SYMBOL, ids[0]) not in second
    assert [second[(SYMBOL, a)][1:3] for a in ids[1:]] == [(1, 2), (2, 2), (1, 1)]

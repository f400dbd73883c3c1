"""The order path's cost is flat in the queue and in the account's resting orders (counted in SQL
statements), its margin sums are the database's and equal the check over every order, and an
order killed before its commit leaves nothing behind and goes through once when sent again, on
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal

from sqlalchemy import create_engine, event, text

from hashedge.adapters.repositories.trading import order_statements
from hashedge.adapters.write_pipeline import observing_sends
from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.margin import order_margin_sats, pre_trade_check
from hashedge.domain.order_levels import fee_per_contract_sats, summing_bounds
from hashedge.domain.orders import Order, Side
from hashedge.services import accounts, ledger, trading
from hashedge.services.margin import account_state, marks_and_specs, order_check_state, risk_parameters

SYMBOL = "HP-2026-12"
OTHER = "HP-2027-01"
MARK = Decimal(50000)


def market(runtime, makers: int = 3, collateral_sats=lambda i: 10**12) -> list[int]:
    """Two listed months marked at MARK and ``makers`` accounts, the i-th holding ``collateral_sats(i)``."""
    with runtime.uow() as uow:
        for year, month in ((2026, 12), (2027, 1)):
            spec = hashprice_monthly(year, month)
            uow.instruments.add(spec, runtime.clock.now())
            uow.marks.add(spec.symbol, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    ids = []
    for i in range(makers):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, f"trader-{i}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, collateral_sats(i), f"seed-{i}")
        ids.append(account.id)
    return ids


def place(runtime, account_id, side, quantity, price, instrument=SYMBOL, key=None):
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=instrument, side=side,
                               order_type="limit", quantity=quantity, price=price, idempotency_key=key)


def statements_sent(runtime, action) -> list[str]:
    """The statements ``action`` sends, in order: through SQLAlchemy, and on PostgreSQL inside a
    write pipeline too (each one listed, though a pipeline carries several in one round trip)."""
    sent: list[str] = []

    def seen(_connection, _cursor, statement, *args):
        sent.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        with observing_sends(lambda statements, _commit: sent.extend(statements)):
            action()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
    return sent


def statements_of(runtime, action) -> int:
    """How many statements ``action`` sends (``statements_sent``)."""
    return len(statements_sent(runtime, action))


def test_an_order_filling_against_a_deeper_queue_sends_the_same_statements(runtime):
    maker, taker, _ = market(runtime)
    counts = []
    for depth in (2, 60):  # 60: beyond the first batch the queue is read in
        for _ in range(depth):
            place(runtime, maker, "sell", 1, 50000 + len(counts))
        counts.append(statements_of(runtime, lambda: place(runtime, taker, "buy", 1, 50000 + len(counts))))
    assert counts[0] == counts[1]
    probe = Order(order_id="probe", account_id=str(taker), instrument_id=SYMBOL, side=Side.BUY, quantity=1,
                  sequence=10**6, created_at=runtime.clock.now(), price=Decimal(50001))
    with runtime.uow() as uow:  # and reads only the first batch of the 59 it could reach
        assert len(uow.orders.crossing(probe, Decimal(1))) == 16 < len(uow.orders.crossed_by(probe, Decimal(1)))


def test_a_large_order_reads_the_queue_as_far_as_it_fills(runtime):
    maker, taker, other = market(runtime)
    for i in range(40):
        place(runtime, maker if i % 2 else other, "sell", 1, 50000 + i % 3)
    placed = place(runtime, taker, "buy", 35, 50002)
    # price first, then time: all of 50,000, then 50,001, then the first 7 at 50,002
    assert [f.price for f in placed.fills] == [Decimal(50000)] * 14 + [Decimal(50001)] * 13 + [Decimal(50002)] * 8
    with runtime.uow() as uow:
        assert [o.remaining_quantity for o in uow.orders.resting(SYMBOL)] == [1] * 5


def test_an_order_from_an_account_with_more_resting_orders_sends_the_same_statements(runtime):
    holder, _, _ = market(runtime)
    counts = []
    for resting in (1, 60):
        while len([o for o in trading.list_orders(runtime.uow(), holder, open_only=True, limit=1000)]) < resting:
            place(runtime, holder, "buy", 1, 40000 + resting * 100 + len(counts) * 7
                  + len(trading.list_orders(runtime.uow(), holder, open_only=True, limit=1000)))
        counts.append(statements_of(runtime, lambda: place(runtime, holder, "buy", 1, 45000 + len(counts))))
    assert counts[0] == counts[1]
    with runtime.uow() as uow:  # the check reads one sum for them all, not 60 orders
        state, _, _ = order_check_state(uow, holder, SYMBOL, risk_parameters())
        assert [o.remaining_quantity for o in state.open_orders] == [61]


def test_the_sums_over_instruments_rounded_up_to_a_power_of_two_are_each_instruments_own(runtime):
    """Three instruments are summed in four slots (a spare slot matches no order) and give what
    each instrument summed alone gives; three and four instruments share one statement shape."""
    holder, other, _ = market(runtime)
    third = hashprice_monthly(2027, 2)
    with runtime.uow() as uow:
        uow.instruments.add(third, runtime.clock.now())
        uow.marks.add(third.symbol, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    symbols = (SYMBOL, OTHER, third.symbol)
    for n, symbol in enumerate(symbols):
        place(runtime, holder, "buy", 2 + n, 49000 + n, symbol)
        place(runtime, holder, "sell", 5 + n, 51000 + n, symbol)
        place(runtime, other, "buy", 1, 49500, symbol)  # another account's: never in the holder's sums
    params = risk_parameters()
    with runtime.uow() as uow:
        specs = uow.instruments.specs(set(symbols))
        bounds = {s: summing_bounds(specs[s], MARK, params.taker_fee_bps) for s in symbols}
        alone = {s: uow.orders.resting_totals_of(int(holder), {s: bounds[s]}) for s in symbols}
        shapes = (order_statements.totals_statements_any if runtime.engine.dialect.name == "postgresql"
                  else order_statements.totals_statements)  # PostgreSQL's: one for any number, arrays
        shapes.cache_clear()
        together = uow.orders.resting_totals_of(int(holder), bounds)
        uow.orders.resting_totals_of(int(holder), bounds | {"HP-2027-03": bounds[SYMBOL]})  # four instruments
        assert shapes.cache_info().currsize == 1  # one shape: four slots
        of_accounts = uow.orders.resting_totals_of_accounts([int(holder), int(other)], bounds)
    assert sorted(together[0]) == sorted(t for s in symbols for t in alone[s][0]) and len(together[0]) == 6
    assert not together[1] and sorted(of_accounts[str(holder)][0]) == sorted(together[0])
    assert [(s, side, q) for s, side, q, _ in sorted(of_accounts[str(other)][0])] == [
        (s, "buy", 1) for s in sorted(symbols)]


def test_each_of_eleven_instruments_in_sixteen_slots_sums_its_own_fees_to_the_sat(runtime):
    """Past ten slots every slot's bound values are still its own. Once a parameter of slot 1
    and one of slot 11 shared a name (``d1`` + ``1``, ``d`` + ``11``), so a spare slot's
    denominator turned slot 1's rounding up into rounding down, a sat short per contract."""
    holder, _, _ = market(runtime)
    months = [hashprice_monthly(2027 + m // 12, m % 12 + 1) for m in range(1, 10)]
    with runtime.uow() as uow:
        for spec in months:
            uow.instruments.add(spec, runtime.clock.now())
            uow.marks.add(spec.symbol, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    symbols = sorted([SYMBOL, OTHER, *(m.symbol for m in months)])
    assert len(symbols) == 11  # rounded up to 16 slots, five of them spare
    for n, symbol in enumerate(symbols):
        place(runtime, holder, "sell", 2 + n, 50003 + n, symbol)
    params = risk_parameters()
    with runtime.uow() as uow:
        specs = uow.instruments.specs(set(symbols))
        bounds = {s: summing_bounds(specs[s], MARK, params.taker_fee_bps) for s in symbols}
        together, each = uow.orders.resting_totals_of(int(holder), bounds)
    expected = [(s, "sell", 2 + n, (2 + n) * fee_per_contract_sats(int((50003 + n) / specs[s].tick_size), bounds[s][3]))
                for n, s in enumerate(symbols)]
    assert not each and sorted(together) == expected
    # every fee is a fraction of a sat before it is rounded up, so a rounding down would show
    assert all(((50003 + n) * bounds[s][3]).denominator != 1 for n, s in enumerate(symbols))


def test_the_databases_sums_decide_as_every_order_does(runtime):
    holder, other, _ = market(runtime)
    place(runtime, other, "buy", 5, 49000)
    place(runtime, holder, "sell", 3, 49000)  # a short position of 3, a partly filled order left
    orders = [("buy", 4, 49500), ("buy", 2, 49500), ("buy", 7, 48000), ("sell", 5, 50500), ("sell", 1, 52000),
              ("buy", 3, 49999, OTHER), ("sell", 2, 50001, OTHER)]
    for side, quantity, price, *instrument in orders:
        place(runtime, holder, side, quantity, price, *instrument)
    with runtime.uow() as uow:  # the mark moves through some of them: those are taken one by one
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(49600), "model", Decimal(49600))
        uow.commit()
    params = risk_parameters()
    with runtime.uow() as uow:
        every = account_state(uow, holder)
        marks, specs = marks_and_specs(uow, every)
        sums, sum_marks, _ = order_check_state(uow, holder, SYMBOL, params)
    assert sum_marks == marks and len(sums.open_orders) < len(every.open_orders)
    assert order_margin_sats(sums, marks, specs, params) == order_margin_sats(every, marks, specs, params) > 0
    for side in ("buy", "sell"):
        for quantity in (1, 3, 50, 5000):
            new = Order(order_id="new", account_id=str(holder), instrument_id=SYMBOL, side=Side(side),
                        quantity=quantity, sequence=999, created_at=runtime.clock.now(), price=Decimal(49700))
            for collateral in (0, 10**6, 10**8, 10**10):
                assert (pre_trade_check(replace(sums, collateral_sats=collateral), new, marks, params, specs=specs)
                        == pre_trade_check(replace(every, collateral_sats=collateral), new, marks, params,
                                           specs=specs))


PLACE = """
import sys
from datetime import datetime
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.services import trading
url, now, instance, account = sys.argv[1:5]
runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": instance},
                                  secret_key="crash"), clock=FixedClock(datetime.fromisoformat(now)))
placed = trading.place_order(runtime.uow(), runtime.clock, int(account), instrument="HP-2026-12", side="buy",
                             order_type="limit", quantity=2, price=50000, idempotency_key="crash-1")
print(placed.order.status.value, len(placed.fills))
"""
STATE = ["SELECT id, status, filled_quantity, sequence FROM orders ORDER BY id",
         "SELECT id, quantity FROM trades ORDER BY id",
         "SELECT account_key, balance_sats FROM ledger_balances ORDER BY account_key",
         "SELECT account_id, instrument, quantity FROM positions ORDER BY account_id, instrument",
         "SELECT last_sequence FROM instrument_sequences ORDER BY instrument",
         "SELECT count(*) FROM journal_entries", "SELECT count(*) FROM journal_chain"]


def stored(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [[tuple(row) for row in connection.execute(text(query))] for query in STATE]
    finally:
        engine.dispose()


def test_an_order_killed_before_its_commit_leaves_nothing_and_goes_through_once_when_sent_again(
        runtime, database_url, tmp_path):
    maker, taker, _ = market(runtime)
    place(runtime, maker, "sell", 3, 50000)
    runtime.close()
    before = stored(database_url)

    def run(fault=None):
        env = {k: v for k, v in os.environ.items() if k != "HASHEDGE_FAULT"}
        if fault:
            env["HASHEDGE_FAULT"] = fault
        return subprocess.run([sys.executable, "-c", PLACE, database_url, runtime.clock.now().isoformat(),
                               str(tmp_path / "instance"), str(taker)], env=env, capture_output=True, text=True,
                              timeout=120)

    killed = run("place_order.before_commit")
    assert killed.returncode == -9, killed.stderr
    assert stored(database_url) == before  # the fills, postings and links were written, none committed
    first = run()
    assert (first.returncode, first.stdout.split()) == (0, ["filled", "1"]), first.stderr
    again = run()  # the client's retry: the same answer, nothing new
    after = stored(database_url)
    assert (again.returncode, again.stdout.split()) == (0, ["filled", "1"]), again.stderr
    assert stored(database_url) == after != before

"""The liquidation engine's interfaces on SQLite and PostgreSQL: ``GET /api/v1/liquidations`` (the
key's own), ``GET /api/v1/insurance-fund`` (public), positions with their estimated liquidation
price and ADL quintile, ``hashedge liquidate --sweep --json`` and ``hashedge insurance show
--json``, and the scheduler's ``liquidation_sweep`` job (also run after every re-marking)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.liquidation.prices import estimated_liquidation_price
from hashedge.jobs.scheduler import JobContext, liquidation_sweep_job, slot_of
from hashedge.services import accounts, insurance, ledger, liquidation, positions, trading
from hashedge.services.margin import account_state, marks_and_specs, risk_parameters
from hashedge.web import create_app

SYMBOL = "HP-2026-12"
HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def mark(runtime, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


@pytest.fixture
def book(runtime):
    """long (10 at 50,000 on 2,400,000 sats), two shorts: ``lean`` 6 on 1,500,000, ``rich`` 4 on 100 BTC."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50000)
    ids, keys = {}, {}
    for name, sats in (("long", 2_400_000), ("lean", 1_500_000), ("rich", 10_000_000_000)):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        ids[name], keys[name] = account.id, {"Authorization": f"Bearer {key}"}
    for name, quantity in (("lean", 6), ("rich", 4)):
        trading.place_order(runtime.uow(), runtime.clock, ids[name], instrument=SYMBOL, side="sell",
                            order_type="limit", quantity=quantity, price=50000)
    trading.place_order(runtime.uow(), runtime.clock, ids["long"], instrument=SYMBOL, side="buy",
                        order_type="limit", quantity=10, price=50000)
    insurance.contribute(runtime.uow(), runtime.clock, 5_000_000, "seed-fund")
    return ids, keys


def test_positions_show_their_liquidation_price_and_adl_quintile(runtime, book):
    ids, keys = book
    client = create_app(runtime).test_client()
    [unranked] = client.get("/api/v1/positions", headers=keys["long"]).json["items"]
    assert (unranked["adl_quintile"], unranked["adl_ranked_at"]) == (None, None)  # no sweep has ranked it yet
    runtime.clock.advance(timedelta(seconds=30))
    liquidation.sweep(runtime.uow, runtime.clock)  # the minutely sweep publishes the queues' ranks
    [long_position] = client.get("/api/v1/positions", headers=keys["long"]).json["items"]
    assert long_position["adl_ranked_at"] == runtime.clock.now().isoformat()
    # equity 2,400,000 - 7,750 taker fee + (p - 50,000) x 310 = MM 31 p: p = 13,107,750 / 279 = 46,981.18
    assert long_position["estimated_liquidation_price"] == "46982"  # rounded up: liquidated at or below it
    assert long_position["adl_quintile"] == 5  # the only long: first in its queue
    lean = client.get("/api/v1/positions", headers=keys["lean"]).json["items"][0]
    rich = client.get("/api/v1/positions", headers=keys["rich"]).json["items"][0]
    # the short of 6 after its 1,860 maker fee: p = (1,498,140 + 9,300,000) / (186 + 18.6) = 52,776.83
    assert lean["estimated_liquidation_price"] == "52776"
    assert Decimal(rich["estimated_liquidation_price"]) > 1_000_000  # 100 BTC behind 4 contracts
    assert (lean["adl_quintile"], rich["adl_quintile"]) == (5, 3)  # tied at no profit: by account, halves


def test_resting_orders_neither_move_the_liquidation_price_nor_cost_the_positions_page(runtime, book):
    """The estimated liquidation price depends on equity and maintenance margin only: resting
    orders (some priced through the mark) leave it where the domain puts it over every order, and
    the page sends the same statements however many the account has."""
    ids, keys = book
    ledger.deposit(runtime.uow(), runtime.clock, ids["long"], 10_000_000, "room-for-orders")
    client = create_app(runtime).test_client()

    def place_buys(prices):
        for price in prices:  # 50,500 rests above the mark (no seller left)
            trading.place_order(runtime.uow(), runtime.clock, ids["long"], instrument=SYMBOL, side="buy",
                                order_type="limit", quantity=1, price=price)

    def positions_page() -> tuple[dict, int]:
        count = [0]

        def counted(*_):
            count[0] += 1

        event.listen(runtime.engine, "before_cursor_execute", counted)
        try:
            [item] = client.get("/api/v1/positions", headers=keys["long"]).json["items"]
        finally:
            event.remove(runtime.engine, "before_cursor_execute", counted)
        return item, count[0]

    without_orders, statements_without = positions_page()
    place_buys([49000, 49500, 50500])
    few, statements_few = positions_page()
    place_buys([48000 + 10 * i for i in range(30)] + [50400, 50300])
    many, statements_many = positions_page()
    assert statements_without == statements_few == statements_many
    with runtime.uow() as uow:
        every = account_state(uow, ids["long"])
        marks, specs = marks_and_specs(uow, every)
    assert len(every.open_orders) == 35
    expected = estimated_liquidation_price(every, SYMBOL, marks, risk_parameters(), specs=specs)
    assert without_orders["estimated_liquidation_price"] == few["estimated_liquidation_price"] == many[
        "estimated_liquidation_price"] == str(expected)


def test_the_positions_page_and_its_risk_figures_come_from_one_snapshot_reading_each_row_once(runtime, book):
    """One read-only transaction: the listed positions and the liquidation price computed from
    them cannot straddle a fill; the positions, their marks and their contracts are read once.
    (The kept answers' marker is read before it, outside any transaction: in autocommit.)"""
    ids, _ = book
    began, statements = [0], []

    def begin(connection):
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            began[0] += 1

    event.listen(runtime.engine, "begin", begin)
    event.listen(runtime.engine, "before_cursor_execute", lambda _c, _cur, statement, *rest: statements.append(
        " ".join(statement.split())))
    found = positions.position_risk_page(runtime.uow, ids["long"])
    assert began[0] == 1
    assert [len([s for s in statements if f" FROM {table} " in f"{s} "]) for table in ("positions", "marks")] == [1, 1]
    [item] = found.items
    with runtime.uow() as uow:
        state = account_state(uow, ids["long"], with_orders=False)
        marks, specs = marks_and_specs(uow, state)
    assert item.view.position == state.positions[0] and item.view.mark_price == marks[SYMBOL]
    assert item.estimated_liquidation_price == estimated_liquidation_price(state, SYMBOL, marks, risk_parameters(),
                                                                           specs=specs)


def test_liquidations_are_served_to_their_account_and_the_fund_to_everyone(runtime, book, database_url):
    ids, keys = book
    mark(runtime, 40000)  # the long's equity -707,750: the fund pays, the shorts take the position at the mark
    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}
    swept = subprocess.run([HASHEDGE, "liquidate", "--sweep", "--json"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert swept.returncode == 0, swept.stderr
    report = json.loads(swept.stdout)
    assert (report["liquidations"], report["insurance_fund_sats"], report["adl_events"], report["uncovered_loss_sats"],
            report["penalties_sats"]) == (1, 707_750, 2, 0, 0)
    [liquidation_id] = report["liquidation_ids"]

    client = create_app(runtime).test_client()
    listed = client.get("/api/v1/liquidations", headers=keys["long"]).json
    assert (listed["total"], listed["page"], listed["page_size"]) == (1, 1, 100)
    [mine] = listed["items"]
    assert (mine["id"], mine["insurance_fund_sats"], mine["shortfall_sats"], mine["adl_contracts"]) == (
        liquidation_id, 707_750, 707_750, 10)
    assert mine["trigger"]["equity_sats"] == -707_750 and mine["after"]["status"] == "healthy"
    assert {f["stage"] for f in mine["fills"]} == {"adl"} and len(mine["steps"]) == 10
    assert client.get(f"/api/v1/liquidations/{liquidation_id}", headers=keys["long"]).json == mine
    assert client.get("/api/v1/liquidations", headers=keys["lean"]).json["items"] == []
    assert client.get(f"/api/v1/liquidations/{liquidation_id}", headers=keys["lean"]).status_code == 404
    assert client.get("/api/v1/liquidations").status_code == 401
    events = client.get("/api/v1/account/events", headers=keys["lean"]).json["items"]
    assert [(e["kind"], e["liquidation_id"], e["detail"]["instrument"]) for e in events] == [
        ("adl", liquidation_id, SYMBOL)]

    fund = client.get("/api/v1/insurance-fund").json
    assert (fund["balance_sats"], fund["contributions_sats"], fund["shortfalls_covered_sats"]) == (
        5_000_000 - 707_750, 5_000_000, 707_750)
    assert [(i["kind"], i["amount_sats"], i["balance_after_sats"]) for i in fund["items"]] == [
        ("contribution", 5_000_000, 5_000_000), ("shortfall_cover", -707_750, 4_292_250)]
    assert client.get("/api/v1/insurance-fund?page_size=0").status_code == 400
    shown = subprocess.run([HASHEDGE, "insurance", "show", "--json"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert json.loads(shown.stdout)["balance_sats"] == 4_292_250
    assert ledger.check_balances(runtime.uow()).ok


def test_the_scheduler_sweeps_every_minute_and_records_the_run(runtime, book):
    ids, _ = book
    mark(runtime, 40000)
    summary = liquidation_sweep_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 60))
    assert summary["liquidations"] == 1 and summary["liquidation_ids"] == [f"L{ids['long']}-1"]
    assert liquidation_sweep_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 60)) is None  # same slot
    runtime.clock.advance(timedelta(minutes=1))
    again = liquidation_sweep_job(JobContext(runtime, None), slot_of(runtime.clock.now(), 60))
    assert again["liquidations"] == 0
    assert liquidation.sweep(runtime.uow, runtime.clock).left_liquidatable == []

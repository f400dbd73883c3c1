"""The account's reads (``services.accounts.account_summary`` behind ``GET /account``,
``services.positions.position_risk_page`` behind ``GET /positions``) on SQLite and PostgreSQL: a
fixed number of statements however many positions the account holds (each position is read with
its contract's multiplier in one statement), and figures that come through the reads' margin memo
(``services.margin.read_account_margin``) equal to the margin engine's worked out afresh, over
every order one by one and without a memo, after every change to the account and its marks."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.liquidation.prices import estimated_liquidation_price
from hashedge.domain.margin import account_margin
from hashedge.services import accounts, trading
from hashedge.services.margin import account_state, marks_and_specs, risk_parameters
from hashedge.services.positions import position_risk_page
from hashedge.services.trading_queries import order_page
from hashedge.web import create_app
from hashedge.web.api.trading_schemas import OrderPageSchema, order_view, page_view
from statements import Statements
from test_order_path import MARK, OTHER, SYMBOL, market, place, statements_sent


def _summary(runtime, account_id):
    return accounts.account_summary(runtime.uow(), account_id)


def _positions(runtime, account_id):
    return position_risk_page(runtime.uow, account_id)


def _new_mark(runtime, symbol: str, price: Decimal) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(symbol, runtime.clock.now(), price, "model", price)
        uow.commit()


def test_the_account_reads_send_the_same_statements_however_many_positions(runtime):
    holder, other, _ = market(runtime)
    third = hashprice_monthly(2027, 2)
    with runtime.uow() as uow:
        uow.instruments.add(third, runtime.clock.now())
        uow.marks.add(third.symbol, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    sent = []
    for n, symbol in enumerate((SYMBOL, OTHER, third.symbol)):
        price = MARK + 10 * n
        place(runtime, other, "sell", 2, price, symbol)
        place(runtime, holder, "buy", 1, price, symbol)  # fills: the holder now holds n + 1 positions
        assert len(_positions(runtime, holder).items) == n + 1
        sent.append((statements_sent(runtime, lambda: _summary(runtime, holder)),
                     statements_sent(runtime, lambda: _positions(runtime, holder))))
    assert [len(summary) for summary, _ in sent] == [len(sent[0][0])] * 3
    assert [len(page) for _, page in sent] == [len(sent[0][1])] * 3
    for summary, page in sent:  # the multipliers come with the positions, not in a read of their own
        for statement in (*summary, *page):
            assert not statement.lstrip().startswith("SELECT instruments.symbol, instruments.multiplier")


def test_the_figures_through_the_reads_memo_are_the_engines_worked_out_afresh(runtime):
    holder, other, _ = market(runtime)

    def afresh():
        with runtime.uow() as uow:
            params = risk_parameters(uow)
            state = account_state(uow, holder)  # every resting order, one by one
            marks, specs = marks_and_specs(uow, state)
        margin = account_margin(state, marks, params, specs=specs)  # no memo
        prices = [estimated_liquidation_price(state, p.instrument_id, marks, params, specs=specs)
                  for p in state.positions]
        return margin, prices

    def check() -> tuple:
        summary, page = _summary(runtime, holder), _positions(runtime, holder)
        margin, prices = afresh()
        assert (summary.collateral_sats, summary.unrealized_pnl_sats, summary.initial_margin_sats,
                summary.maintenance_margin_sats, summary.status) == (
            margin.collateral_sats, margin.unrealized_pnl_sats,
            margin.initial_margin_sats + margin.order_margin_sats, margin.maintenance_margin_sats,
            margin.status.value)
        assert [risk.estimated_liquidation_price for risk in page.items] == prices
        return summary, tuple(prices)

    seen = [check()]
    resting = place(runtime, holder, "buy", 3, MARK - 100)  # an order: order margin
    seen.append(check())
    place(runtime, other, "sell", 2, MARK - 100)  # two of it fill: a position
    seen.append(check())
    _new_mark(runtime, SYMBOL, MARK + 700)  # the position gains; the order's terms are the same sum
    seen.append(check())
    _new_mark(runtime, SYMBOL, MARK - 700)  # the position loses; the order is priced through the mark
    seen.append(check())
    place(runtime, holder, "sell", 4, MARK + 300, OTHER)  # another instrument's order
    seen.append(check())
    _new_mark(runtime, SYMBOL, MARK)  # back to a mark the memo has seen, with other orders now
    seen.append(check())
    trading.cancel_order(runtime.uow(), runtime.clock, holder, resting.order.order_id)
    seen.append(check())
    assert len(set(seen)) == len(seen)  # every step changed what the reads show


def test_on_postgresql_the_account_reads_send_only_statements_psycopg_keeps_converted(runtime):
    """psycopg converts a statement's placeholders once and keeps it, unless the statement is
    longer than 4 KB or has more than 50 parameters: then it parses it again on every execution.
    An account working orders in eight contracts, and a page of 100 orders with their fills, once
    sent such statements (a parameter per bound per contract; a parameter per order, twice)."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's conversion cache is PostgreSQL's")
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS

    holder, other, _ = market(runtime)
    months = [hashprice_monthly(2027, month) for month in range(2, 8)]
    with runtime.uow() as uow:
        for spec in months:
            uow.instruments.add(spec, runtime.clock.now())
            uow.marks.add(spec.symbol, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    symbols = [SYMBOL, OTHER, *(spec.symbol for spec in months)]
    for n in range(100):
        place(runtime, holder, "buy", 1, MARK - 100 - n, symbols[n % len(symbols)])
    place(runtime, other, "sell", 5, MARK - 100 - 3 * len(symbols), SYMBOL)  # fills some: a position
    statements = Statements(runtime.engine)
    sent = [*statements.during(lambda: _summary(runtime, holder)),
            *statements.during(lambda: _positions(runtime, holder)),
            *statements.during(lambda: order_page(runtime.uow(), holder, page_size=100))]
    page = order_page(runtime.uow(), holder, page_size=100)
    assert len(page.items) == 100 and any(item.fills for item in page.items)
    assert len(sent) >= 10
    for sql, parameters in sent:
        assert len(sql.encode()) <= MAX_CACHED_STATEMENT_LENGTH, sql[:200]
        assert len(parameters) <= MAX_CACHED_STATEMENT_PARAMS, sql[:200]


def test_the_api_renders_a_page_of_orders_as_its_schema_does_after_every_change(runtime):
    """Each order of ``GET /orders`` is rendered once per distinct content
    (``web.api.rendered.items_page_response``): the body equals the page's schema's rendering of
    the service's page, before and after an order fills, rests, is cancelled, and pages."""
    holder, other, _ = market(runtime)
    client = create_app(runtime).test_client()
    headers = {"Authorization": f"Bearer {accounts.issue_api_key(runtime.uow(), runtime.clock, holder)}"}

    def schema_rendering(**query) -> dict:
        found = order_page(runtime.uow(), holder, **query)
        rendered = OrderPageSchema().dump(page_view(found, lambda o: order_view(o.order, o.style, o.fills,
                                                                                 o.fees_sats)))
        return json.loads(json.dumps(rendered))

    def shown(query: str = "", **parameters) -> dict:
        answer = client.get(f"/api/v1/orders{query}", headers=headers)
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        body = answer.get_json()
        assert body == schema_rendering(**parameters)
        return body

    resting = place(runtime, holder, "buy", 3, MARK - 100)
    place(runtime, holder, "sell", 1, MARK + 100, OTHER)
    first = shown()
    assert [item["status"] for item in first["items"]] == ["open", "open"]
    place(runtime, other, "sell", 2, MARK - 100)  # the first order fills in part
    filled = shown()
    order = next(item for item in filled["items"] if item["id"] == resting.order.order_id)
    assert (order["status"], order["filled_quantity"], len(order["fills"])) == ("partially_filled", 2, 1)
    trading.cancel_order(runtime.uow(), runtime.clock, holder, resting.order.order_id)
    cancelled = shown()
    assert next(item for item in cancelled["items"] if item["id"] == resting.order.order_id)["status"] == "cancelled"
    assert shown("?page=2&page_size=1", page=2, page_size=1)["items"] == cancelled["items"][1:]

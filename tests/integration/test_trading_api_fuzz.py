"""Fuzzing the trading API from its OpenAPI document *with a valid API key*: instruments, book
depth, orders (place, list, read, replace, cancel one or all), trades and positions. Whatever an
authenticated client sends, the answer is never a server error, matches its documented schema,
and requests the schema forbids are refused. Against a live book: another account rests orders on
both sides, and well-formed requests are often pointed at the listed instrument and at real
orders, so generated orders and amendments really match. Afterwards the ledger balances, positions
net to zero and the stored book is not crossed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from schemathesis.generation import GenerationMode

from hashedge.domain.book import OrderBook
from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger, trading
from hashedge.web import create_app
from tests.integration.fuzzing import fuzz, modes_of, operations_of
from tests.hypothesis_profiles import time_budget

EXAMPLES_PER_OPERATION = 20
EXAMPLES_PER_WRITE = 50  # placing and replacing orders: where matching, margin and storage meet input
SYMBOL = "HP-2026-12"
MARK = Decimal(50000)
TRADING_OPERATIONS = {
    ("GET", "/api/v1/instruments"), ("GET", "/api/v1/instruments/{symbol}/book"),
    ("POST", "/api/v1/orders"), ("GET", "/api/v1/orders"), ("GET", "/api/v1/orders/{order_id}"),
    ("PATCH", "/api/v1/orders/{order_id}"), ("DELETE", "/api/v1/orders/{order_id}"), ("DELETE", "/api/v1/orders"),
    ("GET", "/api/v1/trades"), ("GET", "/api/v1/positions"),
}


def _place(runtime, account_id: int, side: str, quantity: int, price: int) -> str:
    placed = trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                                 order_type="limit", quantity=quantity, price=price)
    return placed.order.order_id


def _fresh_orders(runtime, fuzzer_id: int) -> list[str]:
    """A few resting orders of the fuzzer's, away from the maker's prices, for one operation."""
    return [_place(runtime, fuzzer_id, "buy", 3, 48000 + i) for i in range(2)] + [
        _place(runtime, fuzzer_id, "sell", 3, 52000 + i) for i in range(2)]


def _aim(case, order_ids: list[str], choice: int) -> None:
    """Point a well-formed request at the listed instrument or a real order (often, not always)."""
    if choice == 0:
        return
    if "symbol" in (case.path_parameters or {}):
        case.path_parameters["symbol"] = SYMBOL
    if "order_id" in (case.path_parameters or {}):
        case.path_parameters["order_id"] = order_ids[choice % len(order_ids)]
    if isinstance(case.body, dict) and "instrument" in case.body:
        case.body["instrument"] = SYMBOL
    if isinstance(case.query, dict) and "instrument" in case.query:
        case.query["instrument"] = SYMBOL


def _authorize(case, key: str) -> None:
    """A well-formed bearer header gets the real key; a missing or mangled one (what negative
    generation does to security) stays as generated and must be a 401, unless the request is
    malformed elsewhere too: then it gets the key, so validation behind authentication is fuzzed."""
    headers = dict(case.headers or {})
    well_formed = str(headers.get("Authorization", "")).startswith("Bearer ")
    malformed_elsewhere = any(location != "header" and info.mode is GenerationMode.NEGATIVE
                              for location, info in case.meta.components.items())
    if well_formed or malformed_elsewhere:
        case.headers = {**headers, "Authorization": f"Bearer {key}"}


@pytest.mark.hypothesis
@pytest.mark.timeout(time_budget(240))
def test_authenticated_trading_requests_stay_within_the_contract(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    ids = {}
    for name in ("fuzzer", "maker"):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**12, f"funding-{name}")
        ids[name] = (account.id, key)
    (fuzzer_id, key), (maker_id, _) = ids["fuzzer"], ids["maker"]
    maker_order = _place(runtime, maker_id, "buy", 50, 49000)
    for step in range(1, 6):
        _place(runtime, maker_id, "buy", 50, 49000 + 100 * step)
        _place(runtime, maker_id, "sell", 50, 50000 + 100 * step)

    operations = [op for op in operations_of(create_app(runtime))
                  if (op.method.upper(), op.path) in TRADING_OPERATIONS]
    assert len(operations) == len(TRADING_OPERATIONS)
    for operation in operations:
        order_ids = [*_fresh_orders(runtime, fuzzer_id), maker_order]  # the maker's: always a 404
        examples = EXAMPLES_PER_WRITE if operation.method.upper() in ("POST", "PATCH") else EXAMPLES_PER_OPERATION
        for mode in modes_of(operation):
            def prepare(case, choice, mode=mode, order_ids=order_ids):
                _authorize(case, key)
                if mode is GenerationMode.POSITIVE:  # a negative case must stay invalid
                    _aim(case, order_ids, choice)

            fuzz(operation, mode, examples=examples, choices=2 * len(order_ids), prepare=prepare)

    assert ledger.check_balances(runtime.uow()).ok
    with runtime.uow() as uow:
        assert uow.positions.net_quantity(SYMBOL) == 0
        record = uow.instruments.get(SYMBOL)
        OrderBook.from_resting(record.spec.trading_rules(), uow.orders.resting(SYMBOL))  # fails if crossed
    assert accounts.account_summary(runtime.uow(), fuzzer_id).collateral_sats >= 0

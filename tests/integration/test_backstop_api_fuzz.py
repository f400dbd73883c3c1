"""Fuzzing the pool and backstop-offer API from its OpenAPI document *with a valid API key*: whatever
an authenticated client sends, the answer is never a server error, matches its documented schema,
and requests the schema forbids are refused; the ledger still balances and the pool's shares are
exactly the sum of their movements."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, ledger
from hashedge.web import create_app
from tests.hypothesis_profiles import time_budget
from tests.integration.fuzzing import fuzz, modes_of, operations_of

EXAMPLES_PER_OPERATION = 20
BACKSTOP_PATHS = ("/api/v1/pool", "/api/v1/pool/shares", "/api/v1/pool/deposits", "/api/v1/pool/withdrawals",
                  "/api/v1/backstop/offers", "/api/v1/backstop/offers/{offer_id}")


@pytest.mark.hypothesis
@pytest.mark.timeout(time_budget(180))
def test_authenticated_pool_and_offer_requests_stay_within_the_contract(runtime):
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add("HP-2026-12", runtime.clock.now(), Decimal(50000), "model", Decimal(50000))
        uow.commit()
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "fuzzer")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**12, "funding")
    operations = [op for op in operations_of(create_app(runtime)) if op.path in BACKSTOP_PATHS]
    assert len(operations) == 7  # GET and POST share /backstop/offers

    def sign(case, _choice):
        if (case.headers or {}).get("Authorization", "").startswith("Bearer "):
            case.headers["Authorization"] = f"Bearer {key}"

    for operation in operations:
        for mode in modes_of(operation):
            fuzz(operation, mode, examples=EXAMPLES_PER_OPERATION, prepare=sign)
    assert ledger.check_balances(runtime.uow()).ok
    with runtime.uow() as uow:
        total = uow.pool.total_shares()
        assert total == sum(e.shares for e in uow.pool.events(limit=10**6) if e.kind in ("mint", "burn")) >= 0

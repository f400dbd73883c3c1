"""Fuzzing the account API from its OpenAPI document *with a valid API key*, so generated
requests get past authentication: whatever an authenticated client sends, the answer is never a
server error, matches its documented schema, and requests the schema forbids are refused."""

from __future__ import annotations

import pytest

from hashedge.services import accounts, ledger
from hashedge.web import create_app
from tests.integration.fuzzing import MODES, fuzz, operations_of
from tests.hypothesis_profiles import time_budget

EXAMPLES_PER_OPERATION = 30
ACCOUNT_PATHS = ("/api/v1/account", "/api/v1/account/events", "/api/v1/statements", "/api/v1/withdrawals",
                 "/api/v1/liquidations", "/api/v1/liquidations/{liquidation_id}")


@pytest.mark.hypothesis
@pytest.mark.timeout(time_budget(180))
def test_authenticated_requests_stay_within_the_contract(runtime):
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "fuzzer")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**12, "funding")
    operations = [op for op in operations_of(create_app(runtime)) if op.path in ACCOUNT_PATHS]
    assert len(operations) == len(ACCOUNT_PATHS)

    def sign(case, _choice):
        # A well-formed bearer header gets the real key; a missing or mangled one (what negative
        # generation does to security) stays as generated and must be a 401.
        if (case.headers or {}).get("Authorization", "").startswith("Bearer "):
            case.headers["Authorization"] = f"Bearer {key}"

    for operation in operations:
        for mode in MODES:
            fuzz(operation, mode, examples=EXAMPLES_PER_OPERATION, prepare=sign)
    with runtime.uow() as uow:
        assert uow.ledger.balances([account.collateral])[account.collateral] >= 0
    assert ledger.check_balances(runtime.uow()).ok

"""Fuzzing the account API from its OpenAPI document *with a valid API key*, so generated
requests get past authentication: whatever an authenticated client sends, the answer is never a
server error, matches its documented schema, and requests the schema forbids are refused."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from hashedge.services import accounts, ledger
from hashedge.web import create_app

EXAMPLES_PER_OPERATION = 30
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]
ACCOUNT_PATHS = ("/api/v1/account", "/api/v1/statements", "/api/v1/withdrawals")


def test_authenticated_requests_stay_within_the_contract(runtime):
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "fuzzer")
    ledger.deposit(runtime.uow(), runtime.clock, account.id, 10**12, "funding")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", create_app(runtime))
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path in ACCOUNT_PATHS]
    assert len(operations) == 3
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                # A well-formed bearer header gets the real key; a missing or mangled one (what
                # negative generation does to security) stays as generated and must be a 401.
                if (case.headers or {}).get("Authorization", "").startswith("Bearer "):
                    case.headers["Authorization"] = f"Bearer {key}"
                case.call_and_validate(checks=CHECKS)

            check()
    with runtime.uow() as uow:
        assert uow.ledger.balances([account.collateral])[account.collateral] >= 0
    assert ledger.check_balances(runtime.uow()).ok

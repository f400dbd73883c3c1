"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis strategies driven
by hypothesis): whatever a client sends, the answer is never a server error, responses match their
schemas, and requests the schema forbids are rejected with a 4xx."""

from __future__ import annotations

import pytest

from hashedge.web import create_app
from tests.integration.fuzzing import fuzz, modes_of, operations_of
from tests.hypothesis_profiles import time_budget

EXAMPLES_PER_OPERATION = 25


@pytest.mark.hypothesis
@pytest.mark.timeout(time_budget(180))
def test_the_api_answers_generated_requests_within_its_contract(populated_runtime):
    operations = operations_of(create_app(populated_runtime))
    assert len(operations) >= 6
    for operation in operations:
        for mode in modes_of(operation):
            fuzz(operation, mode, examples=EXAMPLES_PER_OPERATION)

"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis strategies driven
by hypothesis): whatever a client sends, the answer is never a server error, responses match their
schemas, and requests the schema forbids are rejected with a 4xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from hashedge.web import create_app

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]


def fuzz(operation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(checks=CHECKS)

    check()


def test_the_api_answers_generated_requests_within_its_contract(populated_runtime):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", create_app(populated_runtime))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:
        fuzz(operation, GenerationMode.POSITIVE)
        if len(operation.query):  # a path segment is any string: only query schemas can be broken
            fuzz(operation, GenerationMode.NEGATIVE)

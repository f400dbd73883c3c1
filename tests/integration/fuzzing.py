"""What the API fuzzers share: one hypothesis run per operation and generation mode, under the
loaded profile (derandomized on CI), returning a SHA-256 digest of the requests it generated.

The digest is taken from each case as generated (before a test points it at real orders or signs
it with a key, which differ per run), in a canonical form, so two runs of the same commit can be
compared: ``test_fuzz_determinism.py`` does so across processes with different hash seeds.

``python -m tests.integration.fuzzing`` prints the digest of every operation's generated cases
without sending them (what that test compares).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, response_schema_conformance

from tests.hypothesis_profiles import examples as scaled

CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def canonical(case, choice: int) -> bytes:
    """One generated request as canonical JSON (body ``null`` when there is none)."""
    body = None if isinstance(case.body, NotSet) else case.body
    parts = [case.method, case.path, case.path_parameters, case.query, case.headers, body, choice]
    return json.dumps(parts, sort_keys=True, default=repr).encode() + b"\n"


def malformable(operation) -> bool:
    """Whether negative generation has anything to break: a query or header parameter (the bearer
    key included) or a body. A path segment does not count: any text is a valid segment."""
    return any(p.location.value != "path" for p in operation.iter_parameters()) or bool(operation.body)


def modes_of(operation) -> tuple[GenerationMode, ...]:
    return MODES if malformable(operation) else MODES[:1]


def fuzz(operation, mode: GenerationMode, *, examples: int, choices: int = 0,
         prepare: Callable[[object, int], None] | None = None, send: bool = True) -> str:
    """Generate ``examples`` requests (scaled by the profile), prepare each (``prepare(case,
    choice)`` with ``choice`` drawn from 0..``choices``), send it and run the checks; returns the
    digest of the generated cases. ``send=False`` only generates."""
    digest = hashlib.sha256()

    @given(case=operation.as_strategy(generation_mode=mode), choice=st.integers(0, choices))
    @settings(max_examples=scaled(examples), deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case, choice):
        digest.update(canonical(case, choice))
        if not send:
            return
        if prepare is not None:
            prepare(case, choice)
        case.call_and_validate(checks=CHECKS)

    check()
    return digest.hexdigest()


def operations_of(app) -> list:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def generation_digests(app, examples: int = 10) -> dict[str, str]:
    """The digest of each operation's generated cases in each of its modes, nothing sent."""
    return {f"{op.method.upper()} {op.path} {mode.value}": fuzz(op, mode, examples=examples, choices=3, send=False)
            for op in operations_of(app) for mode in modes_of(op)}


def _app_without_data(folder: Path):
    from hashedge.bootstrap import bootstrap
    from hashedge.config import load_settings
    from hashedge.web import create_app

    settings_ = load_settings({"HASHEDGE_DATABASE_URL": f"sqlite:///{folder / 'unused.sqlite'}",
                               "HASHEDGE_INSTANCE_DIR": str(folder)}, secret_key="fuzzing-digests")
    return create_app(bootstrap(settings_))


if __name__ == "__main__":
    from tests.hypothesis_profiles import load_profile

    load_profile()
    with tempfile.TemporaryDirectory() as folder:
        json.dump(generation_digests(_app_without_data(Path(folder))), sys.stdout, indent=1, sort_keys=True)

"""CI is deterministic: the fuzzers generate the same requests on every run of a commit, whatever
the process (hash randomization included) and whatever other tests run before them.

Each generated case is digested as generated (``tests/integration/fuzzing.py``), nothing is sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.hypothesis_profiles import PROFILE_VARIABLE, profile_name
from tests.integration.fuzzing import _app_without_data, generation_digests

DIGESTS_FILE = "HASHEDGE_FUZZ_DIGESTS_FILE"  # where the first test leaves its digests, when set


def test_the_fuzzers_generate_the_same_requests_twice_in_one_process(tmp_path):
    app = _app_without_data(tmp_path)
    first = generation_digests(app)
    assert len(first) >= 20  # every operation, positive and (where it has inputs) negative
    if profile_name() == "ci":
        assert generation_digests(app) == first
    if os.environ.get(DIGESTS_FILE):
        Path(os.environ[DIGESTS_FILE]).write_text(json.dumps(first))


@pytest.mark.timeout(300)
def test_the_fuzzers_generate_the_same_requests_in_a_process_that_ran_nothing_else(tmp_path):
    """Another interpreter, another hash seed, only the test above: the same requests as here,
    where (in ``make test``) every other test module was collected first."""
    if profile_name() != "ci":
        pytest.skip("the fuzz profile draws fresh seeds on purpose")
    here = generation_digests(_app_without_data(tmp_path))
    digests = tmp_path / "digests.json"
    env = {**os.environ, "PYTHONHASHSEED": "12345", PROFILE_VARIABLE: "ci", DIGESTS_FILE: str(digests)}
    node = f"{Path(__file__).relative_to(REPO_ROOT)}::test_the_fuzzers_generate_the_same_requests_twice_in_one_process"
    # The same launcher as this run (the pytest script or ``-m pytest``): Hypothesis counts the
    # ``__main__`` module among the local sources of constants.
    subprocess.run([sys.executable, sys.argv[0], "-q", "-p", "no:cacheprovider", node], cwd=REPO_ROOT, env=env,
                   capture_output=True, text=True, timeout=240, check=True)
    assert json.loads(digests.read_text()) == here

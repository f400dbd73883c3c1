"""Hypothesis profiles, chosen by ``HASHEDGE_HYPOTHESIS_PROFILE``.

``ci`` (the default, what ``make test`` and CI run): every property-based and fuzz test derives its
examples from the test itself (``derandomize``), never from a fresh seed or a stored example
database, so one commit always runs the same examples and passes or fails the same way.

``fuzz`` (``make fuzz``): fresh random seeds and ``FUZZ_FACTOR`` times the examples, to look
deeper for failures; a failure prints the ``@reproduce_failure`` blob that replays it.

Tests that set their own ``max_examples`` pass it through ``examples(n)`` so the fuzz profile
scales them too.

Derandomizing is not quite enough: Hypothesis also draws, now and then, constants found in the
source of the project modules loaded at the time (``sys.modules``), so the examples of a test would
depend on which other tests ran first (a selection with ``-k``, a single file). ``load_profile``
imports every project module first, so the pool is the whole project's whatever runs.
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from hypothesis import settings

PROFILE_VARIABLE = "HASHEDGE_HYPOTHESIS_PROFILE"
FUZZ_FACTOR = 10
DEFAULT_EXAMPLES = 100  # hypothesis's own default

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", derandomize=False, database=None, print_blob=True,
                          max_examples=DEFAULT_EXAMPLES * FUZZ_FACTOR)


def profile_name() -> str:
    return os.environ.get(PROFILE_VARIABLE) or "ci"


PROJECT_PACKAGES = ("indices", "pricing", "hashedge")
# Modules that do work when imported: the WSGI entry point builds an app from the environment.
NOT_IMPORTED = ("hashedge.web.wsgi",)


def import_project_modules() -> int:
    """Import every module of the project's packages (see the module docstring); returns how many."""
    count = 0
    for package_name in PROJECT_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if module.name not in NOT_IMPORTED:
                importlib.import_module(module.name)
                count += 1
    return count


def load_profile() -> str:
    """Load the profile the environment names (``ci`` unless told otherwise)."""
    import_project_modules()
    name = profile_name()
    settings.load_profile(name)
    return name


def examples(count: int) -> int:
    """``count`` examples under ``ci``, ``FUZZ_FACTOR`` times as many under ``fuzz``."""
    return count * FUZZ_FACTOR if profile_name() == "fuzz" else count


def time_budget(seconds: int) -> int:
    """A timeout for a property-based test: ``seconds`` under ``ci``, scaled like its examples under
    ``fuzz``."""
    return examples(seconds)

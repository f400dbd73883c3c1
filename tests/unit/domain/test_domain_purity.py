import ast
import sys
from pathlib import Path

import hashedge.domain

DOMAIN = Path(hashedge.domain.__file__).parent
# DESIGN section 2 allows pandas in the domain core "where vectorized": only the batch margin
# module may use it, and nothing else in the domain may import that module.
VECTORIZED = {"margin_batch.py": {"numpy", "pandas"}}


def imported_top_level_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_the_domain_imports_only_the_standard_library_and_itself():
    for path in sorted(DOMAIN.rglob("*.py")):
        allowed = VECTORIZED.get(path.name, set())
        for name in imported_top_level_modules(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top in allowed or name.startswith("hashedge.domain"), \
                f"{path.name} imports {name}"


def test_the_domain_never_reads_a_clock_or_draws_random_numbers():
    for path in sorted(DOMAIN.rglob("*.py")):
        text = path.read_text()
        for forbidden in ("datetime.now", "utcnow", "time.time(", "import random", "uuid4"):
            assert forbidden not in text, f"{path.name} uses {forbidden}"

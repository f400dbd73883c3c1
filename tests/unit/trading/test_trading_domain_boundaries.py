import ast
import sys
from pathlib import Path

import hashedge.domain

DOMAIN = Path(hashedge.domain.__file__).parent
TRADING_MODULES = ("instruments", "settlement", "listing", "parameters", "margin", "marks", "fees")
VECTORIZED = {"margin_batch": {"numpy", "pandas"}}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_the_trading_domain_imports_only_the_standard_library_and_the_domain():
    for name in TRADING_MODULES:
        for module in imported_modules(DOMAIN / f"{name}.py"):
            top = module.split(".")[0]
            assert top in sys.stdlib_module_names or module.startswith("hashedge.domain"), f"{name} imports {module}"


def test_only_the_vectorized_module_uses_numpy_and_pandas_and_nothing_in_the_domain_imports_it():
    for name, allowed in VECTORIZED.items():
        for module in imported_modules(DOMAIN / f"{name}.py"):
            top = module.split(".")[0]
            assert top in sys.stdlib_module_names | allowed or module.startswith("hashedge.domain"), module
    for path in DOMAIN.glob("*.py"):
        if path.stem not in VECTORIZED:
            assert not {m for m in imported_modules(path) if m.endswith("margin_batch")}, path.name


def test_the_trading_domain_never_reads_a_clock_or_draws_random_numbers():
    for name in (*TRADING_MODULES, *VECTORIZED):
        text = (DOMAIN / f"{name}.py").read_text()
        for forbidden in ("datetime.now", "utcnow", "time.time(", "import random", "uuid4", "date.today"):
            assert forbidden not in text, f"{name} uses {forbidden}"

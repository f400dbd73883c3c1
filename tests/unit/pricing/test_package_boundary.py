"""The pricing package depends on indices only."""

import subprocess
import sys


def test_importing_pricing_loads_neither_the_platform_nor_flask_nor_the_database():
    code = (
        "import sys, pricing\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('hashedge', 'flask', 'sqlalchemy', 'alembic'))\n"
        "print(','.join(bad))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == ""

"""The index package stays a pure library: its sources never pull in the platform or its frameworks."""

import subprocess
import sys

MODULES = ["indices.sources.base", "indices.sources.bitcoind", "indices.sources.esplora",
           "indices.sources.csv_import", "indices.sources.simulator"]


def test_importing_every_source_loads_neither_hashedge_flask_nor_sqlalchemy():
    script = (f"import sys; import {', '.join(MODULES)}; "
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hashedge', 'flask', 'sqlalchemy')))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

"""Table mappings, one module per context (``desk``, ``exchange``, ``indices``, ``jobs``, ``ledger``,
``liquidation``, ``risk``, ``trading``, ...).

Importing the package registers every table on ``Base.metadata`` (Alembic's autogenerate target).
``Base`` and ``UTCDateTime`` are re-exported for the migrations.
"""

# Importing registers the tables.
from hashedge.adapters.orm import (  # noqa: F401
    backstop, desk, exchange, governance, indices, jobs, ledger, liquidation, protection, risk, trading,
)
from hashedge.adapters.orm.base import Base, UTCDateTime

__all__ = ["Base", "UTCDateTime"]

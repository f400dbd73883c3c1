"""Table mappings, one module per context (``desk``, ``indices``, ``jobs``, ``ledger``, ``risk``,
``trading``, ...).

Importing the package registers every table on ``Base.metadata`` (Alembic's autogenerate target).
``Base`` and ``UTCDateTime`` are re-exported for the migrations.
"""

from hashedge.adapters.orm import desk, indices, jobs, ledger, risk, trading  # noqa: F401  (register the tables)
from hashedge.adapters.orm.base import Base, UTCDateTime

__all__ = ["Base", "UTCDateTime"]

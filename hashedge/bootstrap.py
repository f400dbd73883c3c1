"""The one place that wires configuration, database and clock together. Nothing runs at import."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.database import make_engine, make_session_factory, upgrade_database
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock, SystemClock
from hashedge.config import Settings, load_settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def migrate(self) -> None:
        upgrade_database(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None,
              create_database: bool = True) -> Runtime:
    """The runtime for ``settings``; ``create_database=False`` refuses a missing SQLite file
    (``DatabaseMissing``) rather than creating an empty one."""
    settings = settings or load_settings()
    engine = make_engine(settings.database_url, create=create_database, pool_size=settings.db_pool_size)
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        clock=clock or SystemClock(),
    )

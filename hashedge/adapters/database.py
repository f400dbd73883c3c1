"""Engines, sessions and migrations: the only place that knows how to reach the database."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters import write_pipeline
from hashedge.errors import DatabaseMissing

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
READ_ONLY = "hashedge_read_only"  # execution option: begin a read-only transaction (SQLite)
# A pooled server connection is pinged when it is checked out, unless it was connected or handed
# back within this many seconds (HikariCP's alive-bypass window, same length): the ping is a
# round trip, and under load every request would pay one for a connection used milliseconds ago.
PING_BYPASS_S = 0.5
_LAST_USED = "hashedge_last_used"  # pooled connection's info: time.monotonic() of its connect or check-in


def read_only_options(dialect_name: str) -> dict:
    """Connection execution options for a read-only transaction (``UnitOfWork.read_only``).

    SQLite: a deferred ``BEGIN`` (no write lock: reads never queue behind writers, and WAL gives
    them a snapshot taken at their first read) under ``PRAGMA query_only``, so a write is an
    error rather than a lock upgrade. PostgreSQL: ``REPEATABLE READ READ ONLY``, one snapshot for
    the whole transaction and writes refused; psycopg sends both with the ``BEGIN`` and they are
    reset when the connection goes back to the pool.
    """
    if dialect_name == "sqlite":
        return {READ_ONLY: True}
    return {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


def make_engine(database_url: str, *, create: bool = True, **kwargs) -> Engine:
    """Engine for ``database_url``; SQLite gets WAL, a busy timeout and foreign keys.

    ``create=False`` (every command but ``init-db`` and ``demo``, and the web app) refuses a
    missing SQLite file with ``DatabaseMissing`` instead of creating its folder and an empty
    database.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database)
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.is_file():
                raise DatabaseMissing(str(path))
        else:  # one connection holds an in-memory database: SQLAlchemy keeps no pool to size
            kwargs.pop("pool_size", None)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling is off) and take the
            # write lock at BEGIN, so concurrent writers queue instead of failing mid-transaction.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            # Writers take the write lock at BEGIN; a read-only transaction begins deferred and
            # the connection refuses writes (query_only is a connection setting: switched only
            # when the mode changes, tracked in the pooled connection's info).
            read_only = bool(connection.get_execution_options().get(READ_ONLY, False))
            if connection.info.get(READ_ONLY, False) != read_only:
                connection.exec_driver_sql(f"PRAGMA query_only = {'ON' if read_only else 'OFF'}")
                connection.info[READ_ONLY] = read_only
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # Last in, first out: under light load the same few connections stay warm (and skip the ping,
    # below) while the others idle; first in, first out would spread requests over all of them.
    kwargs.setdefault("pool_use_lifo", True)
    engine = create_engine(url, **kwargs)
    _ping_unless_recently_used(engine)
    write_pipeline.install(engine)
    return engine


def _ping_unless_recently_used(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, skipped for a connection connected or checked in within
    ``PING_BYPASS_S``. A connection that fails its ping is replaced, and so is every connection
    pooled before it when the failure is a disconnect (the server restarted); a connection that
    breaks inside the window fails its statement, which SQLAlchemy reports as a disconnect and
    answers the same way, so one request at most sees it."""
    dialect = engine.dialect

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        if time.monotonic() - record.info.get(_LAST_USED, float("-inf")) < PING_BYPASS_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError("ping failed: the connection is gone") from error
            raise


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent)."""
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def schema_is_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head

"""A transaction's closing writes sent together: PostgreSQL's pipeline mode for the engine's batch.

An exchange batch ends with about eighteen statements (its orders, makers, trades, positions,
journal, balances, sequences, inbox rows, the chain and the write witness), each one round trip
to the server when sent through SQLAlchemy. At 200 orders/s on two cores the engine spent about
two fifths of a batch's time in those round trips: sending wakes the server's process, which
takes the core, and the engine waits for it to answer and for a core to run again
(BENCHMARKS.md, part L). Few of them need an answer before the next is sent.

Inside ``pipelined(session)`` on PostgreSQL, ``bulk_rows.insert_rows`` / ``update_rows`` and the
ledger's and chain's closing statements are queued instead (``write``); a statement whose
answer the caller needs (the journal's next ids, the chain's head, the witness) is sent with
everything queued before it, in one psycopg pipeline, and answered once all of them are
(``rows``): the server runs them in the order they were queued, exactly as if sent one by one,
and the closing phase of a batch takes four round trips instead of eighteen. A statement's
check of the rows it changed (``mark_done``'s exactly-once guard) runs when its answer
arrives, before anything is committed.

Nothing can overtake what is queued: any other statement SQLAlchemy sends on the connection,
and its COMMIT, first send the queue (``install``'s listeners); a rollback forgets it. An
error of the server is raised as SQLAlchemy raises it (``DBAPIError.instance``: an
``OperationalError`` stays one, a lost connection invalidates the connection), and the
transaction is rolled back whole by its unit of work. Elsewhere (SQLite, in process, where a
statement costs no round trip) ``pipelined`` yields None and every statement runs at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

# The open pipeline of a connection (the SQLAlchemy connection of one transaction; never the
# pooled DB-API connection's info, which outlives it and may be unreadable once it is lost)
_OPEN: WeakKeyDictionary[Connection, WritePipeline] = WeakKeyDictionary()


@dataclass
class _Queued:
    sql: str  # as the driver reads it: %(name)s parameters
    params: Mapping[str, object]
    check: Callable[[int], None] | None = None  # given the rows the statement changed
    wants_rows: bool = False
    rows: list[tuple] | None = None  # its answer, once sent (``later``)


class WritePipeline:
    """Statements of one connection's transaction, sent together (module docstring)."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.dialect = connection.dialect
        self.queued: list[_Queued] = []
        self.round_trips = 0  # pipelines sent (the tests count them)

    def write(self, clause: TextClause, params: Mapping[str, object],
              check: Callable[[int], None] | None = None) -> None:
        """Queue a statement whose rows nobody reads; ``check`` gets how many rows it changed."""
        self.queued.append(_Queued(_driver_sql(clause, self.dialect), params, check))

    def rows(self, clause: TextClause, params: Mapping[str, object] | None = None) -> list[tuple]:
        """Send what is queued and this statement in one pipeline; this statement's rows."""
        return self.later(clause, params)()

    def later(self, clause: TextClause, params: Mapping[str, object] | None = None) -> Callable[[], list[tuple]]:
        """Queue a statement whose rows are wanted, but not yet: a function giving them, which
        sends the pipeline first when they have not been answered yet (a lock taken in its turn,
        read with a later statement's answer)."""
        statement = _Queued(_driver_sql(clause, self.dialect), params or {}, wants_rows=True)
        self.queued.append(statement)

        def answer() -> list[tuple]:
            if statement.rows is None:
                self.flush()
            return statement.rows

        return answer

    def flush(self) -> None:
        """Send what is queued (nothing when nothing is)."""
        if self.queued:
            self._send()

    def close(self) -> None:
        """Forget what is queued and leave the connection (its transaction ended, or the block)."""
        self.queued = []
        if _OPEN.get(self.connection) is self:
            del _OPEN[self.connection]

    def _send(self) -> None:
        statements, self.queued = self.queued, []
        driver = self.connection.connection.driver_connection
        cursors = []
        self.round_trips += 1
        try:
            with driver.pipeline():
                for statement in statements:
                    cursor = driver.cursor()
                    cursor.execute(statement.sql, statement.params)
                    cursors.append(cursor)
            # the pipeline is synced: every statement has its answer, in order (read before the
            # cursors close: closing forgets a cursor's row count)
            for statement, cursor in zip(statements, cursors):
                if statement.wants_rows:
                    statement.rows = cursor.fetchall()
            changed = [cursor.rowcount for cursor in cursors]
        except self.dialect.loaded_dbapi.Error as error:
            gone = self.dialect.is_disconnect(error, driver, None)
            if gone:
                self.connection.invalidate(error)
            raise exc.DBAPIError.instance(";\n".join(s.sql for s in statements), None, error,
                                          self.dialect.loaded_dbapi.Error, hide_parameters=True,
                                          connection_invalidated=gone, dialect=self.dialect) from error
        finally:
            for cursor in cursors:
                cursor.close()
        for statement, rows in zip(statements, changed):
            if statement.check is not None:
                statement.check(rows)


def pipeline_of(session: Session) -> WritePipeline | None:
    """The pipeline open on ``session``'s connection, if any."""
    if not session.in_transaction():
        return None
    return _OPEN.get(session.connection()) if _OPEN else None


@contextmanager
def pipelined(session: Session) -> Iterator[WritePipeline | None]:
    """Queue the writes of this block on PostgreSQL (module docstring) and send what is left at its
    end; yields None elsewhere. A block that raises sends nothing more."""
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        yield None
        return
    pipeline = _OPEN[connection] = WritePipeline(connection)
    try:
        yield pipeline
        if _OPEN.get(connection) is pipeline:  # else its transaction ended, which closed it (``install``)
            pipeline.flush()
    finally:
        pipeline.close()


def install(engine: Engine) -> None:
    """Make every other statement on a connection, and its COMMIT, send what its pipeline has
    queued first; the transaction's end closes the pipeline (a rollback forgets what it queued)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _send_queued_first(connection, _cursor, _statement, _parameters, _context, _executemany):
        pipeline = _OPEN.get(connection)
        if pipeline is not None and pipeline.queued:
            pipeline.flush()

    @event.listens_for(engine, "commit")
    def _send_queued_before_commit(connection):
        pipeline = _OPEN.get(connection)
        if pipeline is not None:
            try:
                pipeline.flush()
            finally:
                pipeline.close()

    @event.listens_for(engine, "rollback")
    def _forget_queued(connection):
        pipeline = _OPEN.get(connection)
        if pipeline is not None:
            pipeline.close()


_DRIVER_SQL: dict[tuple[str, str], str] = {}


def _driver_sql(clause: TextClause, dialect) -> str:
    key = (clause.text, dialect.name)
    sql = _DRIVER_SQL.get(key)
    if sql is None:
        sql = _DRIVER_SQL[key] = clause.compile(dialect=dialect).string
    return sql

"""A transaction's statements sent together: PostgreSQL's pipeline mode for the engine's batch.

A batch of the matching engine that trades sent about 25 statements, each one round trip to the
server through SQLAlchemy: its BEGIN and claim, its locks, the witness of writes, its reads, its
orders, makers, trades, positions, journal, balances, sequences, inbox rows and chain links, the
witness again and the COMMIT. At 200 orders/s on two cores the engine spent about two fifths of
a batch's time on them: sending wakes the server's process, which takes the core, and the engine
waits for its answer and for a core to run again (BENCHMARKS.md, part L). Few of them need an
answer before the next is sent.

Inside ``pipelined(session)`` on PostgreSQL a statement whose answer is not needed at once is
queued (``write``: ``bulk_rows.insert_rows`` / ``update_rows``, the ledger's increments, the
chain's lock); one whose answer is needed goes out with everything queued before it, in one
psycopg pipeline (``rows``), and the server runs them in the order they were queued, exactly as if
they had been sent one by one. A statement whose answer is wanted later (a lock, the idempotency
keys, the books' first rows: ``later``, ``later_named`` for rows read by column name) is queued
in its turn and read with a later answer. A statement's check of the rows it changed
(``mark_done``'s exactly-once guard) runs when its answer arrives, and always before the COMMIT
is sent. A batch served from its engine's kept state takes 2 round trips (ORDER_PATH.md, "A batch's
round trips").

Nothing overtakes what is queued: any other statement SQLAlchemy sends on the connection first
sends the queue, and its COMMIT goes out with what is still queued, in the same round trip unless
a check must pass first (``install``'s listeners); a rollback forgets the queue. An error of the
server is raised as SQLAlchemy raises it (``DBAPIError.instance``: an ``OperationalError`` stays
one, a lost connection is invalidated), and the unit of work rolls the transaction back whole.
Elsewhere (SQLite, in process, where a statement costs no round trip) ``pipelined`` yields None
and every statement runs at once.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from weakref import WeakKeyDictionary

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

# The open pipeline of a connection (the SQLAlchemy connection of one transaction; never the
# pooled DB-API connection's info, which outlives it and may be unreadable once it is lost)
_OPEN: WeakKeyDictionary[Connection, WritePipeline] = WeakKeyDictionary()
# Who is shown each pipeline as it is sent (``observing_sends``: the tests' and benchmarks'
# round-trip counts and statement logs)
_SEND_OBSERVERS: list[Callable[[list[str], bool], None]] = []


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

    def later_named(self, query, params: Mapping[str, object] | None = None) -> Callable[[], list[tuple]]:
        """``later`` for a SELECT built once (a module constant or cached shape) whose rows are read
        by column name: its rows as SQLAlchemy would give them, each value converted by its column's
        type (``UTCDateTime``'s time zone, say), as named tuples."""
        shape, processors, bound = _row_shape(query, self.dialect)
        answer = self.later(query, {**bound, **(params or {})})
        if not any(processors):
            return lambda: [shape._make(row) for row in answer()]
        return lambda: [shape._make(value if convert is None else convert(value)
                                    for convert, value in zip(processors, row)) for row in answer()]

    def flush(self, *, commit: bool = False) -> None:
        """Send what is queued (nothing when nothing is); with ``commit``, and the COMMIT after
        it, in the same round trip."""
        if self.queued:
            self._send(commit)

    def close(self) -> None:
        """Forget what is queued and leave the connection (its transaction ended, or the block)."""
        self.queued = []
        if _OPEN.get(self.connection) is self:
            del _OPEN[self.connection]

    def _send(self, commit: bool = False) -> None:
        statements, self.queued = self.queued, []
        for observer in _SEND_OBSERVERS:
            observer([statement.sql for statement in statements], commit)
        # a check must pass before the COMMIT is sent: then the COMMIT takes a round trip of its own
        commit_with = commit and all(statement.check is None for statement in statements)
        driver = self.connection.connection.driver_connection
        cursors = []
        self.round_trips += 1
        with self._as_sqlalchemy_raises(statements):
            try:
                with driver.pipeline():
                    for statement in statements:
                        cursor = driver.cursor()
                        cursor.execute(statement.sql, statement.params)
                        cursors.append(cursor)
                    if commit_with:  # the server skips it after a failed statement
                        driver.commit()
                # synced: every statement has its answer, in order (read before the cursors
                # close: closing forgets a cursor's row count)
                for statement, cursor in zip(statements, cursors):
                    if statement.wants_rows:
                        statement.rows = cursor.fetchall()
                changed = [cursor.rowcount for cursor in cursors]
            finally:
                for cursor in cursors:
                    cursor.close()
        for statement, rows in zip(statements, changed):
            if statement.check is not None:
                statement.check(rows)
        if commit and not commit_with:
            self.round_trips += 1
            with self._as_sqlalchemy_raises(()):
                driver.commit()  # SQLAlchemy's own COMMIT then finds no transaction to end

    @contextmanager
    def _as_sqlalchemy_raises(self, statements: list[_Queued]) -> Iterator[None]:
        """Raise the driver's errors as SQLAlchemy raises them, invalidating a lost connection."""
        try:
            yield
        except self.dialect.loaded_dbapi.Error as error:
            driver = self.connection.connection.driver_connection
            gone = self.dialect.is_disconnect(error, driver, None)
            if gone:
                self.connection.invalidate(error)
            raise exc.DBAPIError.instance(";\n".join(s.sql for s in statements) or "COMMIT", None, error,
                                          self.dialect.loaded_dbapi.Error, hide_parameters=True,
                                          connection_invalidated=gone, dialect=self.dialect) from error


@contextmanager
def observing_sends(observer: Callable[[list[str], bool], None]) -> Iterator[None]:
    """Inside this block, show ``observer`` every pipeline as it is sent, on any connection of the
    process: its statements in order (as the driver reads them) and whether the transaction's
    COMMIT was asked to go with them (it takes a round trip of its own when a check must pass first)."""
    _SEND_OBSERVERS.append(observer)
    try:
        yield
    finally:
        _SEND_OBSERVERS.remove(observer)


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
                pipeline.flush(commit=True)
            finally:
                pipeline.close()

    @event.listens_for(engine, "rollback")
    def _forget_queued(connection):
        pipeline = _OPEN.get(connection)
        if pipeline is not None:
            pipeline.close()


@lru_cache(maxsize=64)
def _row_shape(query, dialect) -> tuple[type, list[Callable | None], dict[str, object]]:
    """A SELECT's row as a named tuple class, each column's result processor (None: as the
    driver gives it) as SQLAlchemy's result would apply them, and the values bound in the
    statement itself (a literal side or limit)."""
    columns = list(query.selected_columns)
    shape = namedtuple("Row", [column.key for column in columns])
    bound = {name: value for name, value in query.compile(dialect=dialect).params.items() if value is not None}
    return shape, [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns], bound


@lru_cache(maxsize=256)
def _driver_sql(clause: TextClause, dialect) -> str:
    """The statement's text as the driver reads it (``%(name)s`` parameters); statements are
    built once each (module constants, ``bulk_rows``' cached shapes), so kept by identity."""
    return clause.compile(dialect=dialect).string

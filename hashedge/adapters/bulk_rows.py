"""Many rows in one statement, on PostgreSQL as one execution.

An executemany on PostgreSQL is one server execution per row: psycopg pipelines the round trips,
but every row is bound and executed on its own. On loopback 100 rows took 2.4 ms that way against
0.9 ms as one ``INSERT ... SELECT * FROM unnest(arrays)`` (BEGIN and COMMIT included; 300 rows:
6.1 against 1.9 ms), and the exchange's batch writes a few hundred rows per commit (BENCHMARKS.md,
part J). So on PostgreSQL ``insert_rows`` and ``update_rows`` send each column as one array, in a
statement whose text depends only on the table and the columns (psycopg prepares it after a few
uses); SQLite runs in process, where the executemany is the cheap path and is kept.

Inside ``write_pipeline.pipelined`` on PostgreSQL both are queued and sent with the transaction's
next statement that needs an answer, in one round trip (``write_pipeline``); ``update_rows``
then gives the rows it changed to its ``check`` when they are known.

Values go through the columns' own bind processing (``UTCDateTime`` and the like) before they
are put into arrays, so a row is stored exactly as ``insert(table)`` would store it. An array of
strings, integers, finite decimals or naive timestamps is sent as PostgreSQL's array text, built
here (``pg_array``): psycopg builds that text in Python, escaping every element with a regular
expression, and at 200 orders/s that was 14% of the engine's CPU (the outcomes' JSON above all).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Table, and_, bindparam, insert, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from hashedge.adapters.write_pipeline import pipeline_of


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, object]]) -> None:
    """INSERT ``rows`` (column name -> value, every row the same columns) into ``table``."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    columns = tuple(rows[0])
    statement, parameters = _unnest_insert(table, columns, dialect), _arrays(table, columns, rows, dialect)
    if (pipeline := pipeline_of(session)) is not None:
        pipeline.write(statement, parameters)
    else:
        session.execute(statement, parameters)


def insert_new_rows_later(session: Session, table: Table, rows: Sequence[Mapping[str, object]], *,
                          unique: Sequence[str], returning: Sequence[str]) -> Callable[[], list]:
    """``insert_rows`` but for the rows whose ``unique`` columns (a unique index) match a stored
    row's (``ON CONFLICT DO NOTHING``: a concurrent insert of the same key waits for this
    transaction, then finds the row): a function giving the ``returning`` columns of each row
    inserted (tuples, in the order of ``returning``). Its answer is wanted later: inside a pipeline
    the INSERT is queued in its turn and its rows arrive with the next answer read
    (``WritePipeline.later``); elsewhere it runs at once."""
    if not rows:
        return list
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=[table.c[c] for c in unique])
        inserted = session.execute(statement.returning(*[table.c[c] for c in returning]), list(rows)).all()
        return lambda: inserted
    columns = tuple(rows[0])
    statement = _unnest_insert(table, columns, dialect, tuple(unique), tuple(returning))
    if (pipeline := pipeline_of(session)) is not None:  # with what is queued (and the transaction's BEGIN)
        return pipeline.later(statement, _arrays(table, columns, rows, dialect))
    inserted = session.execute(statement, _arrays(table, columns, rows, dialect)).all()
    return lambda: inserted


def update_rows(session: Session, table: Table, key: Sequence[str], rows: Sequence[Mapping[str, object]],
                *, only_if: Mapping[str, object] | None = None,
                check: Callable[[int], None] | None = None) -> int | None:
    """UPDATE the row of ``table`` whose ``key`` columns equal each of ``rows``' (unique keys),
    setting that row's other columns; with ``only_if`` (column -> value), only a stored row that
    also has those values is changed. Returns how many rows changed, and gives it to ``check``;
    when the statement is pipelined, returns None and ``check`` gets it once the answer arrives
    (before the transaction can commit)."""
    if not rows:
        if check is not None:
            check(0)
        return 0
    dialect = session.get_bind().dialect
    columns, key, guard = tuple(rows[0]), tuple(key), dict(only_if or {})
    if dialect.name != "postgresql":
        statement = _executemany_update(table, columns, key, tuple(guard))
        changed = session.execute(statement, [
            {f"r_{c}": row[c] for c in columns} | {f"g_{c}": v for c, v in guard.items()} for row in rows]).rowcount
    else:
        statement = _unnest_update(table, columns, key, tuple(guard), dialect)
        parameters = _arrays(table, columns, rows, dialect) | {f"g_{c}": v for c, v in guard.items()}
        if (pipeline := pipeline_of(session)) is not None:
            pipeline.write(statement, parameters, check)
            return None
        changed = session.execute(statement, parameters).rowcount
    if check is not None:
        check(changed)
    return changed


def pg_array(values: list) -> str | list:
    """``values`` as the text of a PostgreSQL array (``{...}``, for a parameter cast to the array
    type) when each is None, a string, an integer, a finite decimal or a naive timestamp (what the
    columns' bind processing leaves), exactly as PostgreSQL reads them back; else the list as it
    is, for psycopg to send."""
    parts = []
    for v in values:
        kind = type(v)
        if v is None:
            parts.append("NULL")
        elif kind is str:  # within double quotes only a backslash and a double quote are special
            parts.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif kind is int or (kind is Decimal and v.is_finite()):
            parts.append(str(v))
        elif kind is datetime and v.tzinfo is None:
            parts.append('"' + v.isoformat(sep=" ") + '"')
        else:
            return values
    return "{" + ",".join(parts) + "}"


def _arrays(table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, object]],
            dialect: Dialect) -> dict[str, str | list]:
    arrays = {}
    for n, name in enumerate(columns):
        process = table.c[name].type.bind_processor(dialect)
        values = [row[name] for row in rows]
        arrays[f"a{n}"] = pg_array(values if process is None else [None if v is None else process(v) for v in values])
    return arrays


def _array_casts(table: Table, columns: tuple[str, ...], dialect: Dialect) -> str:
    return ", ".join(f"CAST(:a{n} AS {table.c[name].type.compile(dialect=dialect)}[])"
                     for n, name in enumerate(columns))


@lru_cache(maxsize=64)
def _unnest_insert(table: Table, columns: tuple[str, ...], dialect: Dialect, unique: tuple[str, ...] = (),
                   returning: tuple[str, ...] = ()):
    names = ", ".join(columns)
    conflicts = f" ON CONFLICT ({', '.join(unique)}) DO NOTHING" if unique else ""
    returned = f" RETURNING {', '.join(returning)}" if returning else ""
    return text(f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({_array_casts(table, columns, dialect)})"
                f"{conflicts}{returned}")


@lru_cache(maxsize=64)
def _unnest_update(table: Table, columns: tuple[str, ...], key: tuple[str, ...], guard: tuple[str, ...],
                   dialect: Dialect):
    assignments = ", ".join(f"{c} = v.{c}" for c in columns if c not in key)
    matches = " AND ".join([f"t.{c} = v.{c}" for c in key] + [f"t.{c} = :g_{c}" for c in guard])
    return text(f"UPDATE {table.name} AS t SET {assignments} FROM unnest({_array_casts(table, columns, dialect)}) "
                f"AS v({', '.join(columns)}) WHERE {matches}")


@lru_cache(maxsize=64)
def _executemany_update(table: Table, columns: tuple[str, ...], key: tuple[str, ...], guard: tuple[str, ...]):
    # bound parameters may not bear a column's own name in an UPDATE: hence the prefixes
    conditions = [table.c[c] == bindparam(f"r_{c}", type_=table.c[c].type) for c in key] + [
        table.c[c] == bindparam(f"g_{c}", type_=table.c[c].type) for c in guard]
    return update(table).where(and_(*conditions)).values(
        {c: bindparam(f"r_{c}", type_=table.c[c].type) for c in columns if c not in key})

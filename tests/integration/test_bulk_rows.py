"""``adapters.bulk_rows``: many rows in one statement (on PostgreSQL one INSERT or UPDATE over
unnested arrays) store exactly what SQLAlchemy's own executemany of ``insert(table)`` and
``update(table)`` stores, on both backends, awkward values included; a guarded update changes
only the rows that meet the guard and says how many it changed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text, update

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hashedge.adapters.bulk_rows import insert_new_rows_later, insert_rows, pg_array, update_rows
from hashedge.adapters.orm.exchange import OrderRequestRow
from tests.integration.test_order_path import statements_of

TABLE = OrderRequestRow.__table__
AT = datetime(2026, 12, 3, 6, 30, 0, 123456, tzinfo=timezone.utc)
AWKWARD = ['plain', 'a,"b"{c}\\d', "it's NULL", "tab\tnew\nline", "", "sats ₿ 𝔥", "{}", "NULL"]


def rows(first_id: int, count: int) -> list[dict]:
    return [{"id": first_id + n, "account_id": 7 + n % 3, "instrument": f"HP-2026-{n % 12 + 1:02d}",
             "request": AWKWARD[n % len(AWKWARD)], "status": "pending",
             "outcome": None if n % 2 else AWKWARD[(n + 3) % len(AWKWARD)],
             "received_at": AT + timedelta(microseconds=n), "done_at": None,
             "token": None if n % 3 else f"t{first_id + n}"} for n in range(count)]


def stored(runtime) -> list[tuple]:
    with runtime.uow() as uow:
        return [tuple(row) for row in uow.session.execute(select(TABLE).order_by(TABLE.c.id)).all()]


def test_inserted_rows_are_stored_as_sqlalchemys_executemany_stores_them(runtime, twin):
    batch = rows(1, 40)
    with runtime.uow() as uow:
        insert_rows(uow.session, TABLE, batch)
        uow.commit()
    with twin.uow() as uow:
        uow.session.execute(insert(TABLE), batch)
        uow.commit()
    assert stored(runtime) == stored(twin)
    assert [r[3] for r in stored(runtime)] == [r["request"] for r in batch]  # the awkward strings as sent


def test_an_update_changes_the_matching_rows_that_meet_its_guard_and_counts_them(runtime, twin):
    batch = rows(1, 12)
    done = [{"id": n, "status": "done", "outcome": AWKWARD[n % len(AWKWARD)], "done_at": AT + timedelta(seconds=n)}
            for n in (2, 3, 5, 8, 99)]  # 99 is no row
    for r in (runtime, twin):
        with r.uow() as uow:
            insert_rows(uow.session, TABLE, batch)
            uow.session.execute(update(TABLE).where(TABLE.c.id == 3).values(status="abandoned"))
            uow.commit()
    with runtime.uow() as uow:
        changed = update_rows(uow.session, TABLE, ["id"], done, only_if={"status": "pending"})
        uow.commit()
    with twin.uow() as uow:  # the same changes, one plain UPDATE a row
        for row in done:
            uow.session.execute(update(TABLE).where(TABLE.c.id == row["id"], TABLE.c.status == "pending")
                                .values(status=row["status"], outcome=row["outcome"], done_at=row["done_at"]))
        uow.commit()
    assert changed == 3  # 2, 5 and 8: 3 was abandoned, 99 does not exist
    assert stored(runtime) == stored(twin)


def test_an_update_without_a_guard_counts_every_row_it_matched(runtime):
    batch = rows(1, 5)
    with runtime.uow() as uow:
        insert_rows(uow.session, TABLE, batch)
        changed = update_rows(uow.session, TABLE, ["id"], [{"id": r["id"], "account_id": 100 + r["id"]} for r in batch])
        uow.commit()
    assert changed == 5
    assert [r[1] for r in stored(runtime)] == [101, 102, 103, 104, 105]


def test_each_call_is_one_statement_and_nothing_to_write_is_none(runtime):
    def write(count: int) -> int:
        with runtime.uow() as uow:
            uow.session.connection()  # the transaction's own statements are not counted below
            sent = statements_of(runtime, lambda: (
                insert_rows(uow.session, TABLE, rows(1000 * count + 1, count)),
                update_rows(uow.session, TABLE, ["id"], [{"id": 1000 * count + n + 1, "status": "done"}
                                                          for n in range(count)])))
            uow.commit()
        return sent

    # one statement each, whatever the number of rows (SQLite's executemany is one cursor call too)
    assert [write(n) for n in (0, 1, 50)] == [0, 2, 2]
    assert len(stored(runtime)) == 51


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
_COLUMNS = {  # PostgreSQL type -> values pg_array writes as text (None among them)
    "text": _TEXT,
    "bigint": st.integers(-(2**63), 2**63 - 1),
    "numeric": st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-10**12, max_value=10**12),
    "timestamp": st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)),
}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite takes no arrays
@pytest.mark.parametrize("pg_type", sorted(_COLUMNS))
def test_an_array_written_as_text_reads_back_as_the_values_given(runtime, pg_type):
    """``pg_array``'s text, cast to the column's array type, is read back as exactly the values."""
    with runtime.engine.connect() as connection:

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.lists(st.one_of(st.none(), _COLUMNS[pg_type]), min_size=1, max_size=12))
        def round_trip(values):
            written = pg_array(values)
            assert isinstance(written, str)  # every value of these kinds is written as text
            read = connection.scalar(text(f"SELECT CAST(:a AS {pg_type}[])"), {"a": written})
            assert read == values

        round_trip()
    assert pg_array([True, None]) == [True, None]  # any other kind: the list, for psycopg to send
    assert pg_array([datetime(2026, 12, 3, tzinfo=timezone.utc)]) == [datetime(2026, 12, 3, tzinfo=timezone.utc)]


def test_new_rows_are_inserted_as_the_dialects_insert_stores_them_and_a_taken_key_is_skipped(runtime, twin):
    """``insert_new_rows_later`` stores what ``insert ... on conflict do nothing`` stores, skips a row
    whose token is taken (by a stored row), and gives the columns asked of the rows inserted, at
    once or queued in a write pipeline and answered with the next statement read."""
    batch = [{k: v for k, v in row.items() if k != "id"} | {"token": f"t{row['id']}"} for row in rows(1, 6)]
    for db in (runtime, twin):
        with db.uow() as uow:
            insert_rows(uow.session, TABLE, [batch[0] | {"request": "stored before"}])  # token t1 taken
            uow.commit()
    with runtime.uow() as uow, uow.pipelined() as pipeline:
        answer = insert_new_rows_later(uow.session, TABLE, batch, unique=("token",), returning=("id", "token"))
        if pipeline is not None:  # PostgreSQL: queued, sent with the next read
            assert pipeline.queued and pipeline.rows(text("SELECT 1")) == [(1,)] and not pipeline.queued
        inserted = answer()
        uow.commit()
    with twin.uow() as uow:
        statement = (postgresql_insert if twin.engine.dialect.name == "postgresql" else sqlite_insert)(TABLE)
        for row in batch:
            uow.session.execute(statement.on_conflict_do_nothing(index_elements=[TABLE.c.token]), row)
        uow.commit()
    assert stored(runtime) == stored(twin)
    assert sorted(token for _, token in inserted) == [f"t{n}" for n in range(2, 7)]
    assert {token: row_id for row_id, token in inserted} == {r[-1]: r[0] for r in stored(runtime)[1:]}

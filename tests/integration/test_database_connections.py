"""Pooled PostgreSQL connections: pinged on checkout only after PING_BYPASS_S idle, replaced when
their server process is gone, and a request that meets a broken one answers 503, applies nothing,
and the next request works (hashedge/adapters/database.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hashedge.adapters import database
from hashedge.adapters.database import make_engine
from hashedge.services import accounts
from hashedge.web import create_app

# SQLite keeps no server connection to lose: these run on PostgreSQL only
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


@pytest.fixture
def postgres_url(database_url):
    return database_url


def _terminate(url: str, pids: set[int]) -> None:
    """End these server processes from another connection, as a server restart would."""
    killer = make_engine(url)
    try:
        with killer.connect() as connection:
            for pid in pids:
                assert connection.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
    finally:
        killer.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_an_idle_connection_whose_server_process_is_gone_is_replaced_on_checkout(postgres_url, monkeypatch):
    engine = make_engine(postgres_url, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(postgres_url, {first})
        monkeypatch.setattr(database, "PING_BYPASS_S", 0.0)  # idle past the window: pinged
        second = _backend_pid(engine)
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_used_within_the_window_is_not_pinged_and_fails_once(postgres_url, monkeypatch):
    monkeypatch.setattr(database, "PING_BYPASS_S", 3600.0)
    engine = make_engine(postgres_url, pool_size=2)
    try:
        with engine.connect() as one, engine.connect() as two:  # two pooled connections
            pids = {one.scalar(text("SELECT pg_backend_pid()")), two.scalar(text("SELECT pg_backend_pid()"))}
        _terminate(postgres_url, pids)
        with pytest.raises(DBAPIError) as failure:  # no ping: the statement meets the dead connection
            _backend_pid(engine)
        assert failure.value.connection_invalidated
        # the disconnect invalidated every connection pooled before it, not only the one that failed
        assert {_backend_pid(engine), _backend_pid(engine)}.isdisjoint(pids)
    finally:
        engine.dispose()


def test_a_request_that_meets_a_lost_connection_gets_a_503_and_the_next_one_is_served(runtime, postgres_url,
                                                                                      monkeypatch):
    monkeypatch.setattr(database, "PING_BYPASS_S", 3600.0)  # so that the request meets the broken one
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "reader")
    client = create_app(runtime).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/positions", headers=headers).status_code == 200
    with runtime.engine.connect() as connection:
        pids = {connection.scalar(text("SELECT pg_backend_pid()"))}
    _terminate(postgres_url, pids)

    lost = client.get("/api/v1/positions", headers=headers)
    assert lost.status_code == 503
    assert lost.headers["Retry-After"] == "1"
    assert lost.get_json()["error"]["code"] == "database_unavailable"
    served = client.get("/api/v1/positions", headers=headers)
    assert served.status_code == 200
    assert served.get_json()["items"] == []

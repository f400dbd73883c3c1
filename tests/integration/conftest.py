"""Integration fixtures: every test here runs against a fresh SQLite file and a fresh PostgreSQL
database (from a migrated template), both real servers, never an in-memory stand-in."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hashedge.adapters.database import make_engine, upgrade_database
from hashedge.bootstrap import Runtime, bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings

POSTGRES_URL_VARIABLE = "HASHEDGE_TEST_POSTGRES_URL"
START_OF_TESTS = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url and os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_URL_VARIABLE} must point at a PostgreSQL server on CI")
    return url


class PostgresTemplates:
    """A migrated template database, cloned per test (CREATE DATABASE ... TEMPLATE is fast)."""

    def __init__(self, admin_url: str):
        self.admin_url = make_url(admin_url)
        self.template = f"hashedge_template_{os.getpid()}"
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
            connection.execute(text(f'CREATE DATABASE "{self.template}"'))
        engine = make_engine(self.admin_url.set(database=self.template).render_as_string(False))
        upgrade_database(engine)
        engine.dispose()

    def clone(self) -> str:
        name = f"hashedge_t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))

    def close(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_templates():
    url = _postgres_url()
    if not url:
        yield None
        return
    templates = PostgresTemplates(url)
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, postgres_templates):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hashedge.sqlite'}"
        engine = make_engine(url)
        upgrade_database(engine)
        engine.dispose()
        yield url
        return
    if postgres_templates is None:
        pytest.skip(f"no PostgreSQL server: set {POSTGRES_URL_VARIABLE} (scripts/start-postgres)")
    url = postgres_templates.clone()
    yield url
    postgres_templates.drop(url)


@pytest.fixture
def clock():
    return FixedClock(START_OF_TESTS)


@pytest.fixture
def runtime(database_url, tmp_path, clock) -> Runtime:
    settings = load_settings(
        {"HASHEDGE_DATABASE_URL": database_url, "HASHEDGE_INSTANCE_DIR": str(tmp_path / "instance")},
        secret_key="test-secret-key-not-for-production",
    )
    runtime = bootstrap(settings, clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def twin(database_url, postgres_templates, tmp_path, clock) -> Runtime:
    """A second, fresh database on the same backend and the same clock as ``runtime``: the same
    requests sent by another path there must leave the same state (the exchange's batches, the
    order inbox)."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'twin.sqlite'}"
        engine = make_engine(url)
        upgrade_database(engine)
        engine.dispose()
    else:
        url = postgres_templates.clone()
    settings = load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(tmp_path / "twin")},
                             secret_key="test-secret-key-not-for-production")
    runtime = bootstrap(settings, clock=clock)
    yield runtime
    runtime.close()
    if not database_url.startswith("sqlite"):
        postgres_templates.drop(url)


RECENT_DAYS_OF_BLOCKS = 40


@pytest.fixture(scope="session")
def demo_chain(shared_data):
    """The demo's simulated chain (real history replayed, then simulated) up to the test clock."""
    from indices.sources.csv_import import read_epoch_history
    from indices.sources.simulator import simulate_demo_chain

    epochs = read_epoch_history(shared_data / "btc_difficulty_epochs.csv")
    return simulate_demo_chain(epochs, seed=11, end_time=int(START_OF_TESTS.timestamp()))


@pytest.fixture
def populated_runtime(runtime, demo_chain, shared_data):
    """Real epoch history, the last 40 days of blocks, and every due fixing published."""
    from hashedge.services.chain_data import import_epoch_history, store_block_frame
    from hashedge.services.fixings import publish_fixings

    import_epoch_history(runtime.uow(), shared_data / "btc_difficulty_epochs.csv")
    cutoff = int(START_OF_TESTS.timestamp()) - RECENT_DAYS_OF_BLOCKS * 86_400
    store_block_frame(runtime.uow(), demo_chain[demo_chain["time"] >= cutoff])
    publish_fixings(runtime.uow(), runtime.clock, confirmations=runtime.settings.confirmations)
    return runtime

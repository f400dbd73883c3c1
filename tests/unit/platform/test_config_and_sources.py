"""Configuration from the environment and the block sources it selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashedge.adapters.block_sources import make_source
from hashedge.config import load_settings
from hashedge.errors import InvalidInput
from indices.sources.bitcoind import BitcoindSource
from indices.sources.csv_import import CsvBlockSource
from indices.sources.esplora import EsploraSource


def test_defaults_put_an_sqlite_file_and_a_kept_secret_in_the_instance_folder(tmp_path):
    settings = load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'hashedge.sqlite'}"
    assert settings.confirmations == 6 and settings.is_sqlite
    assert len(settings.secret_key) == 64
    assert load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path)}).secret_key == settings.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_environment_variables_override_the_defaults(tmp_path):
    settings = load_settings({
        "HASHEDGE_INSTANCE_DIR": str(tmp_path),
        "HASHEDGE_DATABASE_URL": "postgresql+psycopg://u:p@db/hashedge",
        "HASHEDGE_SECRET_KEY": "from-env",
        "HASHEDGE_CONFIRMATIONS": "3",
        "HASHEDGE_BITCOIND_COOKIE_FILE": "/var/lib/bitcoind/.cookie",
    })
    assert settings.database_url.startswith("postgresql") and not settings.is_sqlite
    assert (settings.secret_key, settings.confirmations) == ("from-env", 3)
    assert settings.bitcoind_cookie_file == Path("/var/lib/bitcoind/.cookie")
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize("value, message", [("six", "must be an integer"), ("0", "at least 1")])
def test_bad_confirmations_are_a_clear_error(tmp_path, value, message):
    with pytest.raises(ValueError, match=message):
        load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path), "HASHEDGE_CONFIRMATIONS": value})


def test_the_order_engine_is_direct_unless_the_inbox_is_chosen(tmp_path):
    assert load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path)}).order_engine == "direct"
    chosen = load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path), "HASHEDGE_ORDER_ENGINE": " Inbox ",
                            "HASHEDGE_ORDER_TIMEOUT_SECONDS": "3"})
    assert (chosen.order_engine, chosen.order_timeout_seconds) == ("inbox", 3)


@pytest.mark.parametrize("name, value, message", [
    ("HASHEDGE_ORDER_ENGINE", "kafka", "direct or inbox"),
    ("HASHEDGE_ORDER_TIMEOUT_SECONDS", "0", "1 to 300"),
    ("HASHEDGE_ORDER_TIMEOUT_SECONDS", "soon", "must be an integer")])
def test_a_bad_order_engine_setting_is_a_clear_error(tmp_path, name, value, message):
    with pytest.raises(ValueError, match=message):
        load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path), name: value})


@pytest.mark.parametrize("value, message", [("0", "1 to 200"), ("201", "1 to 200"), ("many", "must be an integer")])
def test_a_bad_pool_size_is_a_clear_error(tmp_path, value, message):
    with pytest.raises(ValueError, match=message):
        load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path), "HASHEDGE_DB_POOL_SIZE": value})


def test_the_pool_size_sizes_the_runtimes_pool(tmp_path):
    from hashedge.bootstrap import bootstrap

    settings = {"HASHEDGE_INSTANCE_DIR": str(tmp_path)}
    for environ, kept in ((settings, 5), (settings | {"HASHEDGE_DB_POOL_SIZE": "32"}, 32)):
        runtime = bootstrap(load_settings(environ))
        try:
            assert runtime.engine.pool.size() == kept
        finally:
            runtime.close()


def test_sources_are_built_from_flags_or_settings(tmp_path):
    settings = load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path),
                              "HASHEDGE_ESPLORA_URL": "http://127.0.0.1:3000/api"}, secret_key="k")
    assert isinstance(make_source("esplora", settings), EsploraSource)
    assert isinstance(make_source("bitcoind", settings, url="http://127.0.0.1:8332"), BitcoindSource)
    assert isinstance(make_source("csv", settings, path=tmp_path / "blocks.csv"), CsvBlockSource)


@pytest.mark.parametrize("kind, message", [
    ("bitcoind", "HASHEDGE_BITCOIND_URL"), ("esplora", "HASHEDGE_ESPLORA_URL"), ("csv", "--file"),
    ("carrier-pigeon", "unknown source"),
])
def test_a_source_without_its_address_is_a_clear_error(tmp_path, kind, message):
    settings = load_settings({"HASHEDGE_INSTANCE_DIR": str(tmp_path)}, secret_key="k")
    with pytest.raises(InvalidInput, match=message):
        make_source(kind, settings)

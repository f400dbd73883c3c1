"""Configuration: one frozen object read from the environment, in one place."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from hashedge.adapters.engine_socket import check_socket_path

DEFAULT_INSTANCE_DIR = Path.cwd() / "instance"


def _env_int(environ: dict, name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with documented defaults.

    database_url        HASHEDGE_DATABASE_URL; default an SQLite file in the instance folder.
    instance_dir        HASHEDGE_INSTANCE_DIR; default ./instance.
    secret_key          HASHEDGE_SECRET_KEY; default a random key kept in instance/secret_key so
                        sessions survive restarts. Never a fixed development string.
    confirmations       HASHEDGE_CONFIRMATIONS; blocks a fixing's last block needs (default 6).
    shared_data_dir     HASHEDGE_SHARED_DATA; where real reference data lives (../shared/data).
    cookie_secure       HASHEDGE_COOKIE_SECURE: auto (Secure cookies when the request came over
                        https), true or false.
    order_engine        HASHEDGE_ORDER_ENGINE: direct (default: each POST /orders is one transaction in
                        the web worker) or inbox (appended to the order inbox and executed by
                        `hashedge engine run`, which must then be running; ORDER_PATH.md).
    order_timeout_seconds  HASHEDGE_ORDER_TIMEOUT_SECONDS (default 10): how long an inbox order
                        waits for the engine before it is withdrawn unexecuted (a 503).
    engine_socket       HASHEDGE_ENGINE_SOCKET (default none): a Unix socket path on which the
                        leading engine listens and to which the web workers hand their orders
                        (no database statement on their side; ORDER_PATH.md, "The engine's
                        socket"). Without it, or with no engine listening, orders go through
                        the inbox table. deploy/gunicorn.conf.py sets one beside the instance.
    db_pool_size        HASHEDGE_DB_POOL_SIZE (default 5): database connections a process keeps
                        open (up to 10 more are opened when all are busy, and closed on return).
                        deploy/gunicorn.conf.py sets it to the worker's threads: on PostgreSQL an
                        opened connection costs a server process and an authentication, and 32
                        threads on 5 kept connections opened 44 a second (BENCHMARKS.md, part J).
    bitcoind_url, ...   block sources for ingestion (HASHEDGE_BITCOIND_URL, _USER, _PASSWORD or
                        _COOKIE_FILE for Bitcoin Core; HASHEDGE_ESPLORA_URL).
    """

    database_url: str
    instance_dir: Path
    secret_key: str = field(repr=False)
    confirmations: int = 6
    shared_data_dir: Path | None = None
    bitcoind_url: str | None = None
    bitcoind_user: str | None = None
    bitcoind_password: str | None = field(default=None, repr=False)
    bitcoind_cookie_file: Path | None = None
    esplora_url: str | None = None
    ingest_interval_seconds: int = 60
    cookie_secure: str = "auto"
    order_engine: str = "direct"
    order_timeout_seconds: int = 10
    engine_socket: str | None = None
    db_pool_size: int = 5

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret_key(instance_dir: Path, environ: dict) -> str:
    if environ.get("HASHEDGE_SECRET_KEY"):
        return environ["HASHEDGE_SECRET_KEY"]
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_settings(environ: dict | None = None, **overrides) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    instance_dir = Path(environ.get("HASHEDGE_INSTANCE_DIR") or DEFAULT_INSTANCE_DIR).resolve()
    database_url = environ.get("HASHEDGE_DATABASE_URL") or f"sqlite:///{instance_dir / 'hashedge.sqlite'}"
    shared = environ.get("HASHEDGE_SHARED_DATA")
    values = dict(
        database_url=database_url,
        instance_dir=instance_dir,
        secret_key=overrides.pop("secret_key", None) or _secret_key(instance_dir, environ),
        confirmations=_env_int(environ, "HASHEDGE_CONFIRMATIONS", 6),
        shared_data_dir=Path(shared) if shared else None,
        bitcoind_url=environ.get("HASHEDGE_BITCOIND_URL"),
        bitcoind_user=environ.get("HASHEDGE_BITCOIND_USER"),
        bitcoind_password=environ.get("HASHEDGE_BITCOIND_PASSWORD"),
        bitcoind_cookie_file=Path(environ["HASHEDGE_BITCOIND_COOKIE_FILE"])
        if environ.get("HASHEDGE_BITCOIND_COOKIE_FILE") else None,
        esplora_url=environ.get("HASHEDGE_ESPLORA_URL"),
        ingest_interval_seconds=_env_int(environ, "HASHEDGE_INGEST_INTERVAL_SECONDS", 60),
        cookie_secure=(environ.get("HASHEDGE_COOKIE_SECURE") or "auto").strip().lower(),
        order_engine=(environ.get("HASHEDGE_ORDER_ENGINE") or "direct").strip().lower(),
        order_timeout_seconds=_env_int(environ, "HASHEDGE_ORDER_TIMEOUT_SECONDS", 10),
        engine_socket=(environ.get("HASHEDGE_ENGINE_SOCKET") or "").strip() or None,
        db_pool_size=_env_int(environ, "HASHEDGE_DB_POOL_SIZE", 5),
    )
    values.update(overrides)
    if values["cookie_secure"] not in ("auto", "true", "false"):
        raise ValueError("HASHEDGE_COOKIE_SECURE must be auto, true or false")
    if values["order_engine"] not in ("direct", "inbox"):
        raise ValueError("HASHEDGE_ORDER_ENGINE must be direct or inbox")
    if not 1 <= values["db_pool_size"] <= 200:
        raise ValueError("HASHEDGE_DB_POOL_SIZE must be 1 to 200")
    if not 1 <= values["order_timeout_seconds"] <= 300:
        raise ValueError("HASHEDGE_ORDER_TIMEOUT_SECONDS must be 1 to 300")
    if values["engine_socket"] is not None:
        try:
            check_socket_path(values["engine_socket"])
        except ValueError as exc:
            raise ValueError(f"HASHEDGE_ENGINE_SOCKET: {exc}") from None
    if values["confirmations"] < 1:
        raise ValueError("HASHEDGE_CONFIRMATIONS must be at least 1")
    return Settings(**values)

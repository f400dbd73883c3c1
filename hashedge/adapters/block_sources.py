"""Builds the configured block source for the CLI and the scheduler."""

from __future__ import annotations

from pathlib import Path

from hashedge.clock import Clock
from hashedge.config import Settings
from hashedge.errors import InvalidInput

SOURCE_KINDS = ("bitcoind", "esplora", "csv")


def make_source(kind: str, settings: Settings, *, url: str | None = None, path: Path | None = None,
                clock: Clock | None = None):
    if kind == "bitcoind":
        from indices.sources.bitcoind import BitcoindSource

        url = url or settings.bitcoind_url
        if not url:
            raise InvalidInput("no node URL: pass --url or set HASHEDGE_BITCOIND_URL", fields={"url": ["required"]})
        return BitcoindSource(url, user=settings.bitcoind_user, password=settings.bitcoind_password,
                              cookie_file=settings.bitcoind_cookie_file)
    if kind == "esplora":
        from indices.sources.esplora import EsploraSource

        url = url or settings.esplora_url
        if not url:
            raise InvalidInput("no explorer URL: pass --url or set HASHEDGE_ESPLORA_URL", fields={"url": ["required"]})
        return EsploraSource(url)
    if kind == "csv":
        from indices.sources.csv_import import CsvBlockSource

        if path is None:
            raise InvalidInput("--source csv needs --file PATH", fields={"file": ["required"]})
        return CsvBlockSource(path)
    raise InvalidInput(f"unknown source {kind!r}; choose one of {', '.join(SOURCE_KINDS)}")

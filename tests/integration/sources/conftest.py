"""Fixtures starting the local node and explorer stand-ins of ``chain_servers`` for each test."""

from __future__ import annotations

import socket

import pytest
from chain_servers import FakeBitcoind, FakeEsplora, recent_chain

from indices.blocks import Block


@pytest.fixture
def chain_blocks() -> list[Block]:
    return recent_chain()


@pytest.fixture
def bitcoind(chain_blocks):
    node = FakeBitcoind(chain_blocks).start()
    yield node
    node.stop()


@pytest.fixture
def esplora(chain_blocks):
    explorer = FakeEsplora(chain_blocks).start()
    yield explorer
    explorer.stop()


@pytest.fixture
def mempool_space(chain_blocks):
    explorer = FakeEsplora(chain_blocks, mempool_extras=True).start()
    yield explorer
    explorer.stop()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

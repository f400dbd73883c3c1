"""Builders for test data: small hand-made chains and fixings with exact, readable values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from indices.blocks import Block, blocks_to_frame
from indices.fixings import FixingValue

GENESIS_PREV_HASH = "0" * 64
DEFAULT_BITS = 0x17034219
DEFAULT_START_TIME = 1_700_000_000


def block_hash(height: int, fork: str = "a") -> str:
    return f"{fork}{height:063x}"


def make_chain(count: int, *, start: int = 0, fork: str = "a", fork_from: int | None = None,
               start_time: int = DEFAULT_START_TIME, spacing_seconds: int = 600,
               bits: int = DEFAULT_BITS, fees_sats: int = 2_000_000) -> list[Block]:
    """Blocks ``start``..``start+count-1``, linked by hash. Heights from ``fork_from`` on carry the
    ``fork`` letter in their hash; earlier ones the main-chain letter 'a'."""
    blocks = []
    prev = GENESIS_PREV_HASH if start == 0 else block_hash(start - 1)
    for height in range(start, start + count):
        letter = fork if fork_from is None or height >= fork_from else "a"
        current = block_hash(height, letter)
        blocks.append(Block(height, current, prev, start_time + spacing_seconds * height, bits,
                            312_500_000, fees_sats, 3_000))
        prev = current
    return blocks


def make_frame(count: int, **kwargs):
    return blocks_to_frame(make_chain(count, **kwargs))


def daily_hashprice(day: datetime, value: Decimal) -> FixingValue:
    """A daily HASHPRICE fixing of ``value`` as of ``day`` (placeholder block range and digest)."""
    return FixingValue(index="HASHPRICE", kind="daily", as_of=day, value=value, unit="sats/PH/day",
                       methodology_version="1", start_height=1, end_height=2, confirmations=6,
                       input_digest="0" * 64)

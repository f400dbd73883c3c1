"""The schema on both backends: migrations, block storage, the epoch view, immutable fixings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from hashedge.adapters.database import schema_is_current, upgrade_database
from hashedge.errors import InvalidInput
from hashedge.services.chain_data import store_block_frame
from indices.blocks import Block, blocks_to_frame


def chain(start: int, count: int, *, fork: str = "a", start_time: int = 1_700_000_000) -> list[Block]:
    blocks, prev = [], f"{start - 1:064x}" if start else "0" * 64
    for height in range(start, start + count):
        block_hash = f"{fork}{height:063x}"
        blocks.append(Block(height, block_hash, prev, start_time + 600 * height, 0x17034219,
                            312_500_000, 1_000_000 + height, 3000))
        prev = block_hash
    return blocks


@dataclass(frozen=True)
class SampleFixing:
    index: str = "DIFF"
    kind: str = "daily"
    as_of: datetime = datetime(2026, 11, 1, tzinfo=timezone.utc)
    value: Decimal = Decimal("86388558925171.02")
    unit: str = "difficulty"
    methodology_version: str = "1.0"
    start_height: int = 100
    end_height: int = 100
    confirmations: int = 6
    input_digest: str = "ab" * 32


def test_migrations_are_current_and_idempotent(runtime):
    assert schema_is_current(runtime.engine)
    upgrade_database(runtime.engine)  # running again changes nothing and does not fail
    assert schema_is_current(runtime.engine)


def test_blocks_are_stored_and_loaded_as_the_same_frame(runtime):
    frame = blocks_to_frame(chain(0, 50))
    assert store_block_frame(runtime.uow(), frame) == 50
    with runtime.uow() as uow:
        loaded = uow.blocks.load_frame()
        assert uow.blocks.tip_height() == 49
    assert loaded.equals(frame)


def test_blocks_that_do_not_link_are_refused_and_nothing_is_stored(runtime):
    store_block_frame(runtime.uow(), blocks_to_frame(chain(0, 10)))
    stranger = blocks_to_frame(chain(10, 5, fork="b"))
    stranger.loc[0, "prev_hash"] = "f" * 64
    with pytest.raises(InvalidInput, match="does not link"):
        store_block_frame(runtime.uow(), stranger)
    with runtime.uow() as uow:
        assert uow.blocks.tip_height() == 9


def test_the_epoch_view_groups_blocks_by_retarget_period(runtime):
    store_block_frame(runtime.uow(), blocks_to_frame(chain(0, 2020)))
    with runtime.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT epoch, start_height, end_height, block_count FROM block_epochs ORDER BY epoch")
        ).all()
    assert [tuple(r) for r in rows] == [(0, 0, 2015, 2016), (1, 2016, 2019, 4)]


def test_published_fixings_cannot_be_updated_or_deleted(runtime, clock):
    with runtime.uow() as uow:
        uow.fixings.add([SampleFixing()], published_at=clock.now())
        uow.commit()
    for statement in ("UPDATE fixings SET value = '1'", "DELETE FROM fixings"):
        with pytest.raises(DBAPIError, match="immutable"):
            with runtime.engine.begin() as connection:
                connection.execute(text(statement))
    with runtime.uow() as uow:
        [stored] = uow.fixings.latest()
    assert stored.value == Decimal("86388558925171.02") and stored.version == 1


def test_a_fixing_is_published_once_and_corrections_need_a_reason(runtime, clock):
    with runtime.uow() as uow:
        uow.fixings.add([SampleFixing()], published_at=clock.now())
        uow.commit()
    with pytest.raises(IntegrityError):
        with runtime.uow() as uow:
            uow.fixings.add([SampleFixing()], published_at=clock.now())
            uow.commit()
    with pytest.raises(IntegrityError):
        with runtime.uow() as uow:
            uow.fixings.add([SampleFixing(value=Decimal("2"))], published_at=clock.now(), version=2)
            uow.commit()
    with runtime.uow() as uow:
        uow.fixings.add([SampleFixing(value=Decimal("2"))], published_at=clock.now(), version=2,
                        reason="reorg at height 100")
        uow.commit()
        [latest] = uow.fixings.latest()
        versions = uow.fixings.versions("DIFF", "daily", SampleFixing.as_of)
    assert latest.value == Decimal("2") and latest.reason == "reorg at height 100"
    assert [v.version for v in versions] == [1, 2]


def test_a_job_slot_is_claimed_once(runtime, clock):
    slot = datetime(2026, 11, 1, 0, 5, tzinfo=timezone.utc)
    with runtime.uow() as uow:
        first = uow.job_runs.claim("publish_fixings", slot, clock.now())
        second = uow.job_runs.claim("publish_fixings", slot, clock.now())
        uow.commit()
    assert first is not None and second is None

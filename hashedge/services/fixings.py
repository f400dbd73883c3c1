"""Use cases for fixings: publish what has become due, verify everything, issue corrections.

Publishing is idempotent: a fixing is identified by (index, kind, as-of time) and version 1 is
written once. Stored fixings are never changed (the database refuses updates and deletes); a
correction is a new version with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from hashedge.adapters.repositories.indices import PublishedFixing
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.errors import Conflict, DataUnavailable, NotFound
from indices.definitions import get_definition, standard_indices
from indices.fixings import compute_fixings, verify_fixings as verify_against_data

# Enough trailing blocks for the longest standard window (BME84: six epochs, plus slack) when
# only recent fixings can still be due.
INCREMENTAL_LOOKBACK_BLOCKS = 8 * 2016
# Header times are not monotonic, so a fixing a little older than the newest published one may
# confirm later; recomputing a margin before it costs little (published ones are filtered out).
INCREMENTAL_LOOKBACK_TIME = timedelta(days=2)


@dataclass(frozen=True)
class PublishResult:
    published: int
    already_published: int
    tip_height: int | None
    latest_as_of: datetime | None

    def as_summary(self) -> dict:
        return {
            "published": self.published,
            "already_published": self.already_published,
            "tip_height": self.tip_height,
            "latest_as_of": self.latest_as_of.isoformat() if self.latest_as_of else None,
        }


@dataclass(frozen=True)
class Mismatch:
    index: str
    kind: str
    as_of: datetime
    version: int
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def standard_index_names() -> list[str]:
    return [definition.name for definition in standard_indices()]


def _load_inputs(uow: UnitOfWork, *, from_height: int | None = None):
    blocks = uow.blocks.load_frame(start_height=from_height)
    epochs = uow.epochs.load_frame()
    return (None if blocks.empty else blocks), (None if epochs.empty else epochs)


def publish_fixings(
    uow: UnitOfWork,
    clock: Clock,
    *,
    confirmations: int,
    names: list[str] | None = None,
    full_recompute: bool = False,
) -> PublishResult:
    """Publish every fixing that is due and confirmed but not yet published."""
    names = names or standard_index_names()
    now = clock.now()
    for attempt in (1, 2):  # a concurrent publisher may win the race once; then re-read
        with uow:
            tip = uow.blocks.tip_height()
            newest = None if full_recompute else uow.fixings.newest()
            since = newest.as_of - INCREMENTAL_LOOKBACK_TIME if newest else None
            from_height = None
            if newest is not None and tip is not None:
                from_height = max(0, newest.end_height - INCREMENTAL_LOOKBACK_BLOCKS)
            blocks, epochs = _load_inputs(uow, from_height=from_height)
            if blocks is None and epochs is None:
                return PublishResult(0, 0, tip, None)
            computed = compute_fixings(
                blocks, epochs, names=names, confirmations=confirmations, tip_height=tip, since=since
            )
            due = [f for f in computed if f.as_of <= now]
            published = uow.fixings.published_identities(names, since=since)
            new = [f for f in due if (f.index, f.kind, f.as_of) not in published]
            uow.fixings.add(new, published_at=now)
            try:
                uow.commit()
            except IntegrityError:
                if attempt == 2:
                    raise
                continue
            latest_as_of = max((f.as_of for f in new), default=newest.as_of if newest else None)
            return PublishResult(len(new), len(due) - len(new), tip, latest_as_of)
    raise AssertionError("unreachable")


def verify_fixings(uow: UnitOfWork) -> VerifyReport:
    """Recompute every stored fixing (latest versions) from stored chain data."""
    with uow.read_only():
        stored = uow.fixings.latest()
        blocks, epochs = _load_inputs(uow)
    if not stored:
        return VerifyReport(0, [])
    found = verify_against_data(stored, blocks, epochs)
    by_identity = {f.identity: f for f in stored}
    mismatches = [
        Mismatch(m.index, m.kind, m.as_of, by_identity[(m.index, m.kind, m.as_of)].version, m.reason)
        for m in found
    ]
    return VerifyReport(len(stored), mismatches)


def correct_fixing(
    uow: UnitOfWork,
    clock: Clock,
    *,
    index: str,
    kind: str,
    as_of: datetime,
    reason: str,
    confirmations: int,
) -> PublishedFixing:
    """Publish a new version of a fixing recomputed from the stored data, with a reason."""
    if not reason or not reason.strip():
        raise Conflict("a correction needs a reason", fields={"reason": ["required"]})
    get_definition(index)
    with uow:
        versions = uow.fixings.versions(index, kind, as_of)
        if not versions:
            raise NotFound(f"no {kind} fixing of {index} as of {as_of.isoformat()}")
        current = versions[-1]
        blocks, epochs = _load_inputs(uow)
        recomputed = [
            f
            for f in compute_fixings(
                blocks, epochs, names=[index], confirmations=confirmations, tip_height=uow.blocks.tip_height()
            )
            if (f.kind, f.as_of) == (kind, as_of)
        ]
        if not recomputed:
            raise DataUnavailable(f"the stored data no longer yields a {kind} fixing of {index} at {as_of}")
        fresh = recomputed[0]
        if fresh.value == current.value and fresh.input_digest == current.input_digest:
            raise Conflict(f"{index} {kind} fixing as of {as_of.isoformat()} already matches the data")
        uow.fixings.add([fresh], published_at=clock.now(), version=current.version + 1, reason=reason.strip())
        uow.commit()
        return uow.fixings.versions(index, kind, as_of)[-1]

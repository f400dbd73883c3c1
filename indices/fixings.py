"""Fixings: the published, immutable index values contracts settle on, with verifiable digests.

Schedule
  daily     at each midnight M (00:00 UTC) for every index: the value at h = cut(M), the highest
            height stamped before M (``indices.cutoffs``). Publishable once h has
            ``confirmations`` confirmations (tip - h + 1 >= confirmations) and the cut is final
            (at least 6 blocks follow h; MTP then forbids a later block stamped before M).
            MRI's daily value is its mean over the N UTC days ending at M.
  retarget  at each retarget height h (the first block of an epoch, h > 0), as of the time of
            block h, for every index but MRI (a daily index by construction), publishable once h
            has ``confirmations`` confirmations.

Digest: SHA-256 (hex) of the canonical JSON of ``fixing_digest_payload``: sorted keys, no
whitespace, only ints and strings (no floats). It names the index, methodology version, kind,
as-of time, block range with the hashes of its first and last block (the last hash commits to
the whole chain before it through previous-hash links), confirmations, and the aggregated integer
inputs the formula read. The value is not in the digest; verification recomputes both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd

from indices.chain import RETARGET_INTERVAL_BLOCKS
from indices.compute import epoch_exact_points, exact_points, units_to_decimal
from indices.cutoffs import CUTOFF_FINALITY_BLOCKS
from indices.definitions import STANDARD_INDEX_NAMES, IndexDefinition, UnknownIndex, get_definition
from indices.formulas import DayTable, ExactPoints, mri_exact_at_midnights
from indices.frames import BlockArrays, EpochHistory

DEFAULT_CONFIRMATIONS = 6
DAILY = "daily"
RETARGET = "retarget"
_KIND_ORDER = {DAILY: 0, RETARGET: 1}
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


@dataclass(frozen=True, slots=True)
class FixingValue:
    """One fixing. ``value`` is exact, rounded half-even to the index quantum; ``start_height``
    and ``end_height`` bound the blocks the formula read; ``confirmations`` is the depth required
    before publication."""

    index: str
    kind: str
    as_of: datetime
    value: Decimal
    unit: str
    methodology_version: str
    start_height: int
    end_height: int
    confirmations: int
    input_digest: str

    @property
    def identity(self) -> tuple[str, str, datetime]:
        return (self.index, self.kind, self.as_of)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A stored fixing the data does not reproduce, and why."""

    index: str
    kind: str
    as_of: datetime
    reason: str


# --- digest -------------------------------------------------------------------------------------

def fixing_digest_payload(*, index: str, methodology_version: str, kind: str, as_of: datetime | str,
                          start_height: int, end_height: int, confirmations: int, inputs: dict,
                          start_hash: str | None = None, end_hash: str | None = None) -> dict:
    """Exactly what a fixing's digest hashes. Epoch-history fixings have no block hashes."""
    payload = {
        "index": index,
        "methodology_version": methodology_version,
        "kind": kind,
        "as_of": as_of if isinstance(as_of, str) else as_of.isoformat(),
        "start_height": start_height,
        "end_height": end_height,
        "confirmations": confirmations,
        "inputs": inputs,
    }
    if start_hash is not None:
        payload["start_hash"] = start_hash
        payload["end_hash"] = end_hash
    return payload


def _check_canonical(value, path: str = "payload") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be text, got {key!r}")
            _check_canonical(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_canonical(item, f"{path}[{i}]")
    elif isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"{path}: only ints and text are hashed, got {type(value).__name__}")


def canonical_json(payload: dict) -> bytes:
    """Sorted keys, no whitespace, ASCII; refuses floats, Decimals and anything but int/str."""
    _check_canonical(payload)
    return _ENCODER.encode(payload).encode("ascii")


def input_digest(payload: dict) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


# --- computing ----------------------------------------------------------------------------------

def compute_fixings(
    blocks: pd.DataFrame | None,
    epochs: pd.DataFrame | None,
    *,
    names: list[str] | None = None,
    confirmations: int = DEFAULT_CONFIRMATIONS,
    tip_height: int | None = None,
    since: datetime | None = None,
) -> list[FixingValue]:
    """Every publishable fixing of ``names`` (default: the standard set) in the data, as of
    ``tip_height`` (default: the last block given), with as-of time at or after ``since``.

    Block data is used when given (it may start anywhere: fixings whose inputs reach before its
    first block are left out). Without blocks, DIFF and BME retarget fixings come from the epoch
    history when it has a ``start_time`` column; daily fixings always need block times.
    Ordered by as-of time, then kind, then the order of ``names``.
    """
    return _compute(blocks, epochs, names, confirmations, tip_height, since, None)


def fixing_payload(fixing, blocks: pd.DataFrame | None, epochs: pd.DataFrame | None) -> dict | None:
    """The digest payload the data gives for a stored fixing (None if the data does not yield
    it): what its ``input_digest`` should be the SHA-256 of, for people checking by hand."""
    payloads: dict = {}
    _compute(blocks, epochs, [fixing.index], int(fixing.confirmations), None, fixing.as_of, payloads)
    return payloads.get((fixing.index, fixing.kind, fixing.as_of))


def _compute(blocks, epochs, names, confirmations, tip_height, since, payloads) -> list[FixingValue]:
    if isinstance(confirmations, bool) or not isinstance(confirmations, int) or confirmations < 1:
        raise ValueError(f"confirmations must be a positive int, got {confirmations!r}")
    definitions = list({d.name: d for d in map(get_definition, names or STANDARD_INDEX_NAMES)}.values())
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware (UTC)")
    since_ts = int(since.timestamp()) if since is not None else None
    if blocks is not None and len(blocks):
        records = _block_fixings(blocks, definitions, confirmations, tip_height, since_ts, payloads)
    elif epochs is not None and len(epochs):
        records = _epoch_fixings(EpochHistory.of(epochs), definitions, confirmations, tip_height,
                                 since_ts, payloads)
    else:
        records = []
    order = {d.name: i for i, d in enumerate(definitions)}
    records.sort(key=lambda f: (f.as_of, _KIND_ORDER[f.kind], order[f.index]))
    return records


def _as_of_times(timestamps: np.ndarray) -> tuple[list[datetime], list[str]]:
    as_of = [datetime.fromtimestamp(t, tz=timezone.utc) for t in timestamps.tolist()]
    return as_of, [d.isoformat() for d in as_of]


def _block_fixings(frame, definitions, confirmations, tip_height, since_ts, payloads) -> list[FixingValue]:
    arrays = BlockArrays(frame)
    arrays.check_contiguous()
    if tip_height is not None:
        if tip_height > arrays.tip_height:
            raise ValueError(f"tip height {tip_height} is past the blocks given ({arrays.tip_height})")
        if tip_height < arrays.first_height:
            return []
        arrays = BlockArrays(frame, 0, tip_height - arrays.first_height + 1)
    tip = arrays.size - 1  # as a position

    cuts = arrays.midnight_cuts
    daily = (tip - cuts >= CUTOFF_FINALITY_BLOCKS) & (tip - cuts + 1 >= confirmations)
    if since_ts is not None:
        daily &= arrays.midnights >= since_ts
    daily_k = np.flatnonzero(daily)
    daily_times = _as_of_times(arrays.midnights[daily_k])

    first_retarget = max(1, -(-arrays.first_height // RETARGET_INTERVAL_BLOCKS))
    retarget_pos = (np.arange(first_retarget * RETARGET_INTERVAL_BLOCKS, arrays.tip_height + 1,
                              RETARGET_INTERVAL_BLOCKS) - arrays.first_height)
    retarget_pos = retarget_pos[tip - retarget_pos + 1 >= confirmations]
    if since_ts is not None:
        retarget_pos = retarget_pos[arrays.time[retarget_pos] >= since_ts]
    retarget_times = _as_of_times(arrays.time[retarget_pos])

    table = DayTable(arrays) if any(d.family == "MRI" for d in definitions) else None
    records: list[FixingValue] = []
    for definition in definitions:
        if definition.family == "MRI":
            daily_points = mri_exact_at_midnights(table, definition, daily_k)
        else:
            daily_points = exact_points(arrays, definition, cuts[daily_k])
            retarget_points = exact_points(arrays, definition, retarget_pos)
            records += _records(definition, RETARGET, retarget_points, retarget_times,
                                confirmations, arrays, payloads)
        records += _records(definition, DAILY, daily_points, daily_times, confirmations, arrays,
                            payloads)
    return records


def _records(definition: IndexDefinition, kind: str, points: ExactPoints,
             times: tuple[list[datetime], list[str]], confirmations: int,
             arrays: BlockArrays | None, payloads: dict | None) -> list[FixingValue]:
    """Build the records of the valid points: the only per-fixing Python work."""
    valid = np.flatnonzero(points.valid)
    if not len(valid):
        return []
    starts, ends = points.start[valid], points.end[valid]
    if arrays is not None:  # positions -> heights and hashes
        start_hashes, end_hashes = arrays.hashes[starts].tolist(), arrays.hashes[ends].tolist()
        starts, ends = starts + arrays.first_height, ends + arrays.first_height
    else:
        start_hashes = end_hashes = [None] * len(valid)
    name, version, unit = definition.name, definition.methodology_version, definition.unit
    places = definition.decimal_places
    as_of, iso = times
    records = []
    for i, start, end, start_hash, end_hash in zip(valid.tolist(), starts.tolist(), ends.tolist(),
                                                   start_hashes, end_hashes):
        payload = fixing_digest_payload(
            index=name, methodology_version=version, kind=kind, as_of=iso[i], start_height=start,
            end_height=end, confirmations=confirmations, inputs=points.inputs[i],
            start_hash=start_hash, end_hash=end_hash)
        digest = hashlib.sha256(_ENCODER.encode(payload).encode("ascii")).hexdigest()
        records.append(FixingValue(name, kind, as_of[i], units_to_decimal(points.units[i], places),
                                   unit, version, start, end, confirmations, digest))
        if payloads is not None:
            payloads[(name, kind, as_of[i])] = payload
    return records


def _epoch_fixings(history: EpochHistory, definitions, confirmations, tip_height, since_ts, payloads):
    if history.start_time is None:
        return []  # no block times: nothing has an as-of time
    tip = history.last_height if tip_height is None else int(tip_height)
    keep = (history.epoch >= 1) & (tip - history.start_height + 1 >= confirmations)
    if since_ts is not None:
        keep &= history.start_time >= since_ts
    epochs, times = history.epoch[keep], _as_of_times(history.start_time[keep])
    records: list[FixingValue] = []
    for definition in definitions:
        if definition.needs == "epochs":
            points = epoch_exact_points(history, definition, epochs)
            records += _records(definition, RETARGET, points, times, confirmations, None, payloads)
    return records


# --- verifying ----------------------------------------------------------------------------------

def verify_fixings(stored: list, blocks: pd.DataFrame | None, epochs: pd.DataFrame | None,
                   ) -> list[Mismatch]:
    """Recompute each stored fixing (anything with FixingValue's fields) from the data and
    report every one whose value, block range, unit or digest differs, or that the data no
    longer yields, and every one whose block range holds a broken previous-hash link."""
    broken = _broken_links(blocks)
    recomputed: dict[tuple, FixingValue] = {}
    for depth in sorted({int(f.confirmations) for f in stored}):
        names = sorted({f.index for f in stored if int(f.confirmations) == depth and _known(f.index)})
        if names:
            for fresh in compute_fixings(blocks, epochs, names=names, confirmations=depth):
                recomputed[(fresh.index, fresh.kind, fresh.as_of, depth)] = fresh
    mismatches = []
    for fixing in stored:
        reason = _mismatch_reason(fixing, recomputed, broken)
        if reason:
            mismatches.append(Mismatch(fixing.index, fixing.kind, fixing.as_of, reason))
    return mismatches


def _known(name: str) -> bool:
    try:
        return get_definition(name).name == name
    except UnknownIndex:
        return False


def _broken_links(blocks: pd.DataFrame | None) -> np.ndarray:
    """Heights h whose previous hash is not the hash of block h - 1."""
    if blocks is None or len(blocks) < 2:
        return np.zeros(0, dtype=np.int64)
    arrays = BlockArrays(blocks)
    return arrays.height[1:][arrays.prev_hashes[1:] != arrays.hashes[:-1]]


def _mismatch_reason(fixing, recomputed: dict, broken: np.ndarray) -> str | None:
    if not _known(fixing.index):
        return f"{fixing.index!r} is not a canonical index name of this catalogue"
    definition = get_definition(fixing.index)
    if fixing.methodology_version != definition.methodology_version:
        return (f"methodology version {fixing.methodology_version} is not the current "
                f"{definition.methodology_version}; verify it with that version's code")
    reasons = []
    inside = broken[(broken > fixing.start_height) & (broken <= fixing.end_height)]
    if len(inside):
        reasons.append(f"block {int(inside[0])} does not link to block {int(inside[0]) - 1}")
    fresh = recomputed.get((fixing.index, fixing.kind, fixing.as_of, int(fixing.confirmations)))
    if fresh is None:
        reasons.append("the data does not yield this fixing (blocks missing or unconfirmed, "
                       "or the day's cut moved)")
        return "; ".join(reasons)
    if fresh.value != fixing.value:
        reasons.append(f"value differs: stored {fixing.value}, recomputed {fresh.value}")
    if (fresh.start_height, fresh.end_height) != (fixing.start_height, fixing.end_height):
        reasons.append(f"block range differs: stored {fixing.start_height}-{fixing.end_height}, "
                       f"recomputed {fresh.start_height}-{fresh.end_height}")
    if fresh.unit != fixing.unit:
        reasons.append(f"unit differs: stored {fixing.unit}, recomputed {fresh.unit}")
    if fresh.input_digest != fixing.input_digest:
        reasons.append(f"input digest differs: stored {fixing.input_digest}, "
                       f"recomputed {fresh.input_digest}")
    return "; ".join(reasons) or None

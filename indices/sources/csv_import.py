"""CSV files of chain data: the epoch history and block rows, read with line-precise errors.

**Epoch history** (``shared/data/btc_difficulty_epochs.csv``): columns ``epoch, start_height,
end_height, bits`` with bits as hex text. ``read_epoch_history`` returns a frame with the same four
columns, all int64: ``bits`` becomes the integer compact target, the form the database stores and
every consumer takes (``indices.bme`` accepts it through ``parse_bits``; ``f"{bits:#010x}"`` gives
the hex back). One column per fact, so a hex copy that could disagree is not kept.

Checked, with the offending line named: the header; integers and hex; ``epoch == start_height //
2016``; every row but the last covering its whole epoch (``start = epoch * 2016``, ``end = start +
2015``); the last row possibly partial; no gaps or overlaps between rows; bits a canonical, positive
compact target no easier than the proof-of-work limit.

**Block rows**: columns ``BLOCK_COLUMNS`` of ``indices.blocks`` (header required, any order),
integers in plain decimal, hashes as 64 lowercase hex characters. ``iter_block_csv`` yields block
frames of ``chunk_rows`` rows, checking as it goes that heights continue without gaps and that each
block names the previous one's hash, so a million-row file streams in a few seconds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from indices.blocks import BLOCK_COLUMNS, empty_block_frame, normalize_block_frame
from indices.chain import POW_LIMIT, RETARGET_INTERVAL_BLOCKS, bits_to_target, target_to_bits
from indices.sources.frame_source import FrameBlockSource

EPOCH_COLUMNS = ("epoch", "start_height", "end_height", "bits")
DEFAULT_CHUNK_ROWS = 100_000
_INT_BLOCK_COLUMNS = ("height", "time", "bits", "subsidy_sats", "total_fees_sats", "tx_count")
_HEX_HASH = r"[0-9a-f]{64}"


# -- epoch history ------------------------------------------------------------------------------

def read_epoch_history(path: str | Path) -> pd.DataFrame:
    """The epoch history at ``path`` as a validated frame (epoch, start_height, end_height, bits: int64)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file, expected the header {','.join(EPOCH_COLUMNS)}")
        if tuple(name.strip() for name in header) != EPOCH_COLUMNS:
            raise ValueError(f"{path}: line 1: expected the header {','.join(EPOCH_COLUMNS)}, "
                             f"got {','.join(header)}")
        rows = [(reader.line_num, row) for row in reader if row]
    if not rows:
        raise ValueError(f"{path}: no epochs after the header")
    parsed = []
    for index, (line, row) in enumerate(rows):
        parsed.append(_parse_epoch_row(path, line, row, is_last=index == len(rows) - 1))
    for (line, row), previous, current in zip(rows[1:], parsed, parsed[1:]):
        if current[1] != previous[2] + 1:
            kind = "gap" if current[1] > previous[2] + 1 else "overlap"
            raise ValueError(f"{path}: line {line}: {kind}: epoch {current[0]} starts at height {current[1]} "
                             f"but the previous row ends at {previous[2]}")
    return pd.DataFrame(parsed, columns=list(EPOCH_COLUMNS)).astype("int64")


def _parse_epoch_row(path: Path, line: int, row: list[str], *, is_last: bool) -> tuple[int, int, int, int]:
    where = f"{path}: line {line}"
    if len(row) != len(EPOCH_COLUMNS):
        raise ValueError(f"{where}: expected {len(EPOCH_COLUMNS)} fields, got {len(row)}")
    values = []
    for name, text in zip(EPOCH_COLUMNS[:3], row[:3]):
        try:
            values.append(int(text.strip()))
        except ValueError:
            raise ValueError(f"{where}: {name} is not an integer: {text!r}") from None
    epoch, start, end = values
    bits = _parse_epoch_bits(where, row[3])
    if epoch < 0 or start < 0:
        raise ValueError(f"{where}: epoch and heights must be non-negative")
    if start != epoch * RETARGET_INTERVAL_BLOCKS:
        raise ValueError(f"{where}: epoch {epoch} must start at height {epoch * RETARGET_INTERVAL_BLOCKS}, "
                         f"not {start}")
    full_end = start + RETARGET_INTERVAL_BLOCKS - 1
    if not start <= end <= full_end:
        raise ValueError(f"{where}: epoch {epoch} must end between heights {start} and {full_end}, not {end}")
    if end != full_end and not is_last:
        raise ValueError(f"{where}: only the last row may be a partial epoch; epoch {epoch} ends at {end}")
    return epoch, start, end, bits


def _parse_epoch_bits(where: str, text: str) -> int:
    cleaned = text.strip().lower()
    digits = cleaned[2:] if cleaned.startswith("0x") else cleaned
    if not digits or len(digits) > 8 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"{where}: bits must be up to 8 hex digits such as 0x1d00ffff, got {text!r}")
    bits = int(digits, 16)
    try:
        target = bits_to_target(bits)
    except ValueError as exc:  # negative or overflowing encodings
        raise ValueError(f"{where}: {exc}") from None
    if target == 0:
        raise ValueError(f"{where}: bits {bits:#010x} encode a zero target")
    if target > POW_LIMIT:
        raise ValueError(f"{where}: bits {bits:#010x} are easier than the proof-of-work limit")
    if target_to_bits(target) != bits:
        raise ValueError(f"{where}: bits {bits:#010x} are not canonical (a node would write "
                         f"{target_to_bits(target):#010x})")
    return bits


def write_epoch_history(epochs: pd.DataFrame, path: str | Path) -> None:
    """Write an epoch frame in the shared file's format (bits as 0x-prefixed hex)."""
    out = epochs[list(EPOCH_COLUMNS)].copy()
    out["bits"] = [f"{int(b):#010x}" for b in out["bits"]]
    out.to_csv(path, index=False)


# -- block rows ---------------------------------------------------------------------------------

def iter_block_csv(path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Block frames of up to ``chunk_rows`` rows from the CSV at ``path``, validated as they stream."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    path = Path(path)
    header = pd.read_csv(path, nrows=0).columns.tolist()
    missing = [c for c in BLOCK_COLUMNS if c not in header]
    unexpected = [c for c in header if c not in BLOCK_COLUMNS]
    if missing or unexpected:
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "") if part)
        raise ValueError(f"{path}: line 1: the header must name {', '.join(BLOCK_COLUMNS)} ({detail})")
    previous: tuple[int, str] | None = None  # (height, hash) of the last row of the previous chunk
    reader = pd.read_csv(path, chunksize=chunk_rows, dtype={"hash": str, "prev_hash": str},
                         skip_blank_lines=False)
    with reader:
        for chunk in reader:
            if chunk.empty:
                continue
            frame = _validated_chunk(path, chunk, previous)
            previous = (int(frame["height"].iloc[-1]), str(frame["hash"].iloc[-1]))
            yield frame


def _validated_chunk(path: Path, chunk: pd.DataFrame, previous: tuple[int, str] | None) -> pd.DataFrame:
    lines = chunk.index.to_numpy() + 2  # the header is line 1; the reader keeps a running index

    def fail(row: int, message: str) -> None:
        raise ValueError(f"{path}: line {lines[row]}: {message}")

    for column in _INT_BLOCK_COLUMNS:
        values = chunk[column]
        if values.dtype != np.int64:
            numbers = pd.to_numeric(values, errors="coerce")
            bad = numbers.isna() | (numbers != numbers.round()) | (numbers.abs() >= 2**63)
            row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
            value = values.iloc[row]
            shown = repr(value) if isinstance(value, str) else str(value)
            fail(row, f"{column} is missing" if pd.isna(value) else f"{column} is not an integer: {shown}")
    for column, minimum in (("height", 0), ("time", 0), ("bits", 1), ("subsidy_sats", 0),
                            ("total_fees_sats", 0), ("tx_count", 1)):
        below = chunk[column].to_numpy() < minimum
        if below.any():
            row = int(np.flatnonzero(below)[0])
            fail(row, f"{column} must be at least {minimum}, got {chunk[column].iloc[row]}")
    for bits in np.unique(chunk["bits"].to_numpy()):
        try:
            bits_to_target(int(bits))
        except ValueError as exc:
            fail(int(np.flatnonzero(chunk["bits"].to_numpy() == bits)[0]), str(exc))
    well_formed = chunk["hash"].str.fullmatch(_HEX_HASH).fillna(False).to_numpy(dtype=bool)
    if not well_formed.all():
        row = int(np.flatnonzero(~well_formed)[0])
        fail(row, f"hash must be 64 lowercase hex characters, got {chunk['hash'].iloc[row]!r}")
    heights = chunk["height"].to_numpy()
    hashes = chunk["hash"].to_numpy(dtype=object)
    prev_hashes = chunk["prev_hash"].to_numpy(dtype=object)
    first_expected = previous[0] + 1 if previous else heights[0]
    expected = np.arange(first_expected, first_expected + len(heights))
    if not np.array_equal(heights, expected):
        row = int(np.flatnonzero(heights != expected)[0])
        fail(row, f"height {heights[row]} does not follow height {expected[row] - 1} (heights must "
                  "increase by one)")
    # prev_hash of every row but the first is checked by linking, which also proves it well formed.
    first_prev = prev_hashes[0]
    if previous is not None:
        if first_prev != previous[1]:
            fail(0, f"prev_hash {first_prev!r} is not the hash of height {previous[0]}")
    elif not (isinstance(first_prev, str) and pd.Series([first_prev]).str.fullmatch(_HEX_HASH).iloc[0]):
        fail(0, f"prev_hash must be 64 lowercase hex characters, got {first_prev!r}")
    unlinked = prev_hashes[1:] != hashes[:-1]
    if unlinked.any():
        row = int(np.flatnonzero(unlinked)[0]) + 1
        fail(row, f"prev_hash is not the hash of height {heights[row] - 1}")
    frame = normalize_block_frame(chunk)
    frame["hash"] = frame["hash"].astype(object)
    frame["prev_hash"] = frame["prev_hash"].astype(object)
    return frame


def read_block_csv(path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> pd.DataFrame:
    """The whole block CSV as one frame (empty frame for a header-only file)."""
    chunks = list(iter_block_csv(path, chunk_rows))
    if not chunks:
        return empty_block_frame()
    return pd.concat(chunks, ignore_index=True)


def write_block_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a block frame with the ``BLOCK_COLUMNS`` header, in height order."""
    normalize_block_frame(frame).to_csv(path, index=False, columns=list(BLOCK_COLUMNS))


class CsvBlockSource(FrameBlockSource):
    """A ``BlockSource`` over a block CSV file, read and validated on first use."""

    def __init__(self, path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        super().__init__(None)
        self.path = Path(path)
        self.description = str(self.path)
        self._chunk_rows = chunk_rows

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = read_block_csv(self.path, self._chunk_rows)
        return self._frame

"""Block-row CSV files: round trips in chunks, line-precise refusals, and the CSV block source."""

import hashlib

import pandas as pd
import pytest

from indices.blocks import BLOCK_COLUMNS, Block, empty_block_frame
from indices.sources.base import BlockNotFound, BlockSource
from indices.sources.csv_import import CsvBlockSource, iter_block_csv, read_block_csv, write_block_csv

HEADER = ",".join(BLOCK_COLUMNS)


def small_chain(count=10, start=0):
    rows, prev = [], "0" * 64
    for height in range(start, start + count):
        block_hash = hashlib.sha256(str(height).encode()).hexdigest()
        rows.append({"height": height, "hash": block_hash, "prev_hash": prev, "time": 1_700_000_000 + 600 * height,
                     "bits": 0x17034219, "subsidy_sats": 312_500_000, "total_fees_sats": 1_000 * height,
                     "tx_count": 1 + height})
        prev = block_hash
    return pd.DataFrame(rows, columns=list(BLOCK_COLUMNS))


def csv_lines(tmp_path, frame=None):
    path = tmp_path / "blocks.csv"
    write_block_csv(small_chain() if frame is None else frame, path)
    return path, path.read_text().splitlines()


def rewrite(path, lines):
    path.write_text("\n".join(lines) + "\n")


def refusal(path, chunk_rows=4):
    with pytest.raises(ValueError) as caught:
        list(iter_block_csv(path, chunk_rows=chunk_rows))
    return str(caught.value).removeprefix(f"{path}: ")


def test_a_written_chain_streams_back_in_chunks_of_the_requested_size(tmp_path):
    path, _ = csv_lines(tmp_path)
    chunks = list(iter_block_csv(path, chunk_rows=4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert [int(c["height"].iloc[0]) for c in chunks] == [0, 4, 8]
    whole = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(whole, small_chain(), check_dtype=False)
    assert whole.dtypes.tolist() == ["int64", object, object, "int64", "int64", "int64", "int64", "int64"]


def test_the_file_has_the_block_columns_as_header_and_plain_integers(tmp_path):
    _, lines = csv_lines(tmp_path, small_chain(2))
    assert lines[0] == HEADER
    assert lines[2].split(",")[3:] == ["1700000600", str(0x17034219), "312500000", "1000", "2"]


def test_columns_may_come_in_any_order(tmp_path):
    path = tmp_path / "shuffled.csv"
    small_chain()[list(reversed(BLOCK_COLUMNS))].to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_block_csv(path), small_chain(), check_dtype=False)


def test_a_file_may_start_above_genesis(tmp_path):
    frame = small_chain(20).iloc[5:].reset_index(drop=True)
    path, _ = csv_lines(tmp_path, frame)
    assert read_block_csv(path, chunk_rows=3)["height"].tolist() == list(range(5, 20))


def test_a_header_only_file_is_an_empty_chain(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(HEADER + "\n")
    assert list(iter_block_csv(path)) == []
    pd.testing.assert_frame_equal(read_block_csv(path), empty_block_frame())


def test_a_missing_or_unknown_column_is_refused_on_line_1(tmp_path):
    path = tmp_path / "bad.csv"
    small_chain().drop(columns=["tx_count"]).assign(fees=1).to_csv(path, index=False)
    assert refusal(path) == f"line 1: the header must name {', '.join(BLOCK_COLUMNS)} (missing tx_count; unexpected fees)"


def test_a_non_integer_value_is_refused_naming_its_line_and_column(tmp_path):
    path, lines = csv_lines(tmp_path)
    fields = lines[7].split(",")
    fields[3] = "17e8x"
    lines[7] = ",".join(fields)
    rewrite(path, lines)
    assert refusal(path) == "line 8: time is not an integer: '17e8x'"


def test_a_blank_line_is_refused_as_missing_values(tmp_path):
    path, lines = csv_lines(tmp_path)
    rewrite(path, lines[:4] + [""] + lines[4:])
    assert refusal(path) == "line 5: height is missing"


def test_a_gap_in_heights_is_refused_even_across_chunks(tmp_path):
    path, lines = csv_lines(tmp_path)
    rewrite(path, lines[:5] + lines[6:])  # drops height 4, the first row of the second chunk
    assert refusal(path) == "line 6: height 5 does not follow height 3 (heights must increase by one)"


def test_a_block_that_does_not_name_its_parent_is_refused_even_across_chunks(tmp_path):
    path, lines = csv_lines(tmp_path)
    lines[5] = lines[5].replace(small_chain()["prev_hash"][4], "f" * 64)
    rewrite(path, lines)
    assert refusal(path) == f"line 6: prev_hash '{'f' * 64}' is not the hash of height 3"


def test_a_broken_link_inside_a_chunk_is_refused(tmp_path):
    path, lines = csv_lines(tmp_path)
    lines[3] = lines[3].replace(small_chain()["prev_hash"][2], "e" * 64)
    rewrite(path, lines)
    assert refusal(path) == "line 4: prev_hash is not the hash of height 1"


@pytest.mark.parametrize("column, value, message", [
    ("hash", "ABC", "hash must be 64 lowercase hex characters, got 'ABC'"),
    ("total_fees_sats", "-1", "total_fees_sats must be at least 0, got -1"),
    ("tx_count", "0", "tx_count must be at least 1, got 0"),
    ("bits", str(0x1D80FFFF), "compact bits 0x1d80ffff encode a negative target"),
    ("bits", str(2**32), "compact bits must fit in 32 bits, got 0x100000000"),
])
def test_impossible_values_are_refused_naming_the_line(tmp_path, column, value, message):
    path, lines = csv_lines(tmp_path)
    fields = lines[10].split(",")
    fields[BLOCK_COLUMNS.index(column)] = value
    lines[10] = ",".join(fields)
    rewrite(path, lines[:11])  # the last row, so a changed hash breaks no later link
    assert refusal(path) == f"line 11: {message}"


def test_a_malformed_first_prev_hash_is_refused(tmp_path):
    path, lines = csv_lines(tmp_path)
    lines[1] = lines[1].replace("0" * 64, "xyz")
    rewrite(path, lines)
    assert refusal(path) == "line 2: prev_hash must be 64 lowercase hex characters, got 'xyz'"


def test_the_csv_source_serves_blocks_heights_and_hashes(tmp_path):
    path, _ = csv_lines(tmp_path)
    source = CsvBlockSource(path, chunk_rows=3)
    assert isinstance(source, BlockSource)
    assert source.tip_height() == 9
    assert source.block_hash(3) == small_chain()["hash"][3]
    assert source.block(2) == Block(2, small_chain()["hash"][2], small_chain()["hash"][1], 1_700_001_200,
                                    0x17034219, 312_500_000, 2_000, 3)
    assert [b.height for b in source.blocks(7, 9)] == [7, 8, 9]
    assert source.blocks(5, 4) == []


def test_the_csv_source_reports_heights_it_does_not_hold(tmp_path):
    path, _ = csv_lines(tmp_path)
    source = CsvBlockSource(path)
    with pytest.raises(BlockNotFound, match=r"holds heights 0-9, not 10") as caught:
        source.blocks(8, 10)
    assert caught.value.height == 10


def test_an_empty_csv_source_has_no_tip(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(HEADER + "\n")
    with pytest.raises(BlockNotFound, match="holds no blocks"):
        CsvBlockSource(path).tip_height()

"""Reading the epoch history CSV: the real file, and malformed files refused with the line named."""

import pandas as pd
import pytest

from indices.bme import bme
from indices.sources.csv_import import read_epoch_history, write_epoch_history

HEADER = "epoch,start_height,end_height,bits\n"
GOOD_ROWS = "0,0,2015,0x1d00ffff\n1,2016,4031,0x1d00ffff\n2,4032,5000,0x1d00d86a\n"


def write(tmp_path, text, name="epochs.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_real_history_reads_as_one_row_per_epoch_with_integer_bits(shared_data):
    path = shared_data / "btc_difficulty_epochs.csv"
    epochs = read_epoch_history(path)
    data_lines = path.read_text().splitlines()[1:]
    assert len(epochs) == len(data_lines)
    assert epochs["epoch"].tolist() == list(range(len(epochs)))
    assert list(epochs.columns) == ["epoch", "start_height", "end_height", "bits"]
    assert epochs.dtypes.tolist() == ["int64"] * 4
    assert epochs.iloc[0].tolist() == [0, 0, 2015, 0x1D00FFFF]
    for epoch, row in [(290, [290, 584640, 586655, 0x171F0D9B]), (416, [416, 838656, 840671, 0x17034219]),
                       (468, [468, 943488, 945503, 0x17020684]), (481, [481, 969696, 971711, 0x17021EF0])]:
        assert epochs[epochs["epoch"] == epoch].iloc[0].tolist() == row
    last_epoch, start, end, bits = data_lines[-1].split(",")
    assert epochs.iloc[-1].tolist() == [int(last_epoch), int(start), int(end), int(bits, 16)]


def test_integer_bits_feed_the_bme_index_like_the_hex_text_does(shared_data, real_epochs):
    epochs = read_epoch_history(shared_data / "btc_difficulty_epochs.csv")
    assert bme(epochs, 840000, 28) == bme(real_epochs, 840000, 28)


def test_a_written_history_reads_back_identically(tmp_path):
    epochs = read_epoch_history(write(tmp_path, HEADER + GOOD_ROWS))
    write_epoch_history(epochs, tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_text() == HEADER + GOOD_ROWS
    pd.testing.assert_frame_equal(read_epoch_history(tmp_path / "copy.csv"), epochs)


def test_bits_without_the_0x_prefix_and_in_upper_case_are_accepted(tmp_path):
    epochs = read_epoch_history(write(tmp_path, HEADER + "0,0,2015,1D00FFFF\n"))
    assert epochs["bits"].tolist() == [0x1D00FFFF]


@pytest.mark.parametrize("rows, message", [
    ("0,0,2015,0x1d00ffff\n1,2017,4031,0x1d00ffff\n",
     "line 3: epoch 1 must start at height 2016, not 2017"),
    ("0,0,2015,0x1d00ffff\n2,4032,6047,0x1d00ffff\n",
     "line 3: gap: epoch 2 starts at height 4032 but the previous row ends at 2015"),
    ("0,0,2015,0x1d00ffff\n0,0,2015,0x1d00ffff\n",
     "line 3: overlap: epoch 0 starts at height 0 but the previous row ends at 2015"),
    ("0,0,2015,0x1d00ffff\n1,2016,4031,0x1d00fffg\n",
     "line 3: bits must be up to 8 hex digits such as 0x1d00ffff, got '0x1d00fffg'"),
    ("0,0,2015,0x1d00ffff0\n", "line 2: bits must be up to 8 hex digits such as 0x1d00ffff, got '0x1d00ffff0'"),
    ("0,0,2015,\n", "line 2: bits must be up to 8 hex digits such as 0x1d00ffff, got ''"),
    ("0,0,2015,-0x1d00ffff\n", "line 2: bits must be up to 8 hex digits such as 0x1d00ffff, got '-0x1d00ffff'"),
    ("0,0,2015,0x1d80ffff\n", "line 2: compact bits 0x1d80ffff encode a negative target"),
    ("0,0,2015,0xff123456\n", "line 2: compact bits 0xff123456 overflow 256 bits"),
    ("0,0,2015,0x1d000000\n", "line 2: bits 0x1d000000 encode a zero target"),
    ("0,0,2015,0x1d01ffff\n", "line 2: bits 0x1d01ffff are easier than the proof-of-work limit"),
    ("0,0,2015,0x1c00ffff\n1,2016,3000,0x1c00ffff\n2,4032,6047,0x1c00ffff\n",
     "line 3: only the last row may be a partial epoch; epoch 1 ends at 3000"),
    ("0,0,2016,0x1d00ffff\n", "line 2: epoch 0 must end between heights 0 and 2015, not 2016"),
    ("x,0,2015,0x1d00ffff\n", "line 2: epoch is not an integer: 'x'"),
    ("0,0,2015\n", "line 2: expected 4 fields, got 3"),
    ("0,0,2015,0x04000100\n", "line 2: bits 0x04000100 are not canonical (a node would write 0x03010000)"),
])
def test_malformed_rows_are_refused_naming_the_line(tmp_path, rows, message):
    path = write(tmp_path, HEADER + rows)
    with pytest.raises(ValueError) as caught:
        read_epoch_history(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_a_wrong_header_is_refused_on_line_1(tmp_path):
    path = write(tmp_path, "epoch,start,end,bits\n0,0,2015,0x1d00ffff\n")
    with pytest.raises(ValueError) as caught:
        read_epoch_history(path)
    assert str(caught.value) == (f"{path}: line 1: expected the header epoch,start_height,end_height,bits, "
                                 "got epoch,start,end,bits")


@pytest.mark.parametrize("text, message", [("", "empty file"), (HEADER, "no epochs after the header")])
def test_an_empty_history_is_refused(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        read_epoch_history(path)

"""When fixings exist and which blocks they use: the daily cutoff rule, finality, confirmations,
retargets, ``since`` and ``tip_height``."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from index_builders import MIDNIGHT_2024, build_blocks
from indices.blocks import empty_block_frame
from indices.compute import value_at
from indices.fixings import compute_fixings

MINUTE = 60
JAN_2 = MIDNIGHT_2024 + 86_400
JAN_2_UTC = datetime(2024, 1, 2, tzinfo=timezone.utc)


def _daily(fixings, index="DIFF"):
    return [f for f in fixings if f.kind == "daily" and f.index == index]


def _chain_with_a_block_stamped_back_across_midnight(extra_after: int = 6):
    """Jan 1 22:00, 23:00, then 00:10 on Jan 2, then 23:55 Jan 1 (stamped back across midnight:
    allowed, it is after the median of the blocks before it), then blocks from 00:20 on Jan 2."""
    minutes = [-120, -60, 10, -5, *(20 + 10 * i for i in range(extra_after))]
    return build_blocks(len(minutes), times=[JAN_2 + m * MINUTE for m in minutes])


def test_the_daily_cut_is_the_highest_block_stamped_before_midnight():
    chain = _chain_with_a_block_stamped_back_across_midnight()
    (fixing,) = _daily(compute_fixings(chain, None, names=["DIFF"]))
    assert fixing.as_of == JAN_2_UTC
    # Block 2 (00:10) stays with Jan 1 because block 3 after it is stamped 23:55.
    assert (fixing.start_height, fixing.end_height) == (3, 3)


def test_a_daily_fixing_waits_until_six_blocks_after_the_cut_make_it_final():
    # With five blocks after the cut, a sixth could still be stamped before midnight (the
    # median of the last 11 is before it), so the cut is not final whatever the confirmations.
    five_after = _chain_with_a_block_stamped_back_across_midnight(extra_after=5)
    assert _daily(compute_fixings(five_after, None, names=["DIFF"], confirmations=1)) == []
    six_after = _chain_with_a_block_stamped_back_across_midnight(extra_after=6)
    assert len(_daily(compute_fixings(six_after, None, names=["DIFF"], confirmations=1))) == 1


def test_a_block_stamped_before_midnight_after_five_later_ones_moves_an_unfinal_cut():
    minutes = [-60, -50, -40, -30, -20, -10, 5, 6, 7, 8, 9, -1, *range(10, 16)]
    chain = build_blocks(len(minutes), times=[JAN_2 + m * MINUTE for m in minutes])
    early = compute_fixings(chain, None, names=["DIFF"], tip_height=10, confirmations=1)
    assert _daily(early) == []  # cut at 5 has five blocks after it: not final
    (fixing,) = _daily(compute_fixings(chain, None, names=["DIFF"], confirmations=1))
    assert fixing.end_height == 11  # block 11 is stamped 23:59


@pytest.mark.parametrize("confirmations, tip, published", [(6, 9, True), (7, 9, True), (8, 9, False),
                                                            (8, 10, True), (10, 11, False), (10, 12, True)])
def test_a_daily_fixing_also_needs_its_last_block_confirmed(confirmations, tip, published):
    chain = _chain_with_a_block_stamped_back_across_midnight(extra_after=9)
    fixings = compute_fixings(chain, None, names=["DIFF"], confirmations=confirmations, tip_height=tip)
    assert bool(_daily(fixings)) is published
    assert all(f.confirmations == confirmations for f in fixings)


def test_retarget_fixings_are_as_of_the_first_block_of_the_epoch_once_it_is_confirmed():
    chain = build_blocks(300, start_height=1800, bits=lambda h: 0x1D00FFFF if h < 2016 else 0x1C00FFFF)
    assert [f for f in compute_fixings(chain, None, tip_height=2020) if f.kind == "retarget"] == []
    retarget = [f for f in compute_fixings(chain, None, tip_height=2021) if f.kind == "retarget"]
    # The frame starts at 1800: HASHRATE_432 and up and BME28 and up reach before it.
    assert {f.index for f in retarget} == {"DIFF", "HASHRATE_144", "BME14", "HASHPRICE"}
    time_of_2016 = int(chain.loc[chain["height"] == 2016, "time"].iloc[0])
    for fixing in retarget:
        assert fixing.as_of == datetime.fromtimestamp(time_of_2016, tz=timezone.utc)
        assert fixing.end_height == 2016
        assert fixing.value == value_at(chain, None, fixing.index, 2016)
    assert [f.value for f in retarget if f.index == "DIFF"] == [value_at(chain, None, "DIFF", 2016)]


def test_mri_publishes_daily_fixings_only():
    chain = build_blocks(3000, start_height=1, interval_seconds=300)
    fixings = compute_fixings(chain, None, names=["MRI1", "DIFF"])
    assert {f.kind for f in fixings if f.index == "MRI1"} == {"daily"}
    assert {f.kind for f in fixings if f.index == "DIFF"} == {"daily", "retarget"}


def test_daily_fixings_equal_the_value_at_their_cut_height():
    chain = build_blocks(2000, interval_seconds=[300 + (h * 37) % 600 for h in range(1, 2000)],
                         fees_sats=lambda h: (h * 7919) % 100_000)
    fixings = [f for f in compute_fixings(chain, None) if not f.index.startswith("MRI")]
    assert len(fixings) > 20
    for fixing in fixings:
        assert fixing.value == value_at(chain, None, fixing.index, fixing.end_height)
        assert fixing.value.as_tuple().exponent == -{"DIFF": 8, "HASHPRICE": 6}.get(fixing.index, 18)


def test_since_keeps_fixings_as_of_that_time_or_later():
    chain = build_blocks(1500, interval_seconds=600)
    every = compute_fixings(chain, None, names=["DIFF"])
    since = datetime(2024, 1, 5, tzinfo=timezone.utc)
    assert compute_fixings(chain, None, names=["DIFF"], since=since) == [f for f in every if f.as_of >= since]
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_fixings(chain, None, since=datetime(2024, 1, 5))


def test_tip_height_computes_as_of_an_earlier_tip_and_refuses_a_later_one():
    chain = build_blocks(1500, interval_seconds=600)
    assert compute_fixings(chain, None, tip_height=1000) == compute_fixings(chain.iloc[:1001], None)
    with pytest.raises(ValueError, match="past the blocks given"):
        compute_fixings(chain, None, tip_height=1500)


def test_fixings_come_out_in_as_of_then_kind_then_name_order():
    chain = build_blocks(2600, interval_seconds=500)
    fixings = compute_fixings(chain, None, names=["HASHPRICE", "DIFF"])
    keys = [(f.as_of, f.kind, ["HASHPRICE", "DIFF"].index(f.index)) for f in fixings]
    assert keys == sorted(keys)


def test_confirmations_must_be_a_positive_int():
    chain = build_blocks(10)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="confirmations"):
            compute_fixings(chain, None, confirmations=bad)


def test_no_data_gives_no_fixings():
    assert compute_fixings(None, None) == []
    assert compute_fixings(empty_block_frame(), None) == []


def test_the_epoch_history_gives_diff_and_bme_retarget_fixings_when_it_has_epoch_times():
    epochs = pd.DataFrame({"epoch": [0, 1, 2], "start_height": [0, 2016, 4032],
                           "end_height": [2015, 4031, 4100], "bits": ["0x1d00ffff", "0x1c00ffff", "0x1c00ffff"]})
    assert compute_fixings(None, epochs) == []  # no times: nothing has an as-of time
    epochs["start_time"] = [MIDNIGHT_2024, MIDNIGHT_2024 + 14 * 86_400, MIDNIGHT_2024 + 28 * 86_400]
    fixings = compute_fixings(None, epochs)
    assert [(f.index, f.as_of.day, f.end_height) for f in fixings] == [
        ("DIFF", 15, 2016), ("BME14", 15, 2016), ("BME28", 15, 2016),
        ("DIFF", 29, 4032), ("BME14", 29, 4032), ("BME28", 29, 4032)]
    assert {f.value for f in fixings if f.index == "DIFF"} == {value_at(None, epochs, "DIFF", 2016)}
    bme28 = [f for f in fixings if f.index == "BME28"][0]
    assert bme28.value == value_at(None, epochs, "BME28", 2016) and bme28.start_height == 0


def test_fixings_from_a_frame_starting_mid_chain_leave_out_what_reaches_before_it():
    chain = build_blocks(3000, interval_seconds=600, fees_sats=lambda h: h)
    tail = chain.iloc[1000:].reset_index(drop=True)
    fixings = compute_fixings(tail, None)
    assert fixings and min(f.start_height for f in fixings) >= 1000
    whole = {f.identity: f for f in compute_fixings(chain, None)}
    assert all(whole[f.identity] == f for f in fixings)
    assert np.all([f.index != "HASHRATE_4320" for f in fixings])

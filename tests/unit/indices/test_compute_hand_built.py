"""Index values on small hand-built chains, checked against values worked out by hand.

Numbers used throughout:
  bits 0x1b00ffff: target 0xffff << 192, difficulty exactly 65536,
                   work per block 2**256 // (target + 1) = 281_479_271_743_489 (0x1000100010001)
  bits 0x1c00ffff: difficulty exactly 256;  bits 0x1d00ffff: difficulty 1
  subsidy below height 210,000: 5_000_000_000 sats
"""

from decimal import Decimal

import numpy as np
import pytest

from index_builders import DAY, MIDNIGHT_2024, build_blocks
from indices.compute import index_series, value_at, values_at

D65536_BITS = 0x1B00FFFF
WORK_AT_D65536 = 281_479_271_743_489
HOUR = 3_600


@pytest.fixture(scope="module")
def steady_chain():
    """150 blocks at difficulty 65536, exactly 600 s apart, 1,000 sats of fees each."""
    return build_blocks(150, bits=D65536_BITS, fees_sats=1_000)


def test_diff_is_the_exact_difficulty_of_the_block_bits(steady_chain):
    assert value_at(steady_chain, None, "DIFF", 0) == Decimal("65536.00000000")
    assert index_series(steady_chain, None, "DIFF").eq(65536.0).all()


def test_diff_rounds_a_non_terminating_ratio_half_even_to_eight_places():
    # target(0x1d00ffff) / target(0x1c7fffff) = (0xffff << 208) / (0x7fffff << 200)
    #   = 0xffff * 256 / 0x7fffff = 16776960 / 8388607 = 2 - 254 / 8388607 = 1.999969720...
    chain = build_blocks(1, bits=0x1C7FFFFF)
    assert value_at(chain, None, "DIFF", 0) == Decimal("1.99996972")


def test_hashrate_is_window_work_over_the_time_of_its_intervals(steady_chain):
    # 144 blocks of work over time[149] - time[5] = 144 * 600 s:
    #   144 * 281479271743489 / 86400 = 469132119572.4816... H/s -> 469132119572 H/s
    assert value_at(steady_chain, None, "HASHRATE_144", 149) == Decimal("0.000000469132119572")
    series = index_series(steady_chain, None, "HASHRATE_144")
    assert series.loc[149] == pytest.approx(WORK_AT_D65536 / 600 / 1e18, rel=1e-15)


def test_hashrate_needs_w_plus_one_timestamps(steady_chain):
    series = index_series(steady_chain, None, "HASHRATE_144")
    assert series.loc[:143].isna().all() and series.loc[144:].notna().all()
    with pytest.raises(ValueError, match="HASHRATE_144 is undefined at height 143"):
        value_at(steady_chain, None, "HASHRATE_144", 143)


def test_hashrate_is_undefined_when_header_times_run_backwards_over_the_window():
    times = MIDNIGHT_2024 + 600 * np.arange(150)
    times[149] = times[5]  # span 0
    times[148] = times[4] - 1  # span negative
    chain = build_blocks(150, times=times, bits=D65536_BITS)
    series = index_series(chain, None, "HASHRATE_144")
    assert np.isnan(series.loc[148]) and np.isnan(series.loc[149]) and series.loc[147] > 0
    with pytest.raises(ValueError, match="positive time span"):
        value_at(chain, None, "HASHRATE_144", 149)


def test_hashprice_is_a_day_of_subsidy_and_mean_fees_over_the_difficulty_hashrate(steady_chain):
    # (144 * 5e9 + 144 * 1000) sats a day / (65536 * 2**32 / 600 / 1e15 PH/s)
    #   = 720000144000 * 6e17 / 2**48 = 1534772616196278.249844908... sats/PH/day
    assert value_at(steady_chain, None, "HASHPRICE", 149) == Decimal("1534772616196278.249845")
    series = index_series(steady_chain, None, "HASHPRICE")
    assert series.loc[149] == pytest.approx(1534772616196278.25, rel=1e-15)
    assert series.loc[:142].isna().all() and series.loc[143:].notna().all()


def test_hashprice_takes_the_scheduled_subsidy_at_the_halving():
    chain = build_blocks(400, start_height=209_800, bits=D65536_BITS)
    before, after = value_at(chain, None, "HASHPRICE", 209_999), value_at(chain, None, "HASHPRICE", 210_000)
    assert after * 2 == pytest.approx(before, rel=Decimal("1e-12"))


def test_bme_averages_k_over_d_across_the_last_epochs():
    # K = 1e12 * 600 * 50 * 144 / 2**32 = 1005828380.584716796875 BTC/TH/day at difficulty 1.
    bits = lambda h: 0x1D00FFFF if h < 2016 else 0x1C00FFFF  # noqa: E731  epoch 1 at D = 256
    chain = build_blocks(2100, bits=bits)
    assert value_at(chain, None, "BME14", 2015) == Decimal("1005828380.584716796875000000")
    assert value_at(chain, None, "BME14", 2016) == Decimal("3929017.111659049987792969")  # K / 256
    assert value_at(chain, None, "BME28", 2016) == Decimal("504878698.848187923431396484")  # mean
    with pytest.raises(ValueError, match="BME28 is undefined at height 2015"):
        value_at(chain, None, "BME28", 2015)


def _three_day_chain():
    """Dec 31 22:00, then Jan 1 (4 blocks, no fees), Jan 2 (2 blocks, 1e9 fees each),
    Jan 3 (3 blocks, 2.5e8 fees each), Jan 4 (6 blocks, which make the Jan 4 cut final)."""
    hours = [-2, 1, 7, 13, 19, 24 + 6, 24 + 18, 48 + 4, 48 + 12, 48 + 20, *range(72 + 1, 72 + 7)]
    fees = [0, 0, 0, 0, 0, 10**9, 10**9, *[250_000_000] * 3, *[0] * 6]
    return build_blocks(len(hours), times=[MIDNIGHT_2024 + h * HOUR for h in hours],
                        bits=D65536_BITS, fees_sats=fees)


# r_d = (5e9 + fee per block) * 86400 * 1e15 / 281479271743489 sats per PH/s per day
R_JAN_1 = Decimal("1534748890474890.714669")
R_JAN_2 = Decimal("1841698668569868.857603")
R_JAN_3 = Decimal("1611486334998635.250403")


def test_mri_is_the_mean_daily_revenue_over_realized_hashrate_of_complete_days():
    chain = _three_day_chain()
    tip = int(chain["height"].iloc[-1])
    assert value_at(chain, None, "MRI1", tip) == R_JAN_3
    assert value_at(chain, None, "MRI2", tip) == Decimal("1726592501784252.054003")  # (r2 + r3) / 2
    assert value_at(chain, None, "MRI3", tip) == Decimal("1662644631347798.274225")  # (r1+r2+r3)/3
    with pytest.raises(ValueError, match="N complete UTC days"):
        value_at(chain, None, "MRI4", tip)


def test_mri_at_a_height_uses_the_latest_midnight_its_last_six_blocks_are_all_after():
    chain = _three_day_chain()
    # At height 14 the six blocks 9..14 include Jan 3's last block: Jan 4 is not final yet.
    assert value_at(chain, None, "MRI1", 14) == R_JAN_2
    assert value_at(chain, None, "MRI2", 14) == Decimal("1688223779522379.786136")  # (r1 + r2) / 2
    series = index_series(chain, None, "MRI1")
    assert series.loc[14] == pytest.approx(float(R_JAN_2), rel=1e-15)
    assert series.loc[15] == pytest.approx(float(R_JAN_3), rel=1e-15)


def test_the_mri_series_stays_a_function_of_blocks_up_to_each_height_on_an_invalid_chain():
    # A last block stamped on Jan 3 after six blocks of Jan 4 breaks the median-time-past rule
    # and moves the Jan 4 cut; values before it must not see it.
    chain = _three_day_chain()
    times = [*chain["time"], MIDNIGHT_2024 + (48 + 21) * HOUR]
    broken = build_blocks(len(times), times=times, bits=D65536_BITS, fees_sats=[*chain["total_fees_sats"], 0])
    series = index_series(broken, None, "MRI1")
    assert series.loc[15] == pytest.approx(float(R_JAN_3), rel=1e-15)
    assert value_at(broken, None, "MRI1", 15) == R_JAN_3
    # At 16 the last six blocks reach back to Jan 3 21:00: the value is as of Jan 3 (Jan 2's).
    assert value_at(broken, None, "MRI1", 16) == R_JAN_2
    assert series.loc[16] == pytest.approx(float(R_JAN_2), rel=1e-15)


def test_values_at_reports_undefined_indices_as_none(steady_chain):
    found = values_at(steady_chain, None, ["DIFF", "HASHRATE_4320", "bme14"], 149)
    assert found == {"DIFF": Decimal("65536.00000000"), "HASHRATE_4320": None,
                     "BME14": value_at(steady_chain, None, "BME14", 149)}


def test_value_at_accepts_the_blocks_only_shorthand(steady_chain):
    assert value_at(steady_chain, "HASHPRICE", 149) == value_at(steady_chain, None, "HASHPRICE", 149)
    assert index_series(steady_chain, "DIFF").equals(index_series(steady_chain, None, "DIFF"))


def test_value_at_refuses_heights_outside_the_data(steady_chain):
    with pytest.raises(ValueError, match="no blocks data covers it"):
        value_at(steady_chain, None, "HASHPRICE", 150)


def test_value_at_from_the_tail_equals_value_at_from_the_whole_chain():
    chain = build_blocks(5000, bits=D65536_BITS, fees_sats=lambda h: h % 977,
                         interval_seconds=[600 + (h % 7) * 10 for h in range(1, 5000)])
    for name in ["HASHRATE_4320", "HASHPRICE", "MRI7", "BME14"]:
        whole = value_at(chain, None, name, 4999)
        tail = value_at(chain.iloc[4999 - 4400:].reset_index(drop=True), None, name, 4999)
        assert whole == tail, name


def test_value_at_and_the_float_series_agree_everywhere_they_are_defined():
    chain = build_blocks(1500, bits=lambda h: 0x1D00FFFF if h < 1008 else 0x1C00FFFF,
                         fees_sats=lambda h: 1_000 * (h % 13), start_height=1008,
                         interval_seconds=[900 - (h % 5) * 100 for h in range(1, 1500)])
    for name in ["DIFF", "HASHRATE_432", "HASHPRICE", "BME14", "MRI2"]:
        series = index_series(chain, None, name)
        for height in range(1008, 2508, 37):
            if np.isnan(series.loc[height]):
                with pytest.raises(ValueError):
                    value_at(chain, None, name, height)
            else:
                exact = value_at(chain, None, name, height)
                assert series.loc[height] == pytest.approx(float(exact), rel=1e-12), (name, height)


def test_every_day_stays_with_blocks_from_its_cut_even_across_a_silent_day():
    # No block at all on Jan 2: MRI windows that include that day are undefined.
    hours = [-1, 3, 5, 48 + 2, 48 + 3, *range(72, 72 + 7)]
    chain = build_blocks(len(hours), times=[MIDNIGHT_2024 + h * HOUR for h in hours], bits=D65536_BITS)
    tip = int(chain["height"].iloc[-1])
    assert value_at(chain, None, "MRI1", tip) > 0  # Jan 3 alone
    with pytest.raises(ValueError):
        value_at(chain, None, "MRI2", tip)  # Jan 2 + Jan 3: Jan 2 has no blocks
    assert DAY == 86_400

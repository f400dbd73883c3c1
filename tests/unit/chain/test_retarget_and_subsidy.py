"""Retarget rule, subsidy schedule and epoch arithmetic against Bitcoin Core and mainnet history."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indices import block_subsidy_sats, expected_hashrate_hs, next_work_required
from indices.chain import (
    POW_LIMIT,
    TARGET_TIMESPAN_SECONDS,
    bits_to_target,
    blocks_until_retarget,
    epoch_end_height,
    epoch_of,
    epoch_start_height,
    is_retarget_height,
    target_to_bits,
)

# Bitcoin Core src/test/pow_tests.cpp: (last bits, first block time, last block time, new bits).
CORE_RETARGET_VECTORS = [
    pytest.param(0x1D00FFFF, 1261130161, 1262152739, 0x1D00D86A, id="get_next_work"),
    pytest.param(0x1D00FFFF, 1231006505, 1233061996, 0x1D00FFFF, id="pow_limit"),
    pytest.param(0x1C05A3F4, 1279008237, 1279297671, 0x1C0168FD, id="lower_limit_actual"),
    pytest.param(0x1C387F6F, 1263163443, 1269211443, 0x1D00E1FD, id="upper_limit_actual"),
]


@pytest.mark.parametrize("last_bits, first_time, last_time, expected", CORE_RETARGET_VECTORS)
def test_retarget_matches_bitcoin_core(last_bits, first_time, last_time, expected):
    assert next_work_required(last_bits, first_time, last_time) == expected


def test_a_fast_epoch_is_clamped_to_a_quarter_of_two_weeks():
    assert next_work_required(0x1B0404CB, 0, 1) == target_to_bits(
        bits_to_target(0x1B0404CB) * (TARGET_TIMESPAN_SECONDS // 4) // TARGET_TIMESPAN_SECONDS
    )


def test_a_slow_epoch_is_clamped_to_four_times_two_weeks_and_the_pow_limit():
    assert next_work_required(0x1B0404CB, 0, 10**9) == target_to_bits(bits_to_target(0x1B0404CB) * 4)
    assert next_work_required(0x1D00FFFF, 0, 10**9) == target_to_bits(POW_LIMIT)


@given(
    bits_target=st.integers(min_value=1 << 160, max_value=POW_LIMIT),
    timespan=st.integers(min_value=-(10**7), max_value=10**8),
)
def test_retarget_stays_inside_the_four_times_clamp(bits_target, timespan):
    last_bits = target_to_bits(bits_target)
    old = bits_to_target(last_bits)
    new = bits_to_target(next_work_required(last_bits, 1_000_000, 1_000_000 + timespan))
    assert bits_to_target(target_to_bits(old // 4)) <= new <= min(old * 4, POW_LIMIT)


def test_every_mainnet_epoch_transition_respects_the_clamp(real_epochs):
    targets = [bits_to_target(int(b, 16)) for b in real_epochs["bits"]]
    for previous, current in zip(targets, targets[1:]):
        assert bits_to_target(target_to_bits(previous // 4)) <= current <= min(previous * 4, POW_LIMIT)


def test_every_mainnet_epoch_uses_canonical_bits(real_epochs):
    for bits_hex in real_epochs["bits"]:
        bits = int(bits_hex, 16)
        assert target_to_bits(bits_to_target(bits)) == bits


def test_every_mainnet_epoch_row_covers_its_2016_blocks(real_epochs):
    assert real_epochs["epoch"].tolist() == list(range(len(real_epochs)))  # from genesis, no gaps
    assert (real_epochs["start_height"] == real_epochs["epoch"] * 2016).all()
    complete = real_epochs.iloc[:-1]
    assert (complete["end_height"] - complete["start_height"] == 2015).all()
    last = real_epochs.iloc[-1]  # only the last row may stop inside its epoch
    assert 0 <= int(last["end_height"]) - int(last["start_height"]) <= 2015


def test_subsidy_halves_every_210000_blocks():
    assert block_subsidy_sats(0) == 5_000_000_000
    assert block_subsidy_sats(209_999) == 5_000_000_000
    assert block_subsidy_sats(210_000) == 2_500_000_000
    assert block_subsidy_sats(630_000) == 625_000_000
    assert block_subsidy_sats(839_999) == 625_000_000
    assert block_subsidy_sats(840_000) == 312_500_000
    assert block_subsidy_sats(64 * 210_000) == 0


def test_all_subsidies_add_up_to_the_known_supply_cap():
    total = sum(210_000 * block_subsidy_sats(h * 210_000) for h in range(70))
    assert total == 2_099_999_997_690_000


def test_subsidy_rejects_negative_heights_and_non_integers():
    with pytest.raises(ValueError, match="non-negative"):
        block_subsidy_sats(-1)
    with pytest.raises(TypeError):
        block_subsidy_sats(1.5)


def test_epoch_arithmetic():
    assert epoch_of(0) == 0 and epoch_of(2015) == 0 and epoch_of(2016) == 1
    assert epoch_start_height(416) == 838_656 and epoch_end_height(416) == 840_671
    assert is_retarget_height(2016) and not is_retarget_height(0) and not is_retarget_height(2017)
    assert blocks_until_retarget(838_656) == 2016 and blocks_until_retarget(840_671) == 1


def test_expected_hashrate_from_difficulty():
    assert expected_hashrate_hs(1) == pytest.approx(2**32 / 600)
    assert expected_hashrate_hs(86_388_558_925_171.02) == pytest.approx(6.184e20, rel=1e-3)


def test_data_readme_sanity_facts_hold(real_epochs):
    from indices import bits_to_difficulty
    from indices.chain import difficulty_fraction

    row_290 = real_epochs[real_epochs["epoch"] == 290].iloc[0]
    assert row_290["bits"] == "0x171f0d9b"
    assert bits_to_difficulty(int(row_290["bits"], 16)) == pytest.approx(9.064e12, rel=1e-3)
    row_416 = real_epochs[real_epochs["epoch"] == 416].iloc[0]
    assert (int(row_416["start_height"]), row_416["bits"]) == (838_656, "0x17034219")
    assert bits_to_difficulty(int(row_416["bits"], 16)) == pytest.approx(8.639e13, rel=1e-3)
    row_468 = real_epochs[real_epochs["epoch"] == 468].iloc[0]
    assert row_468[["start_height", "end_height", "bits"]].tolist() == [943_488, 945_503, "0x17020684"]
    exact = difficulty_fraction(int(row_468["bits"], 16))
    assert round(Decimal(exact.numerator) / Decimal(exact.denominator), 1) == Decimal("138966872071213.2")
    row_481 = real_epochs[real_epochs["epoch"] == 481].iloc[0]
    assert row_481[["start_height", "end_height", "bits"]].tolist() == [969_696, 971_711, "0x17021ef0"]

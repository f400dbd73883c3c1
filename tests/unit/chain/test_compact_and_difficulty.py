"""Compact bits, targets and difficulty, checked against Bitcoin Core's own test vectors."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indices import bits_to_difficulty, bits_to_target, block_work, target_to_bits
from indices.chain import DIFFICULTY_1_TARGET, POW_LIMIT, difficulty_fraction, parse_bits

# Bitcoin Core src/test/arith_uint256_tests.cpp (bignum_SetCompact): bits -> target -> bits.
CORE_COMPACT_VECTORS = [
    (0x00000000, 0, 0x00000000),
    (0x00123456, 0, 0x00000000),
    (0x01003456, 0, 0x00000000),
    (0x02000056, 0, 0x00000000),
    (0x03000000, 0, 0x00000000),
    (0x04000000, 0, 0x00000000),
    (0x00923456, 0, 0x00000000),
    (0x01803456, 0, 0x00000000),
    (0x02800056, 0, 0x00000000),
    (0x03800000, 0, 0x00000000),
    (0x04800000, 0, 0x00000000),
    (0x01123456, 0x12, 0x01120000),
    (0x02123456, 0x1234, 0x02123400),
    (0x03123456, 0x123456, 0x03123456),
    (0x04123456, 0x12345600, 0x04123456),
    (0x05009234, 0x92340000, 0x05009234),
    (0x20123456, 0x123456 << (8 * 29), 0x20123456),
]


@pytest.mark.parametrize("bits, target, canonical_bits", CORE_COMPACT_VECTORS)
def test_compact_bits_decode_and_re_encode_like_bitcoin_core(bits, target, canonical_bits):
    assert bits_to_target(bits) == target
    assert target_to_bits(target) == canonical_bits


def test_encoding_never_sets_the_sign_bit():
    # Core: "Make sure that we don't generate compacts with the 0x00800000 bit set".
    assert target_to_bits(0x80) == 0x02008000


@pytest.mark.parametrize("bits", [0x01FEDCBA, 0x04923456, 0x1D80FFFF])
def test_negative_compact_encodings_are_rejected(bits):
    with pytest.raises(ValueError, match="negative"):
        bits_to_target(bits)


@pytest.mark.parametrize("bits", [0xFF123456, 0x23000001, 0x22000100, 0x21010000])
def test_overflowing_compact_encodings_are_rejected(bits):
    with pytest.raises(ValueError, match="overflow"):
        bits_to_target(bits)


@pytest.mark.parametrize("bits", [-1, 1 << 32])
def test_bits_outside_32_bits_are_rejected(bits):
    with pytest.raises(ValueError, match="32 bits"):
        bits_to_target(bits)


def test_targets_outside_256_bits_are_rejected():
    with pytest.raises(ValueError, match="2\\*\\*256"):
        target_to_bits(1 << 256)
    with pytest.raises(ValueError):
        target_to_bits(-1)


def test_difficulty_one_is_the_genesis_target():
    assert bits_to_difficulty(0x1D00FFFF) == 1.0
    assert DIFFICULTY_1_TARGET == 0xFFFF << 208


def test_difficulty_is_the_exact_ratio_of_targets():
    assert difficulty_fraction(0x1B0404CB) == Fraction(0xFFFF << 208, 0x0404CB << 192)
    # The value Bitcoin Core's getdifficulty prints for bits 1b0404cb.
    assert bits_to_difficulty(0x1B0404CB) == pytest.approx(16307.420938523983, rel=1e-15)


def test_zero_target_has_no_difficulty():
    with pytest.raises(ValueError, match="zero target"):
        bits_to_difficulty(0x03000000)


def test_block_work_follows_get_block_proof():
    assert block_work(0x1D00FFFF) == (1 << 256) // (DIFFICULTY_1_TARGET + 1)
    assert block_work(0x1D00FFFF) == 0x100010001  # Core's chainwork per difficulty-1 block


def test_parse_bits_accepts_hex_text_and_ints():
    assert parse_bits("0x1d00ffff") == parse_bits("1D00FFFF") == parse_bits(0x1D00FFFF)
    with pytest.raises(ValueError, match="hexadecimal"):
        parse_bits("0xzz")


@given(st.integers(min_value=0, max_value=(1 << 256) - 1))
def test_encoding_a_target_keeps_its_leading_bytes_and_never_rounds_up(target):
    decoded = bits_to_target(target_to_bits(target))
    assert decoded <= target
    size = (target.bit_length() + 7) // 8
    # Three bytes of mantissa survive, or two when the top byte would set the sign bit and the
    # encoder shifts one more byte out.
    if size <= 2:
        assert decoded == target
    else:
        assert target - decoded < 1 << (8 * (size - 2))
        if target.to_bytes(32, "big").lstrip(b"\0")[0] < 0x80:
            assert target - decoded < 1 << (8 * max(0, size - 3))


@given(st.integers(min_value=0, max_value=(1 << 256) - 1))
def test_canonical_bits_round_trip_exactly(target):
    bits = target_to_bits(target)
    assert target_to_bits(bits_to_target(bits)) == bits


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_every_decodable_bits_value_normalises_to_the_same_target(bits):
    try:
        target = bits_to_target(bits)
    except ValueError:
        return
    assert bits_to_target(target_to_bits(target)) == target


@given(st.integers(min_value=1, max_value=POW_LIMIT))
def test_difficulty_is_inverse_to_target(target):
    bits = target_to_bits(target)
    harder = target_to_bits(max(1, bits_to_target(bits) // 2))
    if bits_to_target(harder) > 0:
        assert difficulty_fraction(harder) >= difficulty_fraction(bits)

"""Bitcoin mainnet consensus arithmetic, following Bitcoin Core.

Sources mirrored here (Bitcoin Core, src/):
  arith_uint256.cpp  SetCompact / GetCompact       -> bits_to_target / target_to_bits
  pow.cpp            CalculateNextWorkRequired     -> next_work_required
  validation.cpp     GetBlockSubsidy               -> block_subsidy_sats
  chain.cpp          GetBlockProof                 -> block_work
  rpc/blockchain.cpp GetDifficulty                 -> bits_to_difficulty (exact, not Core's loop)

Everything is integer arithmetic on Python ints; difficulty is also offered as an exact Fraction
so that indices that move money never pass through a float.
"""

from __future__ import annotations

from fractions import Fraction

COIN_SATS = 100_000_000
BLOCK_INTERVAL_SECONDS = 600  # nPowTargetSpacing
RETARGET_INTERVAL_BLOCKS = 2016  # DifficultyAdjustmentInterval()
TARGET_TIMESPAN_SECONDS = 14 * 24 * 60 * 60  # nPowTargetTimespan, two weeks
HALVING_INTERVAL_BLOCKS = 210_000  # nSubsidyHalvingInterval
INITIAL_SUBSIDY_SATS = 50 * COIN_SATS
POW_LIMIT = (1 << 224) - 1  # uint256S("00000000ffff...ff")
DIFFICULTY_1_BITS = 0x1D00FFFF  # the "pdiff-1" target
HASHES_PER_DIFFICULTY = 1 << 32  # expected hashes per block at difficulty 1

_COMPACT_SIGN_BIT = 0x00800000
_COMPACT_MANTISSA_MASK = 0x007FFFFF


def _check_compact(bits: int) -> None:
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise TypeError(f"compact bits must be an int, got {type(bits).__name__}")
    if not 0 <= bits <= 0xFFFFFFFF:
        raise ValueError(f"compact bits must fit in 32 bits, got {bits:#x}")


def bits_to_target(bits: int) -> int:
    """Decode compact ``nBits`` to the 256-bit target, as ``SetCompact`` does.

    Raises ValueError for the encodings Bitcoin Core flags as negative or overflowing, which no
    valid block header may carry.
    """
    _check_compact(bits)
    size = bits >> 24
    word = bits & _COMPACT_MANTISSA_MASK
    if size <= 3:
        # Core shifts the word itself here, so the sign and overflow tests below see the
        # shifted word: 0x01803456 is zero, not negative.
        word >>= 8 * (3 - size)
        target = word
    else:
        target = word << (8 * (size - 3))
    if word != 0 and bits & _COMPACT_SIGN_BIT:
        raise ValueError(f"compact bits {bits:#010x} encode a negative target")
    if word != 0 and (size > 34 or (word > 0xFF and size > 33) or (word > 0xFFFF and size > 32)):
        raise ValueError(f"compact bits {bits:#010x} overflow 256 bits")
    return target


def target_to_bits(target: int) -> int:
    """Encode a non-negative 256-bit target as compact ``nBits``, as ``GetCompact`` does.

    The mantissa is truncated (not rounded) to three bytes, exactly like Bitcoin Core.
    """
    if not isinstance(target, int) or isinstance(target, bool):
        raise TypeError(f"target must be an int, got {type(target).__name__}")
    if not 0 <= target < (1 << 256):
        raise ValueError("target must be between 0 and 2**256 - 1")
    size = (target.bit_length() + 7) // 8
    if size <= 3:
        compact = target << (8 * (3 - size))
    else:
        compact = target >> (8 * (size - 3))
    # The 0x00800000 bit is the sign: if the mantissa would set it, shift one more byte.
    if compact & _COMPACT_SIGN_BIT:
        compact >>= 8
        size += 1
    return compact | (size << 24)


DIFFICULTY_1_TARGET = bits_to_target(DIFFICULTY_1_BITS)


def difficulty_fraction(bits: int) -> Fraction:
    """Exact difficulty: target(0x1d00ffff) / target(bits)."""
    target = bits_to_target(bits)
    if target == 0:
        raise ValueError(f"compact bits {bits:#010x} encode a zero target: difficulty undefined")
    return Fraction(DIFFICULTY_1_TARGET, target)


def bits_to_difficulty(bits: int) -> float:
    """Difficulty of ``bits`` as the correctly rounded float of the exact ratio.

    Bitcoin Core's ``GetDifficulty`` reaches the same value by repeated multiplication in doubles
    and can differ from it in the last bit; the exact ratio is the reference here.
    """
    return float(difficulty_fraction(bits))


def block_work(bits: int) -> int:
    """Expected hashes to find a block at ``bits``: 2**256 // (target + 1) (``GetBlockProof``)."""
    target = bits_to_target(bits)
    if target == 0:
        return 0
    return (1 << 256) // (target + 1)


def next_work_required(last_bits: int, first_block_time: int, last_block_time: int) -> int:
    """New compact bits for the epoch after the block carrying ``last_bits`` at ``last_block_time``.

    ``first_block_time`` is the time of the first block of the closing epoch, so the timespan
    covers 2015 intervals: Bitcoin's historical off-by-one, kept because consensus keeps it.
    Times are Unix seconds.
    """
    actual_timespan = int(last_block_time) - int(first_block_time)
    actual_timespan = max(actual_timespan, TARGET_TIMESPAN_SECONDS // 4)
    actual_timespan = min(actual_timespan, TARGET_TIMESPAN_SECONDS * 4)
    new_target = bits_to_target(last_bits) * actual_timespan // TARGET_TIMESPAN_SECONDS
    new_target = min(new_target, POW_LIMIT)
    return target_to_bits(new_target)


def block_subsidy_sats(height: int) -> int:
    """Block subsidy in satoshis at ``height``: 50 BTC halving every 210,000 blocks."""
    if not isinstance(height, int) or isinstance(height, bool):
        raise TypeError(f"height must be an int, got {type(height).__name__}")
    if height < 0:
        raise ValueError(f"height must be non-negative, got {height}")
    halvings = height // HALVING_INTERVAL_BLOCKS
    if halvings >= 64:  # a right shift by 64 or more is undefined in C++; Core returns 0
        return 0
    return INITIAL_SUBSIDY_SATS >> halvings


def epoch_of(height: int) -> int:
    """Difficulty epoch (retarget period) that ``height`` belongs to."""
    if height < 0:
        raise ValueError(f"height must be non-negative, got {height}")
    return height // RETARGET_INTERVAL_BLOCKS


def epoch_start_height(epoch: int) -> int:
    if epoch < 0:
        raise ValueError(f"epoch must be non-negative, got {epoch}")
    return epoch * RETARGET_INTERVAL_BLOCKS


def epoch_end_height(epoch: int) -> int:
    return epoch_start_height(epoch) + RETARGET_INTERVAL_BLOCKS - 1


def is_retarget_height(height: int) -> bool:
    """True for the first block of an epoch, the one that carries newly computed bits."""
    return height > 0 and height % RETARGET_INTERVAL_BLOCKS == 0


def blocks_until_retarget(height: int) -> int:
    """Blocks still to be mined after ``height`` before the next retarget block."""
    return epoch_end_height(epoch_of(height)) - height + 1


def expected_hashrate_hs(difficulty: float | Fraction) -> float:
    """Network hashrate (H/s) implied by a difficulty: D * 2**32 / 600."""
    return float(difficulty) * HASHES_PER_DIFFICULTY / BLOCK_INTERVAL_SECONDS


def parse_bits(value: int | str) -> int:
    """Accept compact bits as an int or as hex text ('0x1d00ffff' or '1d00ffff')."""
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return int(text, 16)
        except ValueError:
            raise ValueError(f"not hexadecimal compact bits: {value!r}") from None
    return int(value)

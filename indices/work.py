"""Exact chain work over windows of blocks, vectorized.

Work per block (``2**256 // (target + 1)``) is a big integer: about 2**79 today, far beyond the 53
bits of a float64. The chain has only a few hundred distinct ``bits`` values, so the exact work is
computed once per distinct value, split into 32-bit limbs, and the limbs are summed with int64
cumulative sums: a limb column of n blocks sums to below n * 2**32, exact in int64 for any chain
shorter than 2**31 blocks. A window sum is then the difference of two cumulative rows, which is
exact as an integer (``window_exact``) and correct to about one float64 rounding per limb as a
float (``window_float``: relative error below 1e-15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indices.chain import bits_to_target, block_work, difficulty_fraction

LIMB_BITS = 32
_LIMB_MASK = (1 << LIMB_BITS) - 1


@dataclass(frozen=True)
class DistinctBits:
    """The distinct compact bits of a run of blocks and, per block, which one it carries."""

    values: tuple[int, ...]
    codes: np.ndarray  # per block, index into ``values``
    targets: tuple[int, ...]
    works: tuple[int, ...]

    @classmethod
    def of(cls, bits: np.ndarray) -> DistinctBits:
        bits = np.asarray(bits, dtype=np.int64)
        if len(bits) == 0:
            return cls((), np.zeros(0, dtype=np.int64), (), ())
        # Bits come in long runs (one per epoch), so deduplicate the runs rather than sort n values.
        starts = np.flatnonzero(np.r_[True, bits[1:] != bits[:-1]])
        run_values, run_codes = np.unique(bits[starts], return_inverse=True)
        codes = np.repeat(run_codes, np.diff(np.r_[starts, len(bits)]))
        values = tuple(int(b) for b in run_values)
        return cls(values, codes, tuple(bits_to_target(b) for b in values),
                   tuple(block_work(b) for b in values))

    def difficulty_floats(self) -> np.ndarray:
        """Correctly rounded float difficulty per distinct value (NaN for a zero target)."""
        return np.array([float(difficulty_fraction(b)) if t else np.nan
                         for b, t in zip(self.values, self.targets)], dtype=np.float64)


class CumulativeWork:
    """Exact work sums over any window [lo, hi) of block positions."""

    def __init__(self, distinct: DistinctBits):
        widest = max((w.bit_length() for w in distinct.works), default=1)
        self.limb_count = max(1, -(-widest // LIMB_BITS))
        table = np.array(
            [[(w >> (LIMB_BITS * k)) & _LIMB_MASK for k in range(self.limb_count)]
             for w in distinct.works] or [[0] * self.limb_count],
            dtype=np.int64,
        )
        per_block = table[distinct.codes]
        self._cumulative = np.zeros((len(distinct.codes) + 1, self.limb_count), dtype=np.int64)
        np.cumsum(per_block, axis=0, out=self._cumulative[1:])

    def _limb_sums(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return self._cumulative[np.asarray(hi)] - self._cumulative[np.asarray(lo)]

    def window_float(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Work of blocks lo..hi-1 as float64 (see module docstring for precision)."""
        sums = self._limb_sums(lo, hi).astype(np.float64)
        scale = np.ldexp(1.0, LIMB_BITS * np.arange(self.limb_count))
        return sums @ scale

    def window_exact(self, lo: np.ndarray, hi: np.ndarray) -> list[int]:
        """Work of blocks lo..hi-1 as exact Python ints."""
        sums = self._limb_sums(lo, hi).astype(object)
        total = sums[..., 0]
        for k in range(1, self.limb_count):
            total = total + (sums[..., k] << (LIMB_BITS * k))
        return list(np.atleast_1d(total))

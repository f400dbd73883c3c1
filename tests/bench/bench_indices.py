"""Benchmark of the index computation (a script, not a test): prints figures, records nothing.

    .venv/bin/python tests/bench/bench_indices.py [--blocks 1000000] [--repeat 3]

Figures: full recompute of every standard fixing over the chain, per-block incremental
``value_at`` for all standard indices at once, and the float series of each index.
The chain comes from ``indices.sources.simulator.simulate_chain`` when it exists, else from a
numpy synthesis with the same shape (exponential block times, growing hashrate, the real retarget
rule per epoch, halvings, random fees).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time

import numpy as np
import pandas as pd

from indices.blocks import BLOCK_COLUMNS
from indices.chain import RETARGET_INTERVAL_BLOCKS, bits_to_target, next_work_required
from indices.compute import index_series, value_at
from indices.definitions import STANDARD_INDEX_NAMES
from indices.fixings import compute_fixings

GENESIS_TIME = 1_231_006_505


def synthesize_chain(n_blocks: int, seed: int = 7) -> pd.DataFrame:
    """A block frame shaped like mainnet: hashrate growing ~60%/year from difficulty 1."""
    rng = np.random.default_rng(seed)
    heights = np.arange(n_blocks, dtype=np.int64)
    bits = np.empty(n_blocks, dtype=np.int64)
    times = np.empty(n_blocks, dtype=np.int64)
    current_bits, clock = 0x1D00FFFF, float(GENESIS_TIME)
    hashrate_hs = 2**32 / 600  # difficulty 1 at target pace
    growth_per_second = np.log(1.6) / (365 * 86_400)
    for start in range(0, n_blocks, RETARGET_INTERVAL_BLOCKS):
        end = min(start + RETARGET_INTERVAL_BLOCKS, n_blocks)
        if start:
            current_bits = next_work_required(current_bits, int(times[start - RETARGET_INTERVAL_BLOCKS]),
                                              int(times[start - 1]))
        expected_hashes = (1 << 256) / (bits_to_target(current_bits) + 1)
        mean_interval = expected_hashes / hashrate_hs
        steps = rng.exponential(mean_interval, end - start)
        stamps = clock + np.cumsum(steps)
        clock = float(stamps[-1])
        hashrate_hs *= float(np.exp(growth_per_second * (clock - stamps[0] + steps[0])))
        times[start:end] = stamps.astype(np.int64)
        bits[start:end] = current_bits
    # Header times wander: +-10 min of noise, kept above the previous block's minus an hour.
    times = times + rng.integers(-600, 601, n_blocks)
    subsidy = np.where(heights // 210_000 >= 33, 0, 5_000_000_000 >> np.minimum(heights // 210_000, 32))
    hashes = [hashlib.blake2b(int(h).to_bytes(8, "big"), digest_size=32).hexdigest() for h in heights]
    return pd.DataFrame({
        "height": heights,
        "hash": hashes,
        "prev_hash": ["0" * 64] + hashes[:-1],
        "time": times,
        "bits": bits,
        "subsidy_sats": subsidy,
        "total_fees_sats": rng.integers(0, 50_000_000, n_blocks),
        "tx_count": rng.integers(1, 4_000, n_blocks),
    })[list(BLOCK_COLUMNS)]


def load_chain(n_blocks: int) -> tuple[pd.DataFrame, str]:
    try:
        from indices.sources.simulator import simulate_chain
    except ImportError:
        return synthesize_chain(n_blocks), "numpy synthesis (indices.sources.simulator not found)"
    return simulate_chain(n_blocks, seed=7), "indices.sources.simulator.simulate_chain"


def timed(function, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    blocks, origin = load_chain(args.blocks)
    print(f"chain: {len(blocks):,} blocks from {origin} ({time.perf_counter() - started:.1f} s to build)")

    seconds, fixings = timed(lambda: compute_fixings(blocks, None), args.repeat)
    kinds = pd.Series([f.kind for f in fixings]).value_counts().to_dict()
    print(f"full recompute of all standard fixings: {seconds:.3f} s for {len(fixings):,} fixings "
          f"({kinds}), {seconds / max(1, len(fixings)) * 1e6:.1f} us per fixing (best of {args.repeat})")

    tip = int(blocks["height"].iloc[-1])
    samples = []
    for height in range(tip - 200, tip + 1):
        started = time.perf_counter()
        for name in STANDARD_INDEX_NAMES:
            value_at(blocks, None, name, height)
        samples.append(time.perf_counter() - started)
    print(f"incremental value_at, all {len(STANDARD_INDEX_NAMES)} standard indices at one height: "
          f"median {statistics.median(samples) * 1e3:.2f} ms, max {max(samples) * 1e3:.2f} ms "
          f"over {len(samples)} heights")
    per_index = {}
    for name in STANDARD_INDEX_NAMES:
        per_index[name] = timed(lambda: value_at(blocks, None, name, tip), 20)[0]
    print("  per index (ms): " + ", ".join(f"{n} {s * 1e3:.2f}" for n, s in per_index.items()))

    print("series over the whole chain (best of {}):".format(args.repeat))
    for name in STANDARD_INDEX_NAMES:
        seconds, series = timed(lambda: index_series(blocks, None, name), args.repeat)
        print(f"  {name:<14} {seconds * 1e3:8.1f} ms  ({int(series.notna().sum()):,} defined values)")


if __name__ == "__main__":
    main()

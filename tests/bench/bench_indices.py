"""Benchmark of the index computation (a script, not a test): prints figures, records nothing.

    .venv/bin/python tests/bench/bench_indices.py [--blocks 1000000] [--repeat 3]

Figures: full recompute of every standard fixing over the chain, per-block incremental
``value_at`` for all standard indices at once, and the float series of each index.
The chain comes from ``indices.sources.simulator.simulate_chain`` (seed 7).
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from indices.compute import index_series, value_at
from indices.definitions import STANDARD_INDEX_NAMES
from indices.fixings import compute_fixings


def load_chain(n_blocks: int) -> pd.DataFrame:
    from indices.sources.simulator import simulate_chain

    return simulate_chain(n_blocks, seed=7)


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
    blocks = load_chain(args.blocks)
    print(f"chain: {len(blocks):,} simulated blocks ({time.perf_counter() - started:.1f} s to build)")

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

"""HashEdge index service: Bitcoin chain math, block sources, indices, fixings and forecasts.

Pure library: never imports ``hashedge``, Flask or the database layer.
"""

from indices.bme import bme
from indices.chain import (
    bits_to_difficulty,
    bits_to_target,
    block_subsidy_sats,
    block_work,
    difficulty_fraction,
    expected_hashrate_hs,
    next_work_required,
    target_to_bits,
)

__all__ = [
    "bits_to_difficulty",
    "bits_to_target",
    "block_subsidy_sats",
    "block_work",
    "bme",
    "difficulty_fraction",
    "expected_hashrate_hs",
    "next_work_required",
    "target_to_bits",
]

"""HashEdge index service: Bitcoin chain math, block sources, indices, fixings and forecasts.

Pure library: never imports ``hashedge``, Flask or the database layer. The names below are the
public API; block sources live in ``indices.sources``.
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
from indices.compute import index_series, value_at, values_at
from indices.definitions import IndexDefinition, UnknownIndex, get_definition, standard_indices
from indices.fixings import FixingValue, Mismatch, compute_fixings, verify_fixings
from indices.forecast import DifficultyForecast, forecast_next_difficulty

__all__ = [
    "DifficultyForecast",
    "FixingValue",
    "IndexDefinition",
    "Mismatch",
    "UnknownIndex",
    "bits_to_difficulty",
    "bits_to_target",
    "block_subsidy_sats",
    "block_work",
    "bme",
    "compute_fixings",
    "difficulty_fraction",
    "expected_hashrate_hs",
    "forecast_next_difficulty",
    "get_definition",
    "index_series",
    "next_work_required",
    "standard_indices",
    "target_to_bits",
    "value_at",
    "values_at",
    "verify_fixings",
]

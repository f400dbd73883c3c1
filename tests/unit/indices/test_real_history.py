"""DIFF and BME on Bitcoin mainnet's real difficulty history (shared/data/btc_difficulty_epochs.csv).

Block data is rebuilt from the epoch table (every block of an epoch carries its bits), so the
block path and the epoch-history path can be held against ``indices.bme.bme`` and the exact
difficulty of every epoch.
"""

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import numpy as np
import pytest

from index_builders import epochs_to_blocks
from indices.bme import bme, bme_exact
from indices.chain import difficulty_fraction, parse_bits
from indices.compute import index_series, value_at


@pytest.fixture(scope="module")
def real_blocks(real_epochs):
    return epochs_to_blocks(real_epochs)


def _sample_heights(real_epochs) -> list[int]:
    """The first height of every epoch (BME is constant within one), the last height of every
    seventh epoch, and a stride through the rest."""
    last = int(real_epochs["end_height"].max())
    edges = set(real_epochs["start_height"].astype(int)) | set(real_epochs["end_height"].astype(int)[::7])
    return sorted(edges | set(range(0, last + 1, 4999)) | {last})


def _quantize(fraction, places: int) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        exact = Decimal(fraction.numerator) / Decimal(fraction.denominator)
        return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize("days", [14, 28, 84])
def test_bme_from_blocks_equals_the_reference_bme_bit_for_bit(real_epochs, real_blocks, days):
    series = index_series(real_blocks, None, f"BME{days}")
    checked = 0
    for height in _sample_heights(real_epochs):
        try:
            expected = bme(real_epochs, height, days)
        except ValueError:
            assert np.isnan(series.loc[height]), height
            continue
        assert series.loc[height] == expected, height  # same rational, same float
        checked += 1
    assert checked > 450


@pytest.mark.parametrize("days", [14, 84])
def test_bme_from_the_epoch_history_alone_equals_the_reference_bme(real_epochs, days):
    series = index_series(None, real_epochs, f"BME{days}")
    for height in _sample_heights(real_epochs)[::3]:
        try:
            expected = bme(real_epochs, height, days)
        except ValueError:
            assert np.isnan(series.loc[height])
            continue
        assert series.loc[height] == expected


@pytest.mark.parametrize("height", [2016 * 6 - 1, 2016 * 290 + 5, 838_656, 840_236, 945_503, 971_711])
def test_bme_fixing_values_are_the_exact_rational_rounded_half_even(real_epochs, real_blocks, height):
    expected = _quantize(bme_exact(real_epochs, height, 84), 18)
    assert value_at(real_blocks, None, "BME84", height) == expected
    assert value_at(None, real_epochs, "BME84", height) == expected


def test_diff_equals_the_exact_bits_difficulty_for_every_epoch(real_epochs, real_blocks):
    block_series = index_series(real_blocks, None, "DIFF")
    epoch_series = index_series(None, real_epochs, "DIFF")
    for start, end, bits in zip(real_epochs["start_height"], real_epochs["end_height"], real_epochs["bits"]):
        exact = difficulty_fraction(parse_bits(bits))
        for height in (int(start), int(end)):
            assert block_series.loc[height] == float(exact)
            assert epoch_series.loc[height] == float(exact)
        assert value_at(real_blocks, None, "DIFF", int(end)) == _quantize(exact, 8)
        assert value_at(None, real_epochs, "DIFF", int(start)) == _quantize(exact, 8)


def test_diff_matches_the_published_sanity_facts(real_epochs):
    series = index_series(None, real_epochs, "DIFF")
    assert series.loc[584_640] == pytest.approx(9.064e12, rel=1e-3)
    assert series.loc[838_656] == pytest.approx(8.639e13, rel=1e-3)
    assert series.loc[943_488] == series.loc[945_503] == 138_966_872_071_213.2  # epoch 468, April 2026


def test_the_epoch_history_does_not_answer_for_block_indices_or_past_its_end(real_epochs):
    with pytest.raises(ValueError, match="no blocks data covers it"):
        value_at(None, real_epochs, "HASHPRICE", 800_000)
    past_the_end = int(real_epochs["end_height"].iloc[-1]) + 1
    assert value_at(None, real_epochs, "DIFF", past_the_end - 1) > 0
    with pytest.raises(ValueError, match="does not cover"):
        value_at(None, real_epochs, "DIFF", past_the_end)

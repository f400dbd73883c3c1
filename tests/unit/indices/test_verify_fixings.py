"""verify_fixings recomputes stored fixings and names every one the data does not reproduce."""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import pytest

from index_builders import random_chain
from indices.fixings import FixingValue, compute_fixings, verify_fixings


@dataclass(frozen=True)
class StoredFixing:
    """What a repository hands back: FixingValue's fields plus its own bookkeeping."""

    index: str
    kind: str
    as_of: datetime
    value: Decimal
    unit: str
    methodology_version: str
    start_height: int
    end_height: int
    confirmations: int
    input_digest: str
    version: int = 1

    @classmethod
    def of(cls, fixing: FixingValue) -> "StoredFixing":
        return cls(**{name: getattr(fixing, name) for name in FixingValue.__slots__})


@pytest.fixture(scope="module")
def chain():
    return random_chain(6000, seed=5, start_height=2016 * 10 - 3000)


@pytest.fixture(scope="module")
def stored(chain):
    return [StoredFixing.of(f) for f in compute_fixings(chain, None)]


def _reasons(mismatches):
    return {(m.index, m.kind, m.as_of): m.reason for m in mismatches}


def test_untouched_data_verifies_every_stored_fixing(chain, stored):
    assert len(stored) > 100
    assert verify_fixings(stored, chain, None) == []


def test_a_tampered_fee_is_caught_by_value_and_digest(chain, stored):
    height = int(chain["height"].iloc[4000])
    tampered = chain.copy()
    tampered.loc[tampered["height"] == height, "total_fees_sats"] += 50_000_000
    reasons = _reasons(verify_fixings(stored, tampered, None))
    covering = [f for f in stored if f.index in ("HASHPRICE", "MRI7", "MRI30")
                and f.start_height <= height <= f.end_height]
    assert covering and set(reasons) == {(f.index, f.kind, f.as_of) for f in covering}
    assert all("value differs" in r and "input digest differs" in r for r in reasons.values())


def test_a_replaced_block_breaks_the_previous_hash_link_inside_the_ranges_that_span_it(chain, stored):
    height = int(chain["height"].iloc[4000])
    tampered = chain.copy()
    tampered.loc[tampered["height"] == height, "hash"] = "e" * 64
    reasons = _reasons(verify_fixings(stored, tampered, None))
    spanning = {(f.index, f.kind, f.as_of) for f in stored if f.start_height < height + 1 <= f.end_height}
    assert spanning <= set(reasons)
    assert all(f"block {height + 1} does not link to block {height}" in reasons[key] for key in spanning)


def test_a_stored_value_that_was_altered_is_reported_with_both_values(chain, stored):
    altered = replace(stored[10], value=stored[10].value + Decimal("0.000001"))
    (mismatch,) = verify_fixings([altered], chain, None)
    assert f"stored {altered.value}, recomputed {stored[10].value}" in mismatch.reason
    assert "digest" not in mismatch.reason


def test_a_stored_digest_that_was_altered_is_reported(chain, stored):
    altered = replace(stored[20], input_digest="0" * 64)
    (mismatch,) = verify_fixings([altered], chain, None)
    assert mismatch.reason.startswith("input digest differs")


def test_a_fixing_the_data_no_longer_yields_is_reported(chain, stored):
    last = stored[-1]
    shorter = chain[chain["height"] <= last.end_height]
    (mismatch,) = verify_fixings([last], shorter, None)
    assert "does not yield this fixing" in mismatch.reason


def test_each_fixing_is_checked_at_the_confirmations_it_was_published_with(chain, stored):
    deeper = [StoredFixing.of(f) for f in compute_fixings(chain, None, names=["DIFF"], confirmations=9)]
    assert verify_fixings(deeper + stored[:50], chain, None) == []


def test_foreign_names_and_other_methodology_versions_are_reported_not_guessed(chain, stored):
    unknown = replace(stored[0], index="NOPE")
    old = replace(stored[1], methodology_version="0")
    reasons = [m.reason for m in verify_fixings([unknown, old], chain, None)]
    assert "not a canonical index name" in reasons[0]
    assert "methodology version 0 is not the current 1" in reasons[1]

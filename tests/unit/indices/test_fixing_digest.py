"""Fixing digests: the exact bytes hashed, golden values, and sensitivity to every input."""

import hashlib
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from index_builders import build_blocks, random_chain
from indices.fixings import (
    canonical_json,
    compute_fixings,
    fixing_digest_payload,
    fixing_payload,
    input_digest,
)

JAN_2 = datetime(2024, 1, 2, tzinfo=timezone.utc)
HASH_0 = "ce49c0cbcb45a768a12eb9967b9923ecae591905a9e898b635e894ed5b585f64"
HASH_143 = "2719f9f64eb9556883637a4ce2416aaff5fab81812f84d5f39866049a7e7d224"


def _hashprice_payload(**changes):
    fields = dict(index="HASHPRICE", methodology_version="1", kind="daily", as_of=JAN_2,
                  start_height=0, end_height=143, confirmations=6,
                  inputs={"bits": 0x1B00FFFF, "fees_sats": 144_000, "subsidy_sats": 5_000_000_000},
                  start_hash=HASH_0, end_hash=HASH_143)
    fields.update(changes)
    return fixing_digest_payload(**fields)


def test_the_canonical_json_is_sorted_compact_ascii_with_ints_and_text_only():
    assert canonical_json(_hashprice_payload()) == (
        b'{"as_of":"2024-01-02T00:00:00+00:00","confirmations":6,'
        b'"end_hash":"' + HASH_143.encode() + b'","end_height":143,"index":"HASHPRICE",'
        b'"inputs":{"bits":453050367,"fees_sats":144000,"subsidy_sats":5000000000},'
        b'"kind":"daily","methodology_version":"1",'
        b'"start_hash":"' + HASH_0.encode() + b'","start_height":0}'
    )


def test_the_digest_of_a_fixed_payload_is_a_golden_sha256():
    payload = _hashprice_payload()
    assert input_digest(payload) == hashlib.sha256(canonical_json(payload)).hexdigest()
    assert input_digest(payload) == "e2801e35eb22ec990e045b289c21e7a3680e119b18401643ef177735f517cc4b"


def test_compute_fixings_publishes_the_golden_digest_and_value_for_the_same_chain():
    chain = build_blocks(200, bits=0x1B00FFFF, fees_sats=1_000, seed="golden")
    diff, hashprice = compute_fixings(chain, None, names=["DIFF", "HASHPRICE"])
    assert hashprice.input_digest == "e2801e35eb22ec990e045b289c21e7a3680e119b18401643ef177735f517cc4b"
    assert hashprice.value == Decimal("1534772616196278.249845")
    assert (hashprice.start_height, hashprice.end_height, hashprice.as_of) == (0, 143, JAN_2)
    assert diff.input_digest == "8a4d71ac9bc09f8d27cd431e15116584c444f444e2c22ba0c463ca25de008087"
    assert fixing_payload(hashprice, chain, None) == _hashprice_payload()


@pytest.mark.parametrize(
    "change",
    [
        {"index": "HASHPRICE2"}, {"methodology_version": "2"}, {"kind": "retarget"},
        {"as_of": datetime(2024, 1, 3, tzinfo=timezone.utc)}, {"start_height": 1}, {"end_height": 144},
        {"confirmations": 7}, {"start_hash": HASH_143}, {"end_hash": HASH_0},
        {"inputs": {"bits": 0x1B00FFFE, "fees_sats": 144_000, "subsidy_sats": 5_000_000_000}},
        {"inputs": {"bits": 0x1B00FFFF, "fees_sats": 144_001, "subsidy_sats": 5_000_000_000}},
        {"inputs": {"bits": 0x1B00FFFF, "fees_sats": 144_000, "subsidy_sats": 2_500_000_000}},
    ],
    ids=lambda change: next(iter(change)) + ("" if "inputs" not in change else str(change["inputs"])[:30]),
)
def test_changing_any_hashed_field_changes_the_digest(change):
    assert input_digest(_hashprice_payload(**change)) != input_digest(_hashprice_payload())


@pytest.mark.parametrize("bad", [1.5, Decimal("1.5"), True, None, (1, 2)])
def test_canonical_json_refuses_anything_but_ints_and_text(bad):
    with pytest.raises(TypeError, match="only ints and text"):
        canonical_json(_hashprice_payload(inputs={"fees_sats": bad}))


@pytest.fixture(scope="module")
def chain():
    return random_chain(5000, seed=11, start_height=2016 * 5 - 600)


def _by_identity(fixings):
    return {f.identity: f for f in fixings}


def _changed(before, after):
    return {key for key in before if key in after and before[key].input_digest != after[key].input_digest}


def test_every_computed_payload_is_canonical(chain):
    for fixing in compute_fixings(chain, None)[::97]:
        canonical_json(fixing_payload(fixing, chain, None))  # raises on a float or a Decimal


def test_a_fee_change_inside_a_window_changes_exactly_the_digests_that_read_it(chain):
    before = _by_identity(compute_fixings(chain, None))
    height = int(chain["height"].iloc[3000])
    tampered = chain.copy()
    tampered.loc[tampered["height"] == height, "total_fees_sats"] += 1
    after = _by_identity(compute_fixings(tampered, None))
    changed = _changed(before, after)
    reads_fees = {k for k, f in before.items()
                  if f.index in ("HASHPRICE", "MRI7", "MRI30") and f.start_height <= height <= f.end_height}
    assert changed == reads_fees and changed


def test_a_different_end_block_hash_changes_every_digest_ending_there(chain):
    before = compute_fixings(chain, None)
    target = next(f for f in before if f.index == "HASHRATE_1008")
    tampered = chain.copy()
    tampered.loc[tampered["height"] == target.end_height, "hash"] = "f" * 64
    after = _by_identity(compute_fixings(tampered, None))
    for fixing in before:
        if target.end_height in (fixing.start_height, fixing.end_height):
            assert after[fixing.identity].input_digest != fixing.input_digest
            assert after[fixing.identity].value == fixing.value


def test_a_timestamp_change_at_the_window_opening_changes_the_hashrate_digest(chain):
    before = compute_fixings(chain, None, names=["HASHRATE_432"])
    target = before[len(before) // 2]
    tampered = chain.copy()
    tampered.loc[tampered["height"] == target.start_height, "time"] -= 1
    after = _by_identity(compute_fixings(tampered, None, names=["HASHRATE_432"]))
    assert after[target.identity].input_digest != target.input_digest
    assert after[target.identity].value != target.value


def test_the_required_confirmations_are_part_of_every_digest(chain):
    six = _by_identity(compute_fixings(chain, None, confirmations=6))
    seven = _by_identity(compute_fixings(chain, None, confirmations=7))
    assert _changed(six, seven) == set(six) & set(seven)


def test_a_fixing_record_is_an_immutable_value(chain):
    fixing = compute_fixings(chain, None, names=["DIFF"])[0]
    with pytest.raises(AttributeError):
        fixing.value = Decimal(0)  # type: ignore[misc]
    assert replace(fixing) == fixing and hash(fixing) == hash(replace(fixing))

"""API key hashing and the per-process memo of verified keys: a memo of a pure function, never a
way around the stored record."""

from __future__ import annotations

import pytest

from hashedge.adapters import api_keys


@pytest.fixture
def derivations(monkeypatch):
    """Counts the real PBKDF2 derivations (the function still runs)."""
    calls = []
    real = api_keys._derive

    def counting(plaintext, salt, iterations):
        calls.append(iterations)
        return real(plaintext, salt, iterations)

    monkeypatch.setattr(api_keys, "_derive", counting)
    monkeypatch.setattr(api_keys, "_verified", type(api_keys._verified)())  # an empty memo per test
    return calls


def test_a_verified_key_is_recognised_without_deriving_again(derivations):
    key = api_keys.generate_key().plaintext
    record = api_keys.hash_key(key)
    before = len(derivations)
    assert api_keys.verify_key(key, record) and api_keys.verify_key(key, record)
    assert len(derivations) - before == 1


def test_a_wrong_key_always_pays_the_full_derivation_and_is_refused(derivations):
    key = api_keys.generate_key().plaintext
    record = api_keys.hash_key(key)
    assert api_keys.verify_key(key, record)
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    before = len(derivations)
    assert not api_keys.verify_key(forged, record) and not api_keys.verify_key(forged, record)
    assert len(derivations) - before == 2


def test_the_memo_is_bound_to_the_stored_record(derivations):
    key = api_keys.generate_key().plaintext
    record, rehashed = api_keys.hash_key(key), api_keys.hash_key(key)  # another salt
    other = api_keys.hash_key(api_keys.generate_key().plaintext)
    assert api_keys.verify_key(key, record)
    assert not api_keys.verify_key(key, other)  # a key verified once is no key for another record
    assert not api_keys.verify_key(key, None)  # nor for a missing or revoked one
    assert api_keys.verify_key(key, rehashed)  # derived again for the new record


def test_the_memo_keeps_digests_only_and_stays_bounded(derivations, monkeypatch):
    monkeypatch.setattr(api_keys, "VERIFIED_MEMO_SIZE", 3)
    keys = [api_keys.generate_key().plaintext for _ in range(5)]
    for key in keys:
        assert api_keys.verify_key(key, api_keys.hash_key(key, iterations=10))
    assert len(api_keys._verified) == 3
    assert all(isinstance(entry, bytes) and len(entry) == 32 for entry in api_keys._verified)
    assert not any(key.encode() in entry for key in keys for entry in api_keys._verified)

"""API keys: generation, parsing and hashing. The plaintext exists once, when a key is issued.

A key reads ``he_<prefix>_<secret>``: the prefix (12 hex characters) is stored in clear to find
the key's row; the secret (32 random bytes, URL-safe base64) is never stored: the whole key is
kept only as a salted PBKDF2-HMAC-SHA256 hash in a self-describing record, ``pbkdf2_sha256$<iterations>$<salt>$<hash>``,
so the iteration count can be raised later without invalidating issued keys.

The secret carries 256 bits of entropy, so no amount of guessing recovers it from a leaked
hash; the salt and the iterations are defence in depth, kept cheap (a few milliseconds) because
every API request verifies a key. Comparison is constant-time.

A few milliseconds of CPU per request still caps a worker at a few hundred authenticated requests
a second, so each process remembers the keys it has verified: a SHA-256 of (key, stored record)
for each success, never the key itself, at most ``VERIFIED_MEMO_SIZE`` of them. It memoizes a pure
function: the caller reads the stored record (``accounts.authenticate_api_key`` on every request;
for an order sent to the engine, the engine's batch checks the key's revocation instead:
``accounts.identify_api_key``), so a revoked key is refused at once, by every worker; a changed
record misses the memo, and a wrong key always pays the full derivation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

KEY_PREFIX = "he"
ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 20_000
_KEY_PATTERN = re.compile(r"^he_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")
# Verified against when a prefix is unknown, so a miss costs as much as a hit.
_DUMMY_RECORD = f"{ALGORITHM}${ITERATIONS}${'00' * 16}${'00' * 32}"
VERIFIED_MEMO_SIZE = 10_000
_verified: OrderedDict[bytes, None] = OrderedDict()  # digests of (key, record) pairs that matched
_verified_lock = threading.Lock()


@dataclass(frozen=True)
class IssuedKey:
    prefix: str
    plaintext: str = field(repr=False)  # never printed by accident


def generate_key() -> IssuedKey:
    prefix = secrets.token_hex(6)
    return IssuedKey(prefix, f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}")


def prefix_of(plaintext: str) -> str | None:
    """The lookup prefix of a well-formed key, else None."""
    match = _KEY_PATTERN.match(plaintext) if isinstance(plaintext, str) else None
    return match.group(1) if match else None


def _derive(plaintext: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", plaintext.encode(), salt, iterations)


def hash_key(plaintext: str, *, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    return f"{ALGORITHM}${iterations}${salt.hex()}${_derive(plaintext, salt, iterations).hex()}"


def verify_key(plaintext: str, record: str | None) -> bool:
    """True if ``plaintext`` matches the stored ``record`` (constant-time; None never matches,
    after the same work as a real check). A pair verified before in this process is recognised
    from its digest (module docstring)."""
    memo = None
    if record is not None:
        memo = hashlib.sha256(f"{plaintext}\0{record}".encode()).digest()
        with _verified_lock:
            if memo in _verified:
                _verified.move_to_end(memo)
                return True
    algorithm, iterations, salt, expected = (record or _DUMMY_RECORD).split("$")
    if algorithm != ALGORITHM:
        raise ValueError(f"unknown API key hash algorithm {algorithm!r}")
    actual = _derive(plaintext, bytes.fromhex(salt), int(iterations))
    matched = hmac.compare_digest(actual, bytes.fromhex(expected)) and record is not None
    if matched:
        with _verified_lock:
            _verified[memo] = None
            while len(_verified) > VERIFIED_MEMO_SIZE:
                _verified.popitem(last=False)
    return matched

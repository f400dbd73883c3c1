"""The journal's hash chain as a pure function: the canonical bytes are pinned (a change would
orphan every stored chain), and the check names what was changed."""

import hashlib
from datetime import datetime, timezone

from hashedge.domain import ledger
from hashedge.domain.journal_chain import (
    GENESIS,
    ChainLink,
    StoredContent,
    content_sha256,
    extend,
    next_link_sha256,
    verify_chain,
)

T0 = datetime(2026, 12, 1, 9, 30, 15, 250000, tzinfo=timezone.utc)
DEPOSIT = ledger.deposit("7", 100_000, idempotency_key="account:7:first", occurred_at=T0, memo="wire ü")


def test_the_canonical_content_is_compact_sorted_ascii_json_with_postings_in_key_order():
    canonical = StoredContent.of(42, DEPOSIT, T0).canonical()
    assert canonical == (
        b'{"id":42,"idempotency_key":"account:7:first","kind":"deposit","memo":"wire \\u00fc",'
        b'"occurred_at":"2026-12-01T09:30:15.250000Z","postings":[["collateral:7",100000],'
        b'["external_custody",-100000]],"recorded_at":"2026-12-01T09:30:15.250000Z"}'
    )
    assert content_sha256(42, DEPOSIT, T0) == hashlib.sha256(canonical).hexdigest()


def test_posting_order_and_the_times_zone_do_not_change_the_hash_but_every_field_does():
    stored = StoredContent.of(42, DEPOSIT, T0)
    reordered = StoredContent(42, "deposit", "account:7:first", "wire ü", T0.astimezone(),
                              T0, tuple(reversed(stored.postings)))
    assert reordered.sha256() == stored.sha256()
    changed = [
        StoredContent(43, *_fields(stored)[1:]),
        StoredContent(42, "fee", *_fields(stored)[2:]),
        StoredContent(42, "deposit", "account:7:first", "wire", T0, T0, stored.postings),
        StoredContent(42, "deposit", "account:7:first", "wire ü", T0, T0.replace(microsecond=250001),
                      stored.postings),
        StoredContent(42, "deposit", "account:7:first", "wire ü", T0, T0,
                      (("collateral:7", 100_001), ("external_custody", -100_000))),
    ]
    assert len({c.sha256() for c in changed} | {stored.sha256()}) == len(changed) + 1


def _fields(stored: StoredContent) -> tuple:
    return (stored.entry_id, stored.kind, stored.idempotency_key, stored.memo, stored.occurred_at,
            stored.recorded_at, stored.postings)


def test_links_chain_each_content_hash_to_the_one_before():
    links = extend(None, [(5, "a" * 64), (3, "b" * 64)])
    assert [(link.seq, link.entry_id) for link in links] == [(1, 5), (2, 3)]  # commit order, not id order
    assert links[0].chain_sha256 == hashlib.sha256((GENESIS + "a" * 64).encode()).hexdigest()
    assert links[1].chain_sha256 == next_link_sha256(links[0].chain_sha256, "b" * 64)
    more = extend(links[-1], [(4, "c" * 64)])
    assert more == [ChainLink(3, 4, "c" * 64, next_link_sha256(links[1].chain_sha256, "c" * 64))]


def test_an_intact_chain_verifies_and_reports_its_head():
    links = extend(None, [(1, "a" * 64), (2, "b" * 64), (3, "c" * 64)])
    faults, head = verify_chain([(link, link.content_sha256) for link in links])
    assert faults == [] and head == links[-1]
    assert verify_chain([]) == ([], None)


def test_each_kind_of_tampering_is_reported_once_with_the_entry():
    links = extend(None, [(1, "a" * 64), (2, "b" * 64), (3, "c" * 64), (4, "d" * 64)])
    forged = ChainLink(3, 3, "e" * 64, next_link_sha256(links[1].chain_sha256, "e" * 64))
    walked = [(links[0], "f" * 64), (links[1], None), (forged, "e" * 64), (links[3], "d" * 64)]
    faults, _head = verify_chain(walked, unlinked_entry_ids=[9])
    assert [(f.entry_id, f.message) for f in faults] == [
        (1, "entry 1 was rewritten: its content no longer matches the hash recorded in link 1"),
        (2, "entry 2 is in the hash chain (link 2) but no longer in the journal"),
        (4, "entry 4: link 4 does not follow from the link before it (the chain was rewritten)"),
        (9, "entry 9 is not in the hash chain (written outside the ledger)"),
    ]


def test_missing_links_are_one_fault_not_a_cascade():
    links = extend(None, [(1, "a" * 64), (2, "b" * 64), (3, "c" * 64), (4, "d" * 64)])
    faults, head = verify_chain([(links[0], "a" * 64), (links[3], "d" * 64)])
    assert [(f.entry_id, f.message) for f in faults] == [(None, "links 2 to 3 of the hash chain are missing")]
    assert head == links[3]

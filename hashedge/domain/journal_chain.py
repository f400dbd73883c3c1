"""The journal's hash chain: tamper evidence that does not depend on database triggers.

Every journal entry gets a SHA-256 of its canonical content (``content_sha256``: id, kind,
idempotency key, memo, both times and the postings in account order) and a *link* in one chain:
``chain_sha256 = SHA-256(previous link's chain_sha256 + content_sha256)``, starting from
``GENESIS``. Links are numbered 1, 2, 3, ... in the order entries were committed (see
``hashedge/domain/JOURNAL.md`` for why commit order rather than entry id order).

``verify_chain`` is the check: it recomputes each entry's content hash from what is stored and
walks the links in order. Rewriting an entry's row, its postings or its link, dropping an entry or
slipping one in is reported with the entry's id. This module is pure: canonical bytes and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from hashedge.domain.ledger import JournalEntry

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainLink:
    """Link ``seq`` of the chain: entry ``entry_id``'s content hash and the chain hash through it."""

    seq: int
    entry_id: int
    content_sha256: str
    chain_sha256: str


@dataclass(frozen=True)
class ChainFault:
    """Something the chain does not vouch for; ``entry_id`` names the entry (None for a link
    gap, where the missing link's entry is unknown)."""

    entry_id: int | None
    message: str


def _instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class StoredContent:
    """An entry's fields as stored, not validated: a tampered row may no longer balance, and the
    check must still be able to hash it."""

    entry_id: int
    kind: str
    idempotency_key: str
    memo: str
    occurred_at: datetime
    recorded_at: datetime
    postings: tuple[tuple[str, int], ...]  # (account key, amount_sats)

    @classmethod
    def of(cls, entry_id: int, entry: JournalEntry, recorded_at: datetime) -> StoredContent:
        return cls(entry_id, entry.kind.value, entry.idempotency_key, entry.memo, entry.occurred_at, recorded_at,
                   tuple((p.account.key, p.amount_sats) for p in entry.postings))

    def canonical(self) -> bytes:
        """The bytes the content hash covers: compact, key-sorted JSON (ASCII), postings in
        account-key order, times in UTC with microseconds."""
        payload = {
            "id": self.entry_id,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "memo": self.memo,
            "occurred_at": _instant(self.occurred_at),
            "recorded_at": _instant(self.recorded_at),
            "postings": [[key, amount] for key, amount in sorted(self.postings)],
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()


def content_sha256(entry_id: int, entry: JournalEntry, recorded_at: datetime) -> str:
    """The content hash of an entry about to be appended."""
    return StoredContent.of(entry_id, entry, recorded_at).sha256()


def next_link_sha256(previous_chain_sha256: str, entry_content_sha256: str) -> str:
    return hashlib.sha256((previous_chain_sha256 + entry_content_sha256).encode("ascii")).hexdigest()


def extend(head: ChainLink | None, entries: Iterable[tuple[int, str]]) -> list[ChainLink]:
    """The links that append ``entries`` ((entry id, content hash), in commit order) after ``head``."""
    seq, previous = (0, GENESIS) if head is None else (head.seq, head.chain_sha256)
    links = []
    for entry_id, digest in entries:
        seq += 1
        previous = next_link_sha256(previous, digest)
        links.append(ChainLink(seq, entry_id, digest, previous))
    return links


def verify_chain(links: Iterable[tuple[ChainLink, str | None]], unlinked_entry_ids: Iterable[int] = ()
                 ) -> tuple[list[ChainFault], ChainLink | None]:
    """Check the chain; returns the faults and the last link (the head).

    ``links`` are the stored links in ``seq`` order, each with the content hash recomputed from
    the stored entry (``StoredContent.sha256``; ``None`` when the entry it names is gone);
    ``unlinked_entry_ids`` are stored entries no link names.
    """
    faults: list[ChainFault] = []
    expected_seq, previous, head = 1, GENESIS, None
    for link, recomputed in links:
        gap = link.seq != expected_seq
        if gap:
            faults.append(ChainFault(None, _gap(expected_seq, link.seq)))
        if recomputed is None:
            faults.append(ChainFault(link.entry_id, f"entry {link.entry_id} is in the hash chain (link {link.seq}) "
                                     "but no longer in the journal"))
        elif recomputed != link.content_sha256:
            faults.append(ChainFault(link.entry_id, f"entry {link.entry_id} was rewritten: its content no longer "
                                     f"matches the hash recorded in link {link.seq}"))
        if not gap and next_link_sha256(previous, link.content_sha256) != link.chain_sha256:
            faults.append(ChainFault(link.entry_id, f"entry {link.entry_id}: link {link.seq} does not follow from "
                                     "the link before it (the chain was rewritten)"))
        expected_seq, previous, head = link.seq + 1, link.chain_sha256, link
    for entry_id in unlinked_entry_ids:
        faults.append(ChainFault(entry_id, f"entry {entry_id} is not in the hash chain (written outside "
                                 "the ledger)"))
    return faults, head


def _gap(expected_seq: int, seq: int) -> str:
    if seq < expected_seq:
        return f"link {seq} of the hash chain appears twice"
    if seq == expected_seq + 1:
        return f"link {expected_seq} of the hash chain is missing"
    return f"links {expected_seq} to {seq - 1} of the hash chain are missing"

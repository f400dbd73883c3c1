"""The journal's hash chain in storage (``journal_chain``): extended at commit, walked by the check.

Links are numbered in commit order. Extending the chain reads the head and appends after it, so
two transactions must never do it at once: on PostgreSQL ``extend`` first takes a transaction-
scoped advisory lock (``CHAIN_LOCK``; held until commit, and taken last, after every row lock the
transaction needs: see ``services.ledger``); SQLite serializes writers already (``BEGIN
IMMEDIATE``). Under READ COMMITTED the head read after the lock sees the previous holder's
committed link, because PostgreSQL makes a commit visible before it releases the committer's locks.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hashedge.adapters.bulk_rows import insert_rows
from hashedge.adapters.orm.ledger import JournalChainRow, JournalEntryRow, JournalPostingRow
from hashedge.adapters.write_pipeline import pipeline_of
from hashedge.domain.journal_chain import ChainFault, ChainLink, StoredContent, extend, verify_chain

CHAIN_LOCK = 0x48454A43  # "HEJC": pg_advisory_xact_lock key of the journal chain
_STREAM_ROWS = 5000
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_HEAD = text("SELECT seq, entry_id, content_sha256, chain_sha256 FROM journal_chain ORDER BY seq DESC LIMIT 1")


def lost_the_race(error: Exception) -> bool:
    """Whether ``error`` (SQLAlchemy's) is the chain's primary key refusing a link whose ``seq``
    exists: a transaction that assumed the head (``assume_head``) after another linked past it."""
    diag = getattr(getattr(error, "orig", None), "diag", None)
    return getattr(diag, "constraint_name", None) == "pk_journal_chain"


class JournalChainRepository:
    def __init__(self, session: Session):
        self.session = session
        self._assumed: ChainLink | None = None
        self.known_head: ChainLink | None = None  # the last link as this transaction leaves it, if known

    def assume_head(self, head: ChainLink) -> None:
        """Link this transaction's entries after ``head`` without reading the chain, in a write
        pipeline (the engine's kept state: the head its last batch committed, nothing written
        since). Safe whatever happened meanwhile: if another transaction linked after ``head``,
        this one's first link takes a ``seq`` that exists and the primary key refuses the whole
        transaction (``lost_the_race``)."""
        self._assumed = self.known_head = head

    def head(self) -> ChainLink | None:
        row = self.session.execute(_HEAD).first()
        return None if row is None else ChainLink(*row)

    def extend(self, appended: list[tuple[int, str]]) -> list[ChainLink]:
        """Link ``appended`` ((entry id, content hash), in the order the transaction wrote them)
        after the current head; the caller commits right after."""
        if not appended:
            return []
        if (pipeline := pipeline_of(self.session)) is not None:  # the lock, then the head: one round trip
            pipeline.write(_CHAIN_LOCK, {"key": CHAIN_LOCK})
            if self._assumed is not None:  # no round trip: sent with the links and the COMMIT
                links = extend(self._assumed, appended)
            else:
                head = pipeline.rows(_HEAD)
                links = extend(ChainLink(*head[0]) if head else None, appended)
        else:
            if self.session.get_bind().dialect.name == "postgresql":
                self.session.execute(_CHAIN_LOCK, {"key": CHAIN_LOCK})
            links = extend(self.head(), appended)
        insert_rows(self.session, JournalChainRow.__table__, [
            {"seq": link.seq, "entry_id": link.entry_id, "content_sha256": link.content_sha256,
             "chain_sha256": link.chain_sha256} for link in links
        ])
        self.known_head = links[-1]
        return links

    # --- verification --------------------------------------------------------------------

    def verify(self) -> tuple[list[ChainFault], ChainLink | None]:
        """Walk every link with its entry's recomputed content hash (one streamed query), then
        find entries without a link and postings without an entry."""
        faults, head = verify_chain(self._links_with_content(), self._unlinked_entry_ids())
        for entry_id in self._orphan_posting_entry_ids():
            faults.append(ChainFault(entry_id, f"postings for entry {entry_id}, which is not in the journal"))
        return faults, head

    def _links_with_content(self) -> Iterator[tuple[ChainLink, str | None]]:
        query = (
            select(JournalChainRow.seq, JournalChainRow.entry_id, JournalChainRow.content_sha256,
                   JournalChainRow.chain_sha256, JournalEntryRow.id, JournalEntryRow.kind,
                   JournalEntryRow.idempotency_key, JournalEntryRow.memo, JournalEntryRow.occurred_at,
                   JournalEntryRow.recorded_at, JournalPostingRow.account_key, JournalPostingRow.amount_sats)
            .outerjoin(JournalEntryRow, JournalEntryRow.id == JournalChainRow.entry_id)
            .outerjoin(JournalPostingRow, JournalPostingRow.entry_id == JournalChainRow.entry_id)
            .order_by(JournalChainRow.seq, JournalPostingRow.account_key)
        )
        current: ChainLink | None = None
        fields: tuple | None = None
        postings: list[tuple[str, int]] = []
        for row in self.session.execute(query.execution_options(yield_per=_STREAM_ROWS)):
            if current is None or row.seq != current.seq:
                if current is not None:
                    yield current, _recomputed(current, fields, postings)
                current = ChainLink(row.seq, row.entry_id, row.content_sha256, row.chain_sha256)
                fields = None if row.id is None else (row.kind, row.idempotency_key, row.memo, row.occurred_at,
                                                      row.recorded_at)
                postings = []
            if row.account_key is not None:
                postings.append((row.account_key, int(row.amount_sats)))
        if current is not None:
            yield current, _recomputed(current, fields, postings)

    def _unlinked_entry_ids(self) -> list[int]:
        return list(self.session.scalars(
            select(JournalEntryRow.id)
            .outerjoin(JournalChainRow, JournalChainRow.entry_id == JournalEntryRow.id)
            .where(JournalChainRow.seq.is_(None)).order_by(JournalEntryRow.id)
        ))

    def _orphan_posting_entry_ids(self) -> list[int]:
        return list(self.session.scalars(
            select(JournalPostingRow.entry_id).distinct()
            .outerjoin(JournalEntryRow, JournalEntryRow.id == JournalPostingRow.entry_id)
            .where(JournalEntryRow.id.is_(None)).order_by(JournalPostingRow.entry_id)
        ))


def _recomputed(link: ChainLink, fields: tuple | None, postings: list[tuple[str, int]]) -> str | None:
    if fields is None:
        return None
    kind, key, memo, occurred_at, recorded_at = fields
    return StoredContent(link.entry_id, kind, key, memo, occurred_at, recorded_at, tuple(postings)).sha256()

"""The matching engine's step: take the pending order requests in order and execute them as one
batch (``exchange.execute_batch``), marking exactly those inbox rows done in the same commit.

``process_batch`` reads up to ``batch_size`` pending requests in id order (of one instrument
group, when given), executes them in one transaction and, inside it, marks them done with their
outcomes; ``mark_done`` refuses (``StaleClaim``) unless every row was still pending, so a request
that another engine or an abandon took in the meantime rolls the whole batch back and the inbox
is read again: no request is executed twice, none is executed after it was abandoned.

A batch that fails unexpectedly (not a ``HashEdgeError``, which is one request's refusal) is
retried once whole, then request by request: a poison request gets ``OrderNotExecuted`` as its
outcome (logged) and the others go through, so it never blocks the inbox. A failure of the
database itself (``OperationalError``: a deadlock, a lock or statement timeout, a lost
connection) poisons nothing: the batch is left pending and read again at the next step. See
ORDER_PATH.md, "The engine and its inbox".

``execute_handed`` executes the requests that came over the engine's socket: it writes them into
the inbox (their claim: one statement, skipping a token its submitter abandoned first), executes
them and marks them done, all in one transaction, so a request is in the inbox only executed or
not at all. Should that batch fail, ``claim_requests`` writes them into the inbox as pending in a
transaction of their own and ``process_batch`` takes them from there, with its retries and its
poison handling: from the claim on they are inbox requests like any other (ORDER_PATH.md, "The
engine's socket").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError

from hashedge.adapters.repositories.exchange import InboxRequest, StaleClaim, TokenRequest
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.services.exchange import ChainMoved, OrderRequest, execute_batch
from hashedge.services.order_inbox import OrderNotExecuted, encode_outcome

DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchReport:
    """What one step did: requests answered (executed or refused), poisoned, and whether a
    claim went stale (another engine or an abandon got there first; nothing was stored)."""

    answered: int = 0
    poisoned: int = 0
    stale: bool = False
    retry: bool = False  # the database failed (OperationalError): nothing stored, read again
    outcomes: tuple[tuple[int, str], ...] = ()  # (request id, outcome JSON) of what was committed

    @property
    def idle(self) -> bool:
        return self.answered == 0 and self.poisoned == 0 and not self.stale and not self.retry


def _order_request(pending: InboxRequest) -> OrderRequest:
    r = pending.request
    return OrderRequest(request_id=pending.request_id, account_id=pending.account_id, instrument=r.get("instrument"),
                        side=r.get("side"), order_type=r.get("order_type"), quantity=r.get("quantity"),
                        price=r.get("price"), idempotency_key=r.get("idempotency_key"),
                        api_key_prefix=r.get("api_key_prefix"))


def claim_requests(uow_factory: Callable[[], UnitOfWork], clock: Clock,
                   requests: Sequence[TokenRequest]) -> dict[str, int]:
    """Append socket requests to the inbox as pending, in order, skipping tokens already there
    (abandoned by their submitters); token -> request id of those claimed, once committed."""
    with (uow := uow_factory()):
        claimed = uow.order_inbox.claim(list(requests), clock.now())
        uow.commit()
    return claimed


class _AbandonedMeanwhile(Exception):
    """A handed request's token was already in the inbox when the batch claimed it (its submitter
    abandoned it first): the batch, which executed it on the claim's provisional terms, rolls back
    whole and is executed again with the claim read first."""


def execute_handed(uow_factory: Callable[[], UnitOfWork], clock: Clock,
                   handed: Sequence[TokenRequest]) -> dict[str, tuple[int, str]]:
    """Claim and execute socket requests in one transaction (module docstring); token ->
    (request id, outcome JSON) of those executed, once committed (a token absent was abandoned
    by its submitter first). Raises what the batch raised, with nothing stored.

    On PostgreSQL the claim is not awaited: it goes out with the batch's locks, in their round
    trip, and the batch executes every handed request, numbered by its place in the hand until
    the claim's answer gives the inbox ids. That answer is read with the locks' and checked
    before the inbox rows are marked: should a token have been taken (an abandon, which comes only
    after its submitter waited seconds), the batch rolls back and runs again with the claim read
    first, executing only the requests it claimed. A batch whose journal chain head, assumed from
    the kept state, another transaction moved (``ChainMoved``) runs again once, reading it."""
    claim_first = chain_moved = False
    while True:  # at most three attempts: each of these happens once
        try:
            return _execute_handed(uow_factory, clock, handed, claim_first=claim_first)
        except _AbandonedMeanwhile:  # raised only when the claim was not read first
            claim_first = True
        except ChainMoved:  # nothing stored or kept; the next attempt reads the chain's head
            if chain_moved:
                raise
            chain_moved = True


def _execute_handed(uow_factory: Callable[[], UnitOfWork], clock: Clock, handed: Sequence[TokenRequest], *,
                    claim_first: bool) -> dict[str, tuple[int, str]]:
    claimed: dict[str, int] = {}
    claim: list[Callable[[], dict[str, int]]] = []

    def admit(uow: UnitOfWork) -> list[OrderRequest]:
        claim.append(uow.order_inbox.claim_later(list(handed), clock.now()))
        if not claim_first:  # every handed request, numbered by its place in the hand
            return [_order_request(InboxRequest(place, h.account_id, h.instrument, h.request))
                    for place, h in enumerate(handed)]
        claimed.update(claim[0]())
        return [_order_request(InboxRequest(claimed[h.token], h.account_id, h.instrument, h.request))
                for h in handed if h.token in claimed]

    def inbox_id(request_id: int) -> int:  # before the rows are marked; the claim's answer came with the locks'
        if claim_first:
            return request_id
        if not claimed:
            claimed.update(claim[0]())
            if len(claimed) != len(handed):
                raise _AbandonedMeanwhile(f"{len(handed) - len(claimed)} of {len(handed)} handed requests")
        return claimed[handed[request_id].token]

    # No NOTIFY: each submitter gets its reply over the socket, and one whose reply is lost finds
    # its token claimed and reads the row, which this commit leaves done (order_inbox._settle_lost);
    # nobody awaits these rows
    marked = dict(_run(uow_factory, clock, (), admit=admit, notify=False, inbox_id=inbox_id, claimed_here=True))
    return {token: (request_id, marked[request_id]) for token, request_id in claimed.items()}


def _run(uow_factory: Callable[[], UnitOfWork], clock: Clock,
         requests: Sequence[OrderRequest], admit=None, notify: bool = True,
         inbox_id: Callable[[int], int] = int, claimed_here: bool = False) -> list[tuple[int, str]]:
    """Execute ``requests`` (or what ``admit`` gives) as one batch and mark their inbox rows done
    in its commit; ``inbox_id`` gives a request's inbox row from the batch's request id;
    ``claimed_here``: ``admit`` appended every row in the batch's transaction
    (``OrderInboxRepository.mark_done``)."""
    marked: list[tuple[int, str]] = []

    def finish(uow: UnitOfWork, outcomes: list) -> None:
        marked.extend((inbox_id(request.request_id), encode_outcome(outcome)) for request, outcome in outcomes)
        uow.order_inbox.mark_done(marked, clock.now(), claimed_here=claimed_here)
        if notify:  # the submitters awaiting inbox rows (``await_outcome``)
            uow.order_inbox.notify_done([request_id for request_id, _ in marked])

    execute_batch(uow_factory(), clock, requests, finish=finish, admit=admit)
    return marked  # committed


def _poison(uow_factory: Callable[[], UnitOfWork], clock: Clock, request: OrderRequest) -> tuple[int, str] | None:
    """Answer a request that cannot be executed with ``OrderNotExecuted``; None if it was no
    longer pending."""
    outcome = (request.request_id, encode_outcome(OrderNotExecuted()))
    with (uow := uow_factory()):
        try:
            uow.order_inbox.mark_done([outcome], clock.now())
        except StaleClaim:
            return None
        uow.order_inbox.notify_done([request.request_id])
        uow.commit()
    return outcome


def process_batch(uow_factory: Callable[[], UnitOfWork], clock: Clock, *, batch_size: int = DEFAULT_BATCH_SIZE,
                  instruments: tuple[str, ...] | None = None) -> BatchReport:
    """Execute the next batch of pending requests (module docstring)."""
    with (uow := uow_factory()).read_only():
        pending = uow.order_inbox.pending(batch_size, instruments)
    if not pending:
        return BatchReport()
    requests = [_order_request(p) for p in pending]
    for attempt in (1, 2):
        try:
            return BatchReport(answered=len(requests), outcomes=tuple(_run(uow_factory, clock, requests)))
        except StaleClaim:
            return BatchReport(stale=True)
        except ChainMoved:  # nothing stored or kept: the second attempt reads the chain's head
            log.info("order batch of %d requests: the journal chain moved past its kept head; again", len(requests))
        except OperationalError:
            log.exception("order batch of %d requests failed in the database; it stays pending", len(requests))
            return BatchReport(retry=True)
        except Exception:
            log.exception("order batch of %d requests (ids %d-%d) failed, attempt %d", len(requests),
                          requests[0].request_id, requests[-1].request_id, attempt)
    answered = poisoned = 0
    stale = False
    outcomes: list[tuple[int, str]] = []
    for request in requests:  # one by one: only the poison request fails
        try:
            outcomes.extend(_run(uow_factory, clock, [request]))
            answered += 1
        except StaleClaim:
            stale = True
        except OperationalError:
            log.exception("order request %d failed in the database; it stays pending", request.request_id)
            return BatchReport(answered=answered, stale=stale, retry=True, outcomes=tuple(outcomes))
        except Exception:
            log.exception("order request %d cannot be executed; answered with an internal error",
                          request.request_id)
            if (poisoned_outcome := _poison(uow_factory, clock, request)) is not None:
                poisoned += 1
                outcomes.append(poisoned_outcome)
            else:
                stale = True
    return BatchReport(answered=answered, poisoned=poisoned, stale=stale, outcomes=tuple(outcomes))

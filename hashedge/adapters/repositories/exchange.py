"""The order inbox (``order_requests``): appending a request, the engine's read of the pending
ones in order, marking a batch done with its outcomes, abandoning, and the cheap read a waiting
submitter polls. Plain Core statements: these run several times per order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hashedge.adapters.bulk_rows import insert_new_rows_later, update_rows
from hashedge.adapters.orm.exchange import OrderRequestRow

OUTCOME_CHANNEL = "hashedge_order_outcomes"  # PostgreSQL NOTIFY channel: payload the request ids done
REQUEST_CHANNEL = "hashedge_order_requests"  # PostgreSQL NOTIFY channel: a request was appended
_NOTIFY_CHUNK = 600  # ids per NOTIFY (payloads stay far below PostgreSQL's 8,000 bytes)
_TABLE = OrderRequestRow.__table__


@dataclass(frozen=True)
class InboxRequest:
    """A pending request as the engine reads it: ``request`` is the JSON the submitter stored."""

    request_id: int
    account_id: int
    instrument: str
    request: dict


@dataclass(frozen=True)
class InboxState:
    status: str  # pending | done | abandoned
    outcome: str | None  # JSON, once done
    request_id: int | None = None


@dataclass(frozen=True)
class TokenRequest:
    """A request handed to the engine's socket, keyed by its submitter's token."""

    token: str
    account_id: int
    instrument: str
    request: dict


def _token_row(request: TokenRequest, status: str, at: datetime) -> dict:
    return {"token": request.token, "account_id": request.account_id, "instrument": request.instrument,
            "request": json.dumps(request.request, separators=(",", ":")), "status": status, "received_at": at}


class StaleClaim(Exception):
    """Fewer pending rows were marked done than the batch executed: another engine or an abandon
    got there first. Raised inside the batch's transaction, so the batch rolls back whole."""


class OrderInboxRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, account_id: int, instrument: str, request: dict, received_at: datetime) -> int:
        """Append a pending request; its id (the processing order). On PostgreSQL the engine is
        told at commit (NOTIFY ``REQUEST_CHANNEL``)."""
        request_id = int(self.session.execute(
            insert(_TABLE).values(account_id=account_id, instrument=instrument,
                                  request=json.dumps(request, separators=(",", ":")), status="pending",
                                  received_at=received_at).returning(_TABLE.c.id)).scalar_one())
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text(f"NOTIFY {REQUEST_CHANNEL}"))
        return request_id

    def claim(self, requests: list[TokenRequest], received_at: datetime) -> dict[str, int]:
        """Append these socket requests as pending rows, in order, except those whose token is
        already there (its submitter abandoned it first): token -> request id of those appended.
        One statement (ON CONFLICT DO NOTHING: a concurrent abandon of the same token waits for
        this transaction, then finds the row)."""
        return self.claim_later(requests, received_at)()

    def claim_later(self, requests: list[TokenRequest], received_at: datetime) -> Callable[[], dict[str, int]]:
        """``claim``, its answer wanted later: in a write pipeline the claim goes out with the
        statements queued after it (``bulk_rows.insert_new_rows_later``). A function giving
        token -> request id of the requests appended."""
        if not requests:
            return dict
        rows = [_token_row(r, "pending", received_at) for r in requests]
        inserted = insert_new_rows_later(self.session, _TABLE, rows, unique=("token",), returning=("id", "token"))
        return lambda: {token: int(request_id) for request_id, token in inserted()}

    def abandon_token(self, request: TokenRequest, at: datetime) -> bool:
        """Give up a socket request the engine may not have claimed: True if this inserted its
        row as ``abandoned`` (the engine's claim will then find the token taken and never execute
        it); False if the engine claimed it first (read its row with ``state_by_token``)."""
        return self.session.execute(self._insert_new_token().returning(_TABLE.c.id),
                                    _token_row(request, "abandoned", at) | {"done_at": at}
                                    ).first() is not None  # rowcount is not portable here

    def state_by_token(self, token: str) -> InboxState | None:
        row = self.session.execute(select(_TABLE.c.id, _TABLE.c.status, _TABLE.c.outcome)
                                   .where(_TABLE.c.token == token)).first()
        return InboxState(row.status, row.outcome, int(row.id)) if row else None

    def _insert_new_token(self):
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        return dialect.insert(_TABLE).on_conflict_do_nothing(index_elements=[_TABLE.c.token])

    def state(self, request_id: int) -> InboxState | None:
        row = self.session.execute(select(_TABLE.c.status, _TABLE.c.outcome).where(_TABLE.c.id == request_id)).first()
        return InboxState(row.status, row.outcome) if row else None

    def pending(self, limit: int, instruments: tuple[str, ...] | None = None) -> list[InboxRequest]:
        """Up to ``limit`` pending requests in id order (of ``instruments`` only, when given)."""
        query = select(_TABLE.c.id, _TABLE.c.account_id, _TABLE.c.instrument, _TABLE.c.request).where(
            _TABLE.c.status == "pending")
        if instruments is not None:
            query = query.where(_TABLE.c.instrument.in_(instruments))
        rows = self.session.execute(query.order_by(_TABLE.c.id).limit(limit)).all()
        return [InboxRequest(row.id, row.account_id, row.instrument, json.loads(row.request)) for row in rows]

    def mark_done(self, outcomes: list[tuple[int, str]], done_at: datetime, *, claimed_here: bool = False) -> None:
        """Mark these pending requests done with their outcomes (JSON), in one statement
        (``bulk_rows.update_rows``); raises ``StaleClaim`` unless every one of them was still
        pending (the exactly-once guard: the rows it changed, counted on SQLite and PostgreSQL
        alike, at once or when its pipelined answer arrives: ``write_pipeline``; the caller's
        transaction rolls back whatever this changed).

        ``claimed_here``: every row was appended by the caller's own transaction (``claim``), so
        no other can have seen it, let alone changed it, and the guard cannot fail: it is not
        awaited, and in a write pipeline the COMMIT may go out with this statement."""
        if not outcomes:
            return

        def all_pending(changed: int) -> None:  # when the answer arrives (it may be pipelined)
            if changed != len(outcomes):
                raise StaleClaim(f"{len(outcomes) - changed} of {len(outcomes)} requests were no longer pending")

        update_rows(self.session, _TABLE, ["id"], [
            {"id": i, "status": "done", "outcome": o, "done_at": done_at} for i, o in outcomes],
            only_if={"status": "pending"}, check=None if claimed_here else all_pending)

    def abandon(self, request_id: int, at: datetime) -> bool:
        """Give a pending request up: True if it was still pending (then it never executes)."""
        return self.session.execute(
            update(_TABLE).where(_TABLE.c.id == request_id, _TABLE.c.status == "pending")
            .values(status="abandoned", done_at=at)).rowcount == 1

    def notify_done(self, request_ids: list[int]) -> None:
        """PostgreSQL: tell the waiting submitters these requests are done (delivered at commit);
        elsewhere nothing (they poll)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for start in range(0, len(request_ids), _NOTIFY_CHUNK):
            payload = ",".join(str(i) for i in request_ids[start:start + _NOTIFY_CHUNK])
            self.session.execute(text("SELECT pg_notify(:channel, :payload)"),
                                 {"channel": OUTCOME_CHANNEL, "payload": payload})

    def counts(self) -> dict[str, int]:
        """Requests per status (operations and tests)."""
        rows = self.session.execute(select(_TABLE.c.status, func.count()).group_by(_TABLE.c.status)).all()
        return {status: int(count) for status, count in rows}

"""Submitting an order through the inbox and awaiting the matching engine's outcome.

``submit_order`` appends the request to ``order_requests`` (one short transaction), then waits for
its outcome, woken by one thread per process (``adapters.outcome_listener``: the engine's NOTIFY
on PostgreSQL, a read of the awaited requests after each commit on SQLite; ``Polling`` without
one), with a poll of its own as a fallback. The answer is what
``trading.place_order`` would have answered: the same ``PlacedOrder`` (the order at execution,
its fills and the fee on each, stored whole with the outcome) or the same error (class, code,
status, message, fields, and attributes such as ``OrderRejected.reason`` and ``shortfall_sats``).

On timeout the request is abandoned (``pending`` -> ``abandoned`` in one conditional UPDATE): if
that took, the engine will never execute it and the caller gets ``EngineUnavailable`` (nothing
was executed; retry, with the same idempotency key to be safe); if the engine got there first,
its outcome is read and answered. See ORDER_PATH.md, "The engine and its inbox".

With a ``handoff`` (the engine's local socket, ``adapters.engine_socket``) the request skips the
database on this side: it goes to the engine with a token of the submitter's drawing, the engine
writes it into the inbox itself (``claim``, many requests in one statement) and replies with the
outcome. A submitter that gets no reply settles by the token (``_settle_lost``): it inserts the
token as ``abandoned``, which only succeeds if the engine has not claimed it (then it never
will: nothing was executed), else it reads or awaits the claimed row. With no engine on the
socket, the request goes through the inbox as above. ORDER_PATH.md, "The engine's socket".
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from hashedge.adapters.engine_socket import EngineReplyLost, EngineUnreachable
from hashedge.adapters.repositories.exchange import TokenRequest
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.fills import Fill
from hashedge.domain.orders import Order
from hashedge.errors import HashEdgeError, Unauthenticated
from hashedge.services import accounts
from hashedge.services.trading import PlacedOrder

DEFAULT_TIMEOUT_S = 10.0
MAX_INSTRUMENT_LENGTH = 64  # the inbox's instrument column (the request's JSON keeps what was sent)
LOST_REPLY_GRACE_S = 1.0  # a socket request claimed but not yet done when its reply was lost: await it this long


class EngineUnavailable(HashEdgeError):
    """The matching engine did not answer in time and the request was withdrawn unexecuted."""

    code = "engine_unavailable"
    http_status = 503

    def __init__(self, request_id: int | None, timeout_s: float):
        super().__init__(f"the matching engine did not answer in time ({timeout_s:g} s); nothing was executed; retry",
                         fields={"order": ["not executed: the matching engine did not answer in time; retry"]})
        self.request_id = request_id


class OrderNotExecuted(HashEdgeError):
    """The engine could not execute this request (an unexpected failure, logged); nothing of it
    was stored. The answer a poison request gets instead of blocking the inbox."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str = "internal error while executing the order; nothing was executed; "
                                      "it has been logged"):
        super().__init__(message)


class OutcomeWaits(Protocol):
    """How a submitter sleeps between reads of its request's state: ``wait`` returns early when
    the outcome is there (a PostgreSQL notification, a per-process poll on SQLite:
    ``adapters.outcome_listener``), else after ``seconds``, from ``first_interval_s`` doubling up
    to ``max_interval_s``."""

    first_interval_s: float
    max_interval_s: float

    def expect(self, request_id: int) -> None: ...

    def wait(self, request_id: int, seconds: float) -> None: ...

    def forget(self, request_id: int) -> None: ...


class EngineHandoff(Protocol):
    """The engine's socket as a submitter sees it (``adapters.engine_socket.EngineSocketClient``):
    ``call`` returns the reply for the message's token, raises ``EngineUnreachable`` when nothing
    was sent and ``EngineReplyLost`` when no reply came in time."""

    def call(self, message: dict, timeout_s: float) -> dict: ...


class Polling:
    """Plain sleeps, each waiter reading its own row: 1 ms doubling to 10 ms."""

    first_interval_s = 0.001
    max_interval_s = 0.010

    def expect(self, request_id: int) -> None:
        pass

    def wait(self, request_id: int, seconds: float) -> None:
        time.sleep(seconds)

    def forget(self, request_id: int) -> None:
        pass


# --- outcomes as JSON ----------------------------------------------------------------------


def encode_outcome(outcome: PlacedOrder | HashEdgeError) -> str:
    """An outcome as stored on its inbox row, whole: a placed order with its state at execution,
    its fills and the fee its account paid on each (the submitter answers from it without reading
    anything else), an error by class and content."""
    if isinstance(outcome, PlacedOrder):
        body = {"placed": {"order": _plain(outcome.order), "style": outcome.style,
                           "fills": [_plain(f) for f in outcome.fills], "fees_sats": list(outcome.fees_sats),
                           "replayed": outcome.replayed}}
    else:
        attributes = {k: v for k, v in vars(outcome).items()
                      if k not in ("message", "fields") and (v is None or isinstance(v, (bool, int, str)))}
        body = {"error": {"class": _class_name(type(outcome)), "code": outcome.code,
                          "http_status": outcome.http_status, "message": outcome.message,
                          "fields": outcome.fields, "attributes": attributes}}
    return json.dumps(body, separators=(",", ":"))


def decode_outcome(stored: str) -> PlacedOrder | HashEdgeError:
    """The outcome stored by ``encode_outcome``."""
    body = json.loads(stored)
    if "error" in body:
        return _error(body["error"])
    placed = body["placed"]
    return PlacedOrder(Order(**_typed(placed["order"], ("price",), ("created_at",))), placed["style"],
                       tuple(Fill(**_typed(f, ("price",), ("occurred_at",))) for f in placed["fills"]),
                       replayed=placed["replayed"], fees_sats=tuple(placed["fees_sats"]))


def _plain(record) -> dict:
    """A domain dataclass as JSON values: enums by value, decimals as text, times in ISO 8601
    (the dataclasses turn the values back into their types, ``_typed`` the rest)."""
    def value(v):
        if isinstance(v, enum.Enum):
            return v.value
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, datetime):
            return v.isoformat()
        return v
    return {f.name: value(getattr(record, f.name)) for f in dataclasses.fields(record)}


def _typed(values: dict, decimals: tuple[str, ...], times: tuple[str, ...]) -> dict:
    return values | {k: None if values[k] is None else Decimal(values[k]) for k in decimals} | {
        k: datetime.fromisoformat(values[k]) for k in times}


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _error_classes() -> dict[str, type[HashEdgeError]]:
    found, todo = {}, [HashEdgeError]
    while todo:
        cls = todo.pop()
        found[_class_name(cls)] = cls
        todo.extend(cls.__subclasses__())
    return found


class _StoredError(HashEdgeError):
    """An error whose class this process does not know: same code, status, message and fields."""


def _error(body: dict) -> HashEdgeError:
    cls = _error_classes().get(body["class"])
    if cls is None:
        error = _StoredError(body["message"], fields=body["fields"])
        error.code, error.http_status = body["code"], body["http_status"]
        return error
    error = cls.__new__(cls)
    Exception.__init__(error, body["message"])
    error.message, error.fields = body["message"], body["fields"]
    for name, value in body["attributes"].items():
        setattr(error, name, value)
    return error


# --- submit and await ----------------------------------------------------------------------


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value  # as sent: the engine refuses a float price as place_order does
    return str(value)  # the engine refuses it as place_order would refuse the original


def order_request(*, instrument: object, side: object, order_type: object, quantity: object,
                  price: object = None, idempotency_key: str | None = None,
                  api_key_prefix: str | None = None) -> dict:
    """An order's terms as the inbox stores them (JSON values), with the prefix of an API key the
    engine must find unrevoked (``accounts.KeyHolder``) when there is one. Nothing is validated
    here: the engine validates exactly as ``place_order`` does."""
    request = {name: _json_value(value) for name, value in (
        ("instrument", instrument), ("side", side), ("order_type", order_type), ("quantity", quantity),
        ("price", price), ("idempotency_key", idempotency_key))}
    if api_key_prefix is not None:
        request["api_key_prefix"] = api_key_prefix
    return request


def instrument_column(request: dict) -> str:
    """The inbox's instrument column for a request (what an engine's group is matched on)."""
    instrument = request.get("instrument")
    return instrument[:MAX_INSTRUMENT_LENGTH] if isinstance(instrument, str) else ""


def enqueue_order(uow: UnitOfWork, clock: Clock, account_id: int, *, instrument: object, side: object,
                  order_type: object, quantity: object, price: object = None,
                  idempotency_key: str | None = None) -> int:
    """Append an order request to the inbox (one short transaction); its id."""
    return _append(uow, clock, account_id, order_request(instrument=instrument, side=side, order_type=order_type,
                                                         quantity=quantity, price=price,
                                                         idempotency_key=idempotency_key))


def _append(uow: UnitOfWork, clock: Clock, account_id: int, request: dict) -> int:
    with uow:
        request_id = uow.order_inbox.add(account_id, instrument_column(request), request, clock.now())
        uow.commit()
    return request_id


def await_outcome(uow_factory: Callable[[], UnitOfWork], clock: Clock, request_id: int, *,
                  timeout_s: float = DEFAULT_TIMEOUT_S, waits: OutcomeWaits | None = None) -> PlacedOrder:
    """Wait for the engine's outcome of ``request_id``: the placed order, or its error raised; on
    timeout the request is abandoned (``EngineUnavailable``) unless its outcome just arrived."""
    waits = waits or Polling()
    deadline = time.monotonic() + timeout_s
    interval = waits.first_interval_s
    waits.expect(request_id)
    try:
        while True:  # read first: the outcome may have come before ``expect``
            with (uow := uow_factory()).read_only():
                state = uow.order_inbox.state(request_id)
                if state is not None and state.status == "done":
                    return _answer(decode_outcome(state.outcome))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _abandon_or_answer(uow_factory(), clock, request_id, timeout_s)
            waits.wait(request_id, min(interval, remaining))
            interval = min(interval * 2, waits.max_interval_s)
    finally:
        waits.forget(request_id)


def _answer(outcome: PlacedOrder | HashEdgeError) -> PlacedOrder:
    if isinstance(outcome, HashEdgeError):
        raise outcome
    return outcome


def _abandon_or_answer(uow: UnitOfWork, clock: Clock, request_id: int, timeout_s: float) -> PlacedOrder:
    with uow:
        if uow.order_inbox.abandon(request_id, clock.now()):
            uow.commit()
            raise EngineUnavailable(request_id, timeout_s)
        state = uow.order_inbox.state(request_id)  # done just before: the write lock orders us after it
        outcome = decode_outcome(state.outcome)
    return _answer(outcome)


def submit_order(uow_factory: Callable[[], UnitOfWork], clock: Clock, account_id: int, *, instrument: object,
                 side: object, order_type: object, quantity: object, price: object = None,
                 idempotency_key: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
                 waits: OutcomeWaits | None = None, handoff: EngineHandoff | None = None,
                 api_key_prefix: str | None = None) -> PlacedOrder:
    """Place an order through the matching engine (module docstring): over its socket when a
    ``handoff`` is given and an engine listens, else through the inbox. The same answer as
    ``trading.place_order``, or ``EngineUnavailable`` when nothing was executed. With
    ``api_key_prefix`` (``accounts.KeyHolder.unchecked_prefix``) the engine refuses the order,
    Unauthenticated, unless that key is the account's and unrevoked; then this process stops
    recognising the key without a read."""
    request = order_request(instrument=instrument, side=side, order_type=order_type, quantity=quantity,
                            price=price, idempotency_key=idempotency_key, api_key_prefix=api_key_prefix)
    try:
        if handoff is not None:
            try:
                return _hand_over(handoff, uow_factory, clock, account_id, request, timeout_s, waits)
            except EngineUnreachable:
                pass  # nothing was sent: the inbox, for the engine that comes back or stands by
        request_id = _append(uow_factory(), clock, account_id, request)
        return await_outcome(uow_factory, clock, request_id, timeout_s=timeout_s, waits=waits)
    except Unauthenticated:
        if api_key_prefix is not None:
            accounts.forget_api_key(api_key_prefix)
        raise


def _hand_over(handoff: EngineHandoff, uow_factory: Callable[[], UnitOfWork], clock: Clock, account_id: int,
               request: dict, timeout_s: float, waits: OutcomeWaits | None) -> PlacedOrder:
    token = uuid.uuid4().hex
    started = time.monotonic()
    message = {"token": token, "account_id": account_id, "request": request,
               "deadline": time.time() + timeout_s}  # the engine claims nothing past it
    try:
        reply = handoff.call(message, timeout_s)
    except EngineReplyLost:
        return _settle_lost(uow_factory, clock, TokenRequest(token, account_id, instrument_column(request), request),
                            timeout_s, waits)
    if "outcome" in reply:
        return _answer(decode_outcome(reply["outcome"]))
    remaining = max(timeout_s - (time.monotonic() - started), 0.0)  # claimed for another group's engine
    return await_outcome(uow_factory, clock, int(reply["request_id"]), timeout_s=remaining, waits=waits)


def _settle_lost(uow_factory: Callable[[], UnitOfWork], clock: Clock, request: TokenRequest, timeout_s: float,
                 waits: OutcomeWaits | None) -> PlacedOrder:
    """No reply came: abandon the token unless the engine claimed it; else its outcome (awaited
    ``LOST_REPLY_GRACE_S`` at most, then abandoned as any inbox request)."""
    with (uow := uow_factory()):
        if uow.order_inbox.abandon_token(request, clock.now()):
            uow.commit()
            raise EngineUnavailable(None, timeout_s)
        state = uow.order_inbox.state_by_token(request.token)
    if state.status == "done":
        return _answer(decode_outcome(state.outcome))
    if state.status == "abandoned":  # pragma: no cover - only this submitter abandons its token
        raise EngineUnavailable(state.request_id, timeout_s)
    return await_outcome(uow_factory, clock, state.request_id, timeout_s=LOST_REPLY_GRACE_S, waits=waits)

"""Orders handed to the matching engine over its local socket, on SQLite and PostgreSQL: the same
answers as the direct path, written into the inbox by the engine with their tokens, and every
way of losing the reply settled by the token: abandoned before the engine's claim (never
executed), answered from the inbox after it, awaited and abandoned when claimed but not executed.
A request for another group's instruments is claimed and answered by its own engine; a request
past its deadline is not claimed; no engine on the socket means the inbox table."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from hashedge.adapters.engine_socket import EngineReplyLost, EngineSocketClient
from hashedge.adapters.orm.exchange import OrderRequestRow
from hashedge.adapters.orm.trading import OrderRow
from hashedge.adapters.repositories.exchange import TokenRequest
from hashedge.services import accounts, exchange_engine, ledger, order_inbox, trading
from hashedge.services.order_inbox import EngineUnavailable, OrderNotExecuted
from tests.integration.test_order_inbox import (
    BOUND_S,
    SYMBOL,
    Engine,
    answer,
    api_client,
    http_answers,
    market,
    outcomes_of,
    sequence,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def socket_path():
    """A path short enough for a Unix socket (pytest's tmp_path may not be)."""
    folder = tempfile.mkdtemp(prefix="he-")
    yield Path(folder) / "engine.sock"
    shutil.rmtree(folder, ignore_errors=True)


def listening(path: Path) -> None:
    """Until a connection to the engine's socket is accepted: the file exists from ``bind``, a
    moment before ``listen``, and a request sent in between would be refused and go to the inbox."""
    deadline = time.monotonic() + BOUND_S
    while True:
        if path.is_socket():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(path))
                    return
                except OSError:
                    pass
        assert time.monotonic() < deadline, "the engine never listened"
        time.sleep(0.01)


def tokens(runtime) -> list:
    with runtime.uow() as uow:
        return list(uow.session.execute(select(OrderRequestRow.status, OrderRequestRow.token)
                                        .order_by(OrderRequestRow.id)).all())


def order_count(runtime) -> int:
    with runtime.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(OrderRow))


def test_orders_over_the_socket_get_the_direct_paths_answers(runtime, twin, socket_path):
    direct_ids = market(runtime)
    assert market(twin) == direct_ids  # the same accounts on both sides: the same requests
    requests = sequence(*direct_ids)
    direct = outcomes_of(lambda account_id, **terms: trading.place_order(
        runtime.uow(), runtime.clock, account_id, **terms), requests)
    client = EngineSocketClient(socket_path)
    with Engine(twin, socket_path=socket_path) as engine:
        listening(socket_path)
        assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600  # only the engine's user may connect
        over_socket = outcomes_of(lambda account_id, **terms: order_inbox.submit_order(
            twin.uow, twin.clock, account_id, timeout_s=BOUND_S, handoff=client, **terms), requests)
    ranks_direct, ranks_socket = {}, {}
    assert [answer(o, ranks_socket) for o in over_socket] == [answer(o, ranks_direct) for o in direct]
    assert engine.totals.claimed == engine.totals.answered == len(requests)
    # the time it reports is its loop thread's while working: CPU within the wall time it was busy
    assert 0 < engine.totals.cpu_s <= engine.totals.busy_s + 0.01
    steps = engine.totals.busy_steps  # one per busy step, adding up to the totals
    assert sum(wall for wall, _ in steps) == pytest.approx(engine.totals.busy_s)
    assert sum(cpu for _, cpu in steps) == pytest.approx(engine.totals.cpu_s)
    rows = tokens(twin)
    assert [status for status, _ in rows] == ["done"] * len(requests)
    assert len({token for _, token in rows}) == len(requests) and all(len(t) == 32 for _, t in rows)
    assert ledger.check_balances(twin.uow()).ok
    assert not socket_path.exists()  # removed when the engine stopped


def test_orders_through_the_api_over_the_socket_get_the_direct_paths_answers(runtime, twin, socket_path):
    direct_keys, socket_keys = {}, {}
    market(runtime, direct_keys)
    market(twin, socket_keys)

    def body(side, quantity, price, order_type="limit"):
        return {"instrument": SYMBOL, "side": side, "type": order_type, "quantity": quantity, "price": price}
    requests = [("maker", body("sell", 3, "50000"), "m-1"), ("taker", body("buy", 4, "50000"), "t-1"),
                ("taker", body("buy", 4, "50000"), "t-1"), ("thin", body("buy", 50, "50000"), None),
                ("taker", body("sell", 2, None, "market"), None)]
    with api_client(runtime, "direct") as client:
        direct = http_answers(client, direct_keys, requests)
    socket_twin = dataclasses.replace(twin, settings=dataclasses.replace(twin.settings,
                                                                         engine_socket=str(socket_path)))
    with Engine(twin, socket_path=socket_path) as engine, api_client(socket_twin, "inbox") as client:
        listening(socket_path)
        over_socket = http_answers(client, socket_keys, requests)
    assert over_socket == direct
    assert [status for status, _, _ in direct] == [201, 201, 201, 422, 201]
    assert engine.totals.claimed == len(requests)


def statements_on_this_thread(runtime, action) -> tuple[int, object]:
    """The statements ``action`` sends from the calling thread (the engine's thread sends its own)."""
    me, count = threading.get_ident(), [0]

    def counted(*_args):
        if threading.get_ident() == me:
            count[0] += 1
    event.listen(runtime.engine, "before_cursor_execute", counted)
    try:
        result = action()
    finally:
        event.remove(runtime.engine, "before_cursor_execute", counted)
    return count[0], result


def test_a_key_the_worker_knows_is_not_read_and_its_revocation_is_checked_by_the_engine(runtime, socket_path):
    """The order's web request recognises a key it read before without reading it again (no
    statement at all from the worker), and the engine's batch refuses the order once the key is
    revoked: 401 as before, nothing stored; the worker then reads the key again."""
    keys = {}
    market(runtime, keys)
    body = {"instrument": SYMBOL, "side": "buy", "type": "limit", "quantity": 1, "price": "49990"}
    bearer = {"Authorization": f"Bearer {keys['taker']}"}
    socket_runtime = dataclasses.replace(runtime, settings=dataclasses.replace(runtime.settings,
                                                                               engine_socket=str(socket_path)))
    with Engine(runtime, socket_path=socket_path), api_client(socket_runtime, "inbox") as client:
        listening(socket_path)

        def post(headers=bearer):
            return client.post("/api/v1/orders", json=body, headers=headers)
        first_reads, first = statements_on_this_thread(runtime, post)
        again_reads, again = statements_on_this_thread(runtime, post)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first_reads > 0 and again_reads == 0  # the second request sent no statement
        wrong = keys["taker"][:-4] + ("AAAA" if not keys["taker"].endswith("AAAA") else "BBBB")
        assert post({"Authorization": f"Bearer {wrong}"}).status_code == 401  # refused in the worker
        claimed = len(tokens(runtime))  # the engine's claims, committed before it replies
        accounts.revoke_api_key(runtime.uow(), runtime.clock, keys["taker"].split("_")[1])
        refused_reads, refused = statements_on_this_thread(runtime, post)
        assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthenticated"
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="hashedge"'
        assert refused_reads == 0 and len(tokens(runtime)) == claimed + 1  # refused by the engine
        later_reads, later = statements_on_this_thread(runtime, post)
        assert later.status_code == 401 and later_reads > 0  # read again, refused in the worker
        assert len(tokens(runtime)) == claimed + 1
    assert order_count(runtime) == 2


class LostReply:
    """A socket whose reply never comes: ``act`` plays what the engine did before it went away."""

    def __init__(self, act=lambda message: None):
        self.act = act
        self.sent: list[dict] = []

    def call(self, message: dict, timeout_s: float) -> dict:
        self.sent.append(message)
        self.act(message)
        raise EngineReplyLost("the engine went away")


def claimed_by_an_engine(runtime, message: dict) -> dict:
    return exchange_engine.claim_requests(runtime.uow, runtime.clock, [TokenRequest(
        message["token"], message["account_id"], message["request"]["instrument"], message["request"])])


def test_a_reply_lost_before_the_engines_claim_abandons_the_token_and_it_never_executes(runtime):
    maker, _, _ = market(runtime)
    lost = LostReply()
    with pytest.raises(EngineUnavailable) as refused:
        order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                 order_type="limit", quantity=1, price=50000, timeout_s=BOUND_S, handoff=lost)
    assert refused.value.http_status == 503 and "nothing was executed" in refused.value.message
    assert claimed_by_an_engine(runtime, lost.sent[0]) == {}  # the engine's claim comes too late
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).idle
    assert tokens(runtime) == [("abandoned", lost.sent[0]["token"])] and order_count(runtime) == 0


def test_a_reply_lost_after_the_engine_executed_the_order_is_answered_from_the_inbox(runtime):
    maker, _, _ = market(runtime)

    def executed(message):
        assert claimed_by_an_engine(runtime, message)
        assert exchange_engine.process_batch(runtime.uow, runtime.clock).answered == 1

    placed = order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                      order_type="limit", quantity=2, price=50000, timeout_s=BOUND_S,
                                      handoff=LostReply(executed))
    assert (placed.order.quantity, placed.order.status.value) == (2, "open")
    assert [status for status, _ in tokens(runtime)] == ["done"] and order_count(runtime) == 1


def test_a_reply_lost_after_the_claim_only_is_awaited_then_abandoned_and_never_executes(runtime):
    maker, _, _ = market(runtime)
    lost = LostReply(lambda message: claimed_by_an_engine(runtime, message))  # claimed, then the engine died
    with pytest.raises(EngineUnavailable):
        order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                 order_type="limit", quantity=1, price=50000, timeout_s=BOUND_S, handoff=lost)
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).idle  # the restarted engine
    assert tokens(runtime) == [("abandoned", lost.sent[0]["token"])] and order_count(runtime) == 0


def test_a_handed_request_abandoned_before_its_batch_is_left_out_and_the_others_execute(runtime):
    """The batch claims its socket requests without awaiting the claim (on PostgreSQL it goes out
    with the locks); a token its submitter abandoned first rolls that batch back, and the batch
    runs again with the claim read first: the abandoned request never executes, the others do,
    once, in their order."""
    maker, taker, _ = market(runtime)

    def handed(token, account, side, quantity):
        request = order_inbox.order_request(instrument=SYMBOL, side=side, order_type="limit", quantity=quantity,
                                            price=50000, idempotency_key=None, api_key_prefix=None)
        return TokenRequest(token, account, SYMBOL, request)

    sell, gone, buy = handed("a" * 32, maker, "sell", 2), handed("b" * 32, taker, "buy", 1), handed("c" * 32, taker, "buy", 1)
    with runtime.uow() as uow:
        assert uow.order_inbox.abandon_token(gone, runtime.clock.now())
        uow.commit()
    executed = exchange_engine.execute_handed(runtime.uow, runtime.clock, [sell, gone, buy])
    assert set(executed) == {sell.token, buy.token}
    placed = {token: order_inbox.decode_outcome(outcome) for token, (_, outcome) in executed.items()}
    assert [len(placed[sell.token].fills), len(placed[buy.token].fills)] == [0, 1]
    assert tokens(runtime) == [("abandoned", gone.token), ("done", sell.token), ("done", buy.token)]
    with runtime.uow() as uow:  # the sell rests with what the one executed buy left of it
        assert sorted(uow.session.execute(select(OrderRow.side, OrderRow.quantity, OrderRow.filled_quantity))
                      ) == [("buy", 1, 1), ("sell", 2, 1)]
    assert ledger.check_balances(runtime.uow()).ok


def test_a_socket_request_that_breaks_its_batch_is_claimed_alone_and_fails_alone(runtime, socket_path, monkeypatch):
    maker, taker, _ = market(runtime)
    real = exchange_engine.execute_batch

    def poisoned(uow, clock, requests, *, admit=None, **kwargs):  # one request breaks any batch it is in
        def checked(u):
            admitted = list(admit(u)) if admit is not None else list(requests)
            if any(r.idempotency_key == "poison" for r in admitted):
                raise RuntimeError("a bug this request triggers")
            return admitted
        return real(uow, clock, (), admit=checked, **kwargs)

    monkeypatch.setattr(exchange_engine, "execute_batch", poisoned)
    client = EngineSocketClient(socket_path)

    def submit(account, side, key):
        return order_inbox.submit_order(runtime.uow, runtime.clock, account, instrument=SYMBOL, side=side,
                                        order_type="limit", quantity=1, price=50000, idempotency_key=key,
                                        timeout_s=BOUND_S, handoff=client)
    with Engine(runtime, socket_path=socket_path):
        listening(socket_path)
        resting = submit(maker, "sell", "a")
        with pytest.raises(OrderNotExecuted) as failed:
            submit(taker, "buy", "poison")
        filled = submit(taker, "buy", "b")
    assert (resting.order.status.value, filled.order.status.value) == ("open", "filled")
    assert failed.value.http_status == 500 and "nothing was executed" in failed.value.message
    assert [status for status, _ in tokens(runtime)] == ["done"] * 3 and order_count(runtime) == 2


def test_a_request_past_its_deadline_is_not_claimed_and_its_submitter_gets_a_503(runtime, socket_path):
    maker, _, _ = market(runtime)
    client = EngineSocketClient(socket_path)
    with Engine(runtime, socket_path=socket_path) as engine:
        listening(socket_path)
        with pytest.raises(EngineUnavailable):  # its deadline is closer than the engine's margin
            order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                     order_type="limit", quantity=1, price=50000, timeout_s=0.2, handoff=client)
    assert engine.totals.claimed == 0
    assert [status for status, _ in tokens(runtime)] == ["abandoned"] and order_count(runtime) == 0


def test_a_request_for_another_groups_instrument_is_claimed_and_answered_by_its_engine(runtime, socket_path):
    maker, _, _ = market(runtime)
    client = EngineSocketClient(socket_path)
    with Engine(runtime, instruments=("OTHER-1",), socket_path=socket_path) as other, \
            Engine(runtime, instruments=(SYMBOL,)) as own:
        listening(socket_path)
        placed = order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                          order_type="limit", quantity=1, price=50000, timeout_s=BOUND_S,
                                          handoff=client)
    assert placed.order.status.value == "open"
    assert (other.totals.claimed, other.totals.answered, own.totals.answered) == (1, 0, 1)


def test_with_no_engine_on_the_socket_an_order_goes_through_the_inbox(runtime, socket_path):
    maker, _, _ = market(runtime)
    with Engine(runtime) as engine:  # an engine without the socket
        placed = order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                          order_type="limit", quantity=1, price=50000, timeout_s=BOUND_S,
                                          handoff=EngineSocketClient(socket_path))
    assert placed.order.status.value == "open" and engine.totals.answered == 1
    assert tokens(runtime) == [("done", None)]


def test_the_engine_drops_malformed_lines_and_answers_the_next_request(runtime, socket_path):
    maker, _, _ = market(runtime)
    request = order_inbox.order_request(instrument=SYMBOL, side="sell", order_type="limit", quantity=1, price=50000)
    good = {"token": "a" * 32, "account_id": maker, "request": request, "deadline": time.time() + BOUND_S}
    with Engine(runtime, socket_path=socket_path):
        listening(socket_path)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(BOUND_S)
            raw.connect(str(socket_path))
            raw.sendall(b"not json\n" + json.dumps({"no": "token"}).encode() + b"\n"
                        + json.dumps(good | {"token": "short", "account_id": "x"}).encode() + b"\n"
                        + json.dumps(good).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                reply += raw.recv(65536)
    answered = json.loads(reply)
    assert answered["token"] == "a" * 32
    assert order_inbox.decode_outcome(answered["outcome"]).order.status.value == "open"
    assert tokens(runtime) == [("done", "a" * 32)]


SOCKET_ENGINE = """
import sys
from datetime import datetime, timedelta
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.jobs.engine import EngineProcess
url, now, instance, path = sys.argv[1:5]
runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": instance},
                                  secret_key="crash"), clock=FixedClock(datetime.fromisoformat(now)))
EngineProcess(runtime, lease_ttl=timedelta(seconds=1), socket_path=path).run()
"""


def test_an_engine_killed_before_its_batch_commits_leaves_the_request_unexecuted_and_its_submitter_gets_a_503(
        runtime, database_url, tmp_path, socket_path):
    import subprocess
    import sys

    maker, _, _ = market(runtime)
    env = {k: v for k, v in os.environ.items() if k != "HASHEDGE_FAULT"} | {
        "HASHEDGE_FAULT": "exchange.before_commit"}  # claimed and executed, not committed
    engine = subprocess.Popen([sys.executable, "-c", SOCKET_ENGINE, database_url, runtime.clock.now().isoformat(),
                               str(tmp_path / "instance"), str(socket_path)], env=env)
    try:
        listening(socket_path)
        with pytest.raises(EngineUnavailable):
            order_inbox.submit_order(runtime.uow, runtime.clock, maker, instrument=SYMBOL, side="sell",
                                     order_type="limit", quantity=1, price=50000, timeout_s=BOUND_S,
                                     handoff=EngineSocketClient(socket_path))
        assert engine.wait(BOUND_S) == -9
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(BOUND_S)
    assert exchange_engine.process_batch(runtime.uow, runtime.clock).idle  # the restarted engine: nothing to do
    [(status, token)] = tokens(runtime)
    assert status == "abandoned" and len(token) == 32 and order_count(runtime) == 0
    assert ledger.check_balances(runtime.uow()).ok

"""Load test of the deploy configuration: a plain script that prints figures (not a pytest test).

    .venv/bin/pip install -e '.[deploy]'          # gunicorn, as deploy/ runs it
    .venv/bin/python tests/bench/load_test.py     # SQLite, and PostgreSQL when a URL is set
    .venv/bin/python tests/bench/load_test.py --backend sqlite --rate 200 --seconds 15 --repeat 3
    .venv/bin/python tests/bench/load_test.py --engine inbox --scenarios place_order
    .venv/bin/python tests/bench/load_test.py --engine inbox --scenarios account --orders-beside 50

For each backend it prepares a database (the demo: two years of simulated blocks, every fixing,
the listed contracts and their marks; then accounts with API keys and collateral, a few resting
orders per contract and some positions), starts gunicorn with ``deploy/gunicorn.conf.py`` on a free
loopback port, and sends each scenario at a constant arrival rate (open loop: request i is due at
start + i / rate whatever happened to the earlier ones, and its latency is counted from when it was
due, so a server that falls behind shows it). It prints p50, p99 and max latency and the errors
(any status other than the expected one, a failed connection, or no answer within ``--timeout``;
a request the client could send only with less than a tenth of its timeout left is counted as timed
out and not sent),
and the server's own share: p50 and p99 of the time gunicorn took for the measured requests, from
the request read to the response written (its access log's request time; each request carries an
``X-Load-Test`` header naming it). What the client saw beyond that is queueing before a worker
thread read the request. Under each scenario it prints the CPU seconds each tier used, from the
scenario's start until the server had drained it, and per request due: the web workers, the
engine, PostgreSQL's processes and this client (``cpu_times``), so a run shows which tier the
load saturates.
Between scenarios it waits until the server has drained what an overloaded scenario left queued.
Reads use accounts 0-9 and orders are placed by accounts 10-19, so repeated runs read the same
accounts whatever the order scenario added to the books.

``--orders-beside R`` places R orders a second (their own open loop, not counted in the figures)
while each read scenario runs: what the reads cost while the database is written to.

Bounded: at most ``rate x (warm-up + seconds)`` requests per scenario and run (plus as many at
``--orders-beside``), each given up after ``--timeout`` seconds; loopback only. PostgreSQL: the server in
``HASHEDGE_TEST_POSTGRES_URL`` (or ``--postgres-url``), whose role may create databases; the
script creates its own database and drops it at the end. ``--engine inbox`` runs the deploy
configuration with the order inbox: gunicorn with ``HASHEDGE_ORDER_ENGINE=inbox``, whose
configuration starts ``hashedge engine run`` beside the workers (ORDER_PATH.md, "The engine and
its inbox"). ``--code DIR`` measures another checkout
(e.g. an export of main for "before" figures) with this script. Only the standard library besides
HashEdge's own dependencies and gunicorn.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

REPOSITORY = Path(__file__).resolve().parents[2]
SERVER_TIME_MARK = "load-test-request"  # the access-log lines the server times are read from
SCENARIOS = ("indices", "instruments", "book", "account", "positions", "orders", "place_order")
ACCOUNTS = 20
READERS = 10  # accounts 0-9 are read (0 and 1 make the books, 2-5 hold positions); 10-19 place orders,
#               so repeated runs read the same accounts however many orders the order scenario left
COLLATERAL_SATS = 10**10  # 100 BTC each: no order in the test is refused for margin
BOOK_LEVELS = 5  # resting levels per side per contract in the prepared book
MAX_RATE, MAX_SECONDS = 2000, 120
MIN_SEND_BUDGET_RATIO = 0.1  # a request with less than this share of its timeout left is not sent
IDLE_RECONNECT_S = 1.0  # a keep-alive connection idle longer is replaced (gunicorn closes them after 2 s)


# --- the prepared database (runs in a child process, on the code under test) -------------------


def prepare_database(database_url: str, instance_dir: str, output: str) -> None:
    """The demo's data plus accounts with API keys, resting orders and positions; what the load
    needs (keys, symbols, reference prices) goes to ``output`` as JSON."""
    from hashedge.bootstrap import bootstrap
    from hashedge.config import load_settings
    from hashedge.services import accounts, demo, instruments, ledger, trading

    settings = load_settings({"HASHEDGE_DATABASE_URL": database_url, "HASHEDGE_INSTANCE_DIR": instance_dir,
                              "HASHEDGE_SHARED_DATA": os.environ.get("HASHEDGE_SHARED_DATA", "")},
                             secret_key="load-test")
    runtime = bootstrap(settings)
    runtime.migrate()
    report = demo.prepare_demo(runtime, epochs_file=None, blocks_file=None, days=730, seed=1)
    keys, ids = [], []
    for n in range(ACCOUNTS):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, f"load-{n}")
        ledger.deposit(runtime.uow(), runtime.clock, account.id, COLLATERAL_SATS, f"load-seed-{n}")
        keys.append(key)
        ids.append(account.id)
    tradable = [v for v in instruments.list_instruments(runtime.uow(), runtime.clock)
                if v.trading_open and v.mark_price is not None]
    symbols = []
    for view in tradable:
        tick = view.tick_size
        base = (view.mark_price / tick).to_integral_value() * tick
        if base <= BOOK_LEVELS * tick:
            continue
        for level in range(1, BOOK_LEVELS + 1):  # two makers quote both sides
            for maker, side, sign in ((0, "buy", -1), (1, "sell", 1)):
                trading.place_order(runtime.uow(), runtime.clock, ids[maker], instrument=view.symbol, side=side,
                                    order_type="limit", quantity=level, price=base + sign * level * tick)
        for taker in range(2, 6):  # positions: takers lift the best offer and hit the best bid
            trading.place_order(runtime.uow(), runtime.clock, ids[taker], instrument=view.symbol,
                                side="buy" if taker % 2 else "sell", order_type="limit", quantity=1,
                                price=base + (tick if taker % 2 else -tick))
        symbols.append({"symbol": view.symbol, "tick": str(tick), "base": str(base)})
    Path(output).write_text(json.dumps({"keys": keys, "symbols": symbols, "demo": report.summary()}))
    runtime.close()


def _prepare(code: Path, database_url: str, instance_dir: Path) -> dict:
    output = instance_dir / "prepared.json"
    env = dict(os.environ, PYTHONPATH=str(code))
    started = time.monotonic()
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--prepare", database_url, str(instance_dir),
                    str(output)], cwd=code, env=env, check=True)
    prepared = json.loads(output.read_text())
    print(f"  prepared in {time.monotonic() - started:.0f} s: {prepared['demo']}; {ACCOUNTS} accounts, "
          f"{len(prepared['symbols'])} books", flush=True)
    return prepared


# --- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn with deploy/gunicorn.conf.py on a free loopback port, its log in ``log_path``;
    with ``engine="inbox"`` the configuration starts ``hashedge engine run`` beside the workers
    (its log in gunicorn's)."""

    def __init__(self, code: Path, database_url: str, instance_dir: Path, engine: str = "direct"):
        self.port = _free_port()
        self.inbox = engine == "inbox"
        self.log_path = instance_dir / "gunicorn.log"
        env = dict(os.environ, PYTHONPATH=str(code), HASHEDGE_DATABASE_URL=database_url,
                   HASHEDGE_INSTANCE_DIR=str(instance_dir), HASHEDGE_SECRET_KEY="load-test-secret",
                   HASHEDGE_BIND=f"127.0.0.1:{self.port}", HASHEDGE_ORDER_ENGINE=engine,
                   # the deploy configuration, plus an access-log line per request naming it with its
                   # time in microseconds (``server_times``)
                   GUNICORN_CMD_ARGS=f"--access-logformat '{SERVER_TIME_MARK} %({{x-load-test}}i)s %(D)s'")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(code / "deploy" / "gunicorn.conf.py"),
             "hashedge.web.wsgi:app"], cwd=code, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the workers answer and, with the inbox, the engine leads and listens on its socket
        (it starts beside them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {self.log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/api/v1/instruments")
                if connection.getresponse().status == 200 and (
                        not self.inbox or b"listens on" in self.log_path.read_bytes()):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout} s; see {self.log_path}")

    def drain(self, timeout: float = 90) -> float:
        """Wait until a request that touches nothing (a JSON 404) is answered within 50 ms three
        times running: whatever an overloaded scenario left queued is gone. Returns the wait."""
        started = time.monotonic()
        quick = 0
        while quick < 3 and time.monotonic() - started < timeout:
            sent = time.monotonic()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
                connection.request("GET", "/api/v1/no-such-route")
                connection.getresponse().read()
                connection.close()
                quick = quick + 1 if time.monotonic() - sent < 0.05 else 0
            except OSError:
                quick = 0
            time.sleep(0.2)
        return time.monotonic() - started

    def server_times(self, tag: str, first_measured: int) -> list[float]:
        """gunicorn's time (s) for each measured request of the run ``tag``, sorted."""
        times = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == SERVER_TIME_MARK and parts[1].startswith(f"{tag}:"):
                if int(parts[1][len(tag) + 1:]) >= first_measured:
                    times.append(int(parts[2]) / 1e6)
        return sorted(times)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# --- the load ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict
    body: bytes | None = None
    expect: int = 200


@dataclass
class Result:
    backend: str
    scenario: str
    rate: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    load_before: str
    load_after: str
    error_kinds: dict = field(default_factory=dict)
    server_p50_ms: float = float("nan")  # gunicorn's own time for the measured requests
    server_p99_ms: float = float("nan")
    cpu_seconds: dict = field(default_factory=dict)  # by process kind, over the scenario (``cpu_times``)
    due: int = 0  # requests due, warm-up included (what the CPU per request is divided by)

    def line(self) -> str:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.error_kinds.items()))
        cpu = ", ".join(f"{kind} {seconds:.1f} s ({seconds / max(self.due, 1) * 1e3:.2f} ms a request)"
                        for kind, seconds in self.cpu_seconds.items())
        return (f"  {self.scenario:12s} {self.requests:6d} req  {self.errors:5d} errors  p50 {self.p50_ms:8.1f} ms"
                f"  p99 {self.p99_ms:8.1f} ms  max {self.max_ms:8.1f} ms  server p50 {self.server_p50_ms:6.1f}"
                f" p99 {self.server_p99_ms:6.1f} ms  (load {self.load_before} -> {self.load_after})"
                f"{'  ' + kinds if kinds else ''}{chr(10) + '    CPU: ' + cpu if cpu else ''}")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_times(server_pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each kind of process this test involves: the
    web workers (gunicorn's master and workers), the matching engine (started by gunicorn's
    configuration), PostgreSQL's processes (every one on the machine: run on an otherwise idle
    one) and this client. Read from /proc (Linux; empty elsewhere). Differences of two readings
    are what a scenario cost each tier, so a run shows which one the load saturates."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return {}
    parent, used, command = {}, {}, {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm)": state, ppid, ...
            parent[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime, stime
            command[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile

    def under_server(pid: int) -> bool:
        while pid > 1:
            if pid == server_pid:
                return True
            pid = parent.get(pid, 0)
        return False

    totals = {"web": 0.0, "engine": 0.0, "postgres": 0.0, "client": 0.0}
    for pid, seconds in used.items():
        if pid == os.getpid():
            totals["client"] += seconds
        elif under_server(pid):
            totals["engine" if b"engine\0run" in command[pid] else "web"] += seconds
        elif command[pid].startswith(b"postgres"):
            totals["postgres"] += seconds
    return totals


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(1, int(round(fraction * len(sorted_values) + 0.5)))  # nearest rank
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One HTTP/1.1 response off ``reader``: its status and whether the server closes the
    connection after it (a body by Content-Length or chunked, read and dropped)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip().lower()
    if "chunked" in headers.get("transfer-encoding", ""):
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")  # no trailers are sent
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") == "close"


def _request_bytes(request: Request, extra: dict) -> bytes:
    body = request.body or b""
    headers = {"Host": "127.0.0.1", **request.headers, **extra, "Content-Length": str(len(body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"{request.method} {request.path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body


def open_loop(port: int, make: Callable[[int], Request], *, rate: int, seconds: float, warmup: float,
              timeout: float, connections: int, tag: str = "") -> tuple[list[float], dict[str, int], int]:
    """Send ``make(i)`` at ``start + i / rate``, with the header ``X-Load-Test: tag:i``, over at
    most ``connections`` keep-alive connections; latencies (s) of the measured requests (due after
    the warm-up), their error counts by kind, and how many were measured.

    One asyncio loop in one thread drives every connection, so the client adds no queueing of its
    own between threads; a request that waits is waiting for the server (compare the server's own
    times, ``Server.server_times``)."""
    return asyncio.run(_open_loop(port, make, rate=rate, seconds=seconds, warmup=warmup, timeout=timeout,
                                  connections=connections, tag=tag))


async def _open_loop(port: int, make: Callable[[int], Request], *, rate: int, seconds: float, warmup: float,
                     timeout: float, connections: int, tag: str) -> tuple[list[float], dict[str, int], int]:
    total = int(rate * (warmup + seconds))
    first_measured = int(rate * warmup)
    due: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    min_budget = timeout * MIN_SEND_BUDGET_RATIO

    def record(i: int, latency: float | None, error: str | None) -> None:
        if i < first_measured:
            return
        if error is None:
            latencies.append(latency)
        else:
            errors[error] = errors.get(error, 0) + 1

    async def exchange(stream, request: Request, i: int) -> tuple[int, bool]:
        reader, writer = stream
        writer.write(_request_bytes(request, {"X-Load-Test": f"{tag}:{i}"}))
        await writer.drain()
        return await _read_response(reader)

    async def connection_loop() -> None:
        stream, last_used = None, 0.0
        while (item := await due.get()) is not None:
            i, due_at = item
            if due_at + timeout - time.monotonic() < min_budget:
                # so late that it would time out anyway: counted as such, not sent, so an
                # overloaded server is not handed work whose answer nobody will wait for
                record(i, None, "timeout")
                continue
            request = make(i)
            if stream is not None and time.monotonic() - last_used > IDLE_RECONNECT_S:
                stream[1].close()  # gunicorn may be closing it (keep-alive timeout): a request on it would fail
                stream = None
            try:
                if stream is None:
                    stream = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
                status, closing = await asyncio.wait_for(exchange(stream, request, i),
                                                         max(due_at + timeout - time.monotonic(), 0.001))
                latency = time.monotonic() - due_at
                if status != request.expect:
                    record(i, None, f"HTTP {status}")
                else:
                    record(i, latency, None)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                    asyncio.TimeoutError) as exc:
                record(i, None, "timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__)
                closing = True
            last_used = time.monotonic()
            if closing and stream is not None:
                stream[1].close()
                stream = None
        if stream is not None:
            stream[1].close()

    tasks = [asyncio.create_task(connection_loop()) for _ in range(connections)]
    start = time.monotonic() + 0.05
    for i in range(total):
        due_at = start + i / rate
        pause = due_at - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        due.put_nowait((i, due_at))
    for _ in tasks:
        due.put_nowait(None)
    await asyncio.gather(*tasks)
    return sorted(latencies), errors, total - first_measured


def scenario_requests(name: str, prepared: dict, run_id: str) -> Callable[[int], Request]:
    keys = [{"Authorization": f"Bearer {key}"} for key in prepared["keys"]]
    symbols = [s["symbol"] for s in prepared["symbols"]]
    market = {"indices": lambda i: Request("GET", "/api/v1/indices", {}),
              "instruments": lambda i: Request("GET", "/api/v1/instruments", {}),
              "book": lambda i: Request("GET", f"/api/v1/instruments/{symbols[i % len(symbols)]}/book", {})}
    reads = {"account": "/api/v1/account", "positions": "/api/v1/positions", "orders": "/api/v1/orders"}
    if name in market:
        return market[name]
    if name in reads:
        return lambda i: Request("GET", reads[name], keys[i % READERS])
    from decimal import Decimal

    books = [(s["symbol"], Decimal(s["tick"]), Decimal(s["base"])) for s in prepared["symbols"]]

    def place(i: int) -> Request:
        draw = random.Random(f"{run_id}:{i}")  # the same order whatever connection sends it
        symbol, tick, base = books[draw.randrange(len(books))]
        side = draw.choice(("buy", "sell"))
        price = base + draw.randint(-BOOK_LEVELS, BOOK_LEVELS) * tick  # about half cross the spread
        body = json.dumps({"instrument": symbol, "side": side, "type": "limit",
                           "quantity": draw.randint(1, 3), "price": str(price)}).encode()
        headers = dict(keys[READERS + i % (len(keys) - READERS)], **{"Content-Type": "application/json",
                                                         "Idempotency-Key": f"load-{run_id}-{i}"})
        return Request("POST", "/api/v1/orders", headers, body, expect=201)

    return place


# --- backends and the report ------------------------------------------------------------------


def _postgres_database(admin_url: str, action: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if action == "create":
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


class _OrdersBeside(threading.Thread):
    """Orders placed at ``--orders-beside`` a second while a read scenario runs (its own open
    loop on its own connections, not counted in the scenario's figures): reads under writes."""

    def __init__(self, port: int, prepared: dict, args: argparse.Namespace):
        super().__init__(daemon=True)
        self.port, self.prepared, self.args = port, prepared, args
        self.measured, self.errors = 0, {}

    def run(self) -> None:
        args = self.args
        _, self.errors, self.measured = open_loop(
            self.port, scenario_requests("place_order", self.prepared, uuid.uuid4().hex[:8]),
            rate=args.orders_beside, seconds=args.seconds, warmup=args.warmup, timeout=args.timeout,
            connections=max(4, args.connections // 4), tag="beside")


def _orders_beside(port: int, prepared: dict, args: argparse.Namespace) -> _OrdersBeside | None:
    if not args.orders_beside:
        return None
    beside = _OrdersBeside(port, prepared, args)
    beside.start()
    return beside


def run_backend(backend: str, args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix=f"hashedge-load-{backend}-") as scratch:
        instance = Path(scratch)
        database_name = f"hashedge_load_{os.getpid()}"
        if backend == "sqlite":
            url = f"sqlite:///{instance / 'hashedge.sqlite'}"
        else:
            url = _postgres_database(args.postgres_url, "create", database_name)
        server = None
        try:
            print(f"{backend}: preparing the database", flush=True)
            prepared = _prepare(args.code, url, instance)
            server = Server(args.code, url, instance, args.engine)
            server.wait_ready()
            for repeat in range(args.repeat):
                print(f"{backend}: run {repeat + 1} of {args.repeat}, orders {args.engine}, {args.rate} req/s for {args.seconds:g} s "
                      f"(after {args.warmup:g} s of warm-up)"
                      + (f", {args.orders_beside} orders/s beside the reads" if args.orders_beside else ""), flush=True)
                for name in args.scenarios:
                    before = _load()
                    cpu_before = cpu_times(server.process.pid)
                    run_id = uuid.uuid4().hex[:8]
                    beside = _orders_beside(server.port, prepared, args) if name != "place_order" else None
                    latencies, errors, measured = open_loop(
                        server.port, scenario_requests(name, prepared, run_id), rate=args.rate,
                        seconds=args.seconds, warmup=args.warmup, timeout=args.timeout,
                        connections=args.connections,
                        tag=run_id)
                    after = _load()
                    if beside is not None:
                        beside.join()
                    time.sleep(args.pause)
                    waited = server.drain()
                    if waited > 5:
                        print(f"  (waited {waited:.0f} s for the server to drain)", flush=True)
                    cpu_after = cpu_times(server.process.pid)  # the drained queue's work included
                    cpu = {kind: cpu_after[kind] - cpu_before[kind] for kind in cpu_after
                           if kind in cpu_before and (kind != "postgres" or backend == "postgresql")
                           and (kind != "engine" or args.engine == "inbox")}
                    served = server.server_times(run_id, int(args.rate * args.warmup))  # logged by now
                    result = Result(backend, name, args.rate, args.seconds, measured, sum(errors.values()),
                                    _percentile(latencies, 0.50) * 1e3, _percentile(latencies, 0.99) * 1e3,
                                    (latencies[-1] if latencies else float("nan")) * 1e3, before, after, errors,
                                    _percentile(served, 0.50) * 1e3, _percentile(served, 0.99) * 1e3,
                                    cpu, int(args.rate * (args.warmup + args.seconds)))
                    print(result.line(), flush=True)
                    if beside is not None:
                        print(f"  {'':12s} beside it {beside.measured} orders at {args.orders_beside}/s, "
                              f"{sum(beside.errors.values())} errors", flush=True)
                    results.append(result)
        finally:
            if server is not None:
                server.stop()
                for line in server.log_path.read_text(errors="replace").splitlines():
                    if line.startswith("engine stopped:"):  # its totals over every run on this server
                        print(f"  {line}", flush=True)
                if args.keep_logs:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    kept = args.keep_logs / f"gunicorn-{backend}-{time.strftime('%H%M%S')}.log"
                    kept.write_bytes(server.log_path.read_bytes())
                    print(f"  gunicorn log kept in {kept}")
            if backend == "postgresql":
                _postgres_database(args.postgres_url, "drop", database_name)
    return results


def summary(results: list[Result]) -> None:
    """Median over repeats of each figure, per backend and scenario."""
    print("\nmedians over runs (p50 / p99 / max as the client saw them, gunicorn's own p50 / p99, in ms;"
          " errors summed):")
    keys = sorted({(r.backend, r.scenario) for r in results}, key=lambda k: (k[0], SCENARIOS.index(k[1])))
    for backend, scenario in keys:
        runs = [r for r in results if (r.backend, r.scenario) == (backend, scenario)]
        print(f"  {backend:10s} {scenario:12s} runs {len(runs)}  p50 {statistics.median(r.p50_ms for r in runs):8.1f}"
              f"  p99 {statistics.median(r.p99_ms for r in runs):8.1f}  max {statistics.median(r.max_ms for r in runs):8.1f}"
              f"  server p50 {statistics.median(r.server_p50_ms for r in runs):6.1f}"
              f" p99 {statistics.median(r.server_p99_ms for r in runs):6.1f}"
              f"  errors {sum(r.errors for r in runs)} of {sum(r.requests for r in runs)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--engine", choices=("direct", "inbox"), default="direct",
                        help="POST /orders in the web worker (direct) or through the inbox and an engine process")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--rate", type=int, default=200, help="requests per second (default 200)")
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds per scenario (default 15)")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured seconds first (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every scenario (default 1)")
    parser.add_argument("--timeout", type=float, default=10, help="seconds before a request is an error")
    parser.add_argument("--connections", "--threads", type=int, default=64,
                        help="client keep-alive connections (default 64), all driven by one asyncio loop")
    parser.add_argument("--orders-beside", type=int, default=0,
                        help="also place this many orders a second during each read scenario (default 0)")
    parser.add_argument("--pause", type=float, default=3, help="seconds between scenarios (default 3)")
    parser.add_argument("--code", type=Path, default=REPOSITORY, help="checkout to run (default this one)")
    parser.add_argument("--postgres-url", default=os.environ.get("HASHEDGE_TEST_POSTGRES_URL"))
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    parser.add_argument("--keep-logs", type=Path, help="copy gunicorn's log (access and errors) to this folder")
    args = parser.parse_args(argv)
    if not 0 <= args.orders_beside <= MAX_RATE or not 1 <= args.rate <= MAX_RATE or not 0 < args.seconds <= MAX_SECONDS or not 1 <= args.repeat <= 10:
        parser.error(f"rate 1..{MAX_RATE}, orders beside 0..{MAX_RATE}, seconds up to {MAX_SECONDS}, repeat 1..10")
    args.code = args.code.resolve()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not args.postgres_url:
        if args.backend == "postgresql":
            parser.error("no PostgreSQL URL: set HASHEDGE_TEST_POSTGRES_URL or --postgres-url")
        print("postgresql: skipped (no HASHEDGE_TEST_POSTGRES_URL)")
        backends.remove("postgresql")
    print(f"load test of {args.code} (deploy/gunicorn.conf.py); {os.cpu_count()} CPUs; load {_load()}")
    results = [r for backend in backends for r in run_backend(backend, args)]
    summary(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--prepare":
        sys.path.insert(0, os.getcwd())  # the code under test (cwd), before any installed copy
        prepare_database(*sys.argv[2:])
    else:
        sys.exit(main())

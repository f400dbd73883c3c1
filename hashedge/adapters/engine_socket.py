"""The matching engine's local socket: web processes hand order requests to the engine and read
its answers over a Unix stream socket, with no database statement on their side
(ORDER_PATH.md, "The engine's socket").

One JSON object per line each way. A submitter sends ``{"token", "account_id", "request",
"deadline"}`` and reads one reply for its token: ``{"token", "outcome"}`` (the outcome as
``order_inbox.encode_outcome`` stores it) or ``{"token", "request_id"}`` (claimed into the inbox
for another engine's group: await it there). Anyone who can connect can place orders for any
account, so the socket file is made readable and writable by the engine's user only (0600).

``EngineSocketClient`` keeps one connection per thread (a web worker's thread submits one order
at a time), reconnecting when the engine restarted. ``EngineSocketServer`` accepts connections
and reads each on a thread of its own, handing every message to the engine's loop; replies are
written by the engine's thread.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # an order request is a few hundred bytes; a longer line is dropped
MAX_SOCKET_PATH_BYTES = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


class EngineUnreachable(Exception):
    """No engine listens on the socket: nothing was sent."""


class EngineReplyLost(Exception):
    """The request was sent but no reply came (timeout, or the engine went away): whether it was
    executed is decided by its token (``order_inbox``)."""


def check_socket_path(path: str | os.PathLike) -> Path:
    """``path`` as a usable socket path, or ``ValueError`` saying why not."""
    path = Path(path)
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise ValueError(f"socket path longer than {MAX_SOCKET_PATH_BYTES} bytes: {path}")
    return path


class EngineSocketClient:
    def __init__(self, path: str | os.PathLike):
        self.path = str(check_socket_path(path))
        self._local = threading.local()

    def call(self, message: dict, timeout_s: float) -> dict:
        """Send ``message`` and return the reply for its token; ``EngineUnreachable`` if nothing
        was sent, ``EngineReplyLost`` if no reply came within ``timeout_s``."""
        connection = self._connection()
        deadline = time.monotonic() + timeout_s
        try:
            connection.settimeout(max(timeout_s, 0.001))
            connection.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            buffered = b""
            while b"\n" not in buffered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                connection.settimeout(remaining)
                chunk = connection.recv(65536)
                if not chunk:
                    raise ConnectionResetError("the engine closed the connection")
                buffered += chunk
                if len(buffered) > MAX_MESSAGE_BYTES * 16:
                    raise ConnectionResetError("reply too long")
            line, _, rest = buffered.partition(b"\n")
            reply = json.loads(line)
            if rest or reply.get("token") != message["token"]:
                raise ConnectionResetError("reply out of step with the request")
            return reply
        except (OSError, ValueError) as exc:  # timeout, reset, broken pipe, bad JSON
            self._drop()  # never reuse a connection whose next line may be a late reply
            raise EngineReplyLost(str(exc) or type(exc).__name__) from exc

    def _connection(self) -> socket.socket:
        connection = getattr(self._local, "connection", None)
        if connection is not None and not _alive(connection):
            self._drop()
            connection = None
        if connection is None:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                connection.connect(self.path)
            except OSError as exc:
                connection.close()
                raise EngineUnreachable(f"no engine on {self.path}: {exc}") from exc
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


def _alive(connection: socket.socket) -> bool:
    """False when the engine closed its end (restarted) or sent something unasked."""
    try:
        connection.setblocking(False)  # a timeout-mode socket would wait for data before peeking
        connection.recv(1, socket.MSG_PEEK)  # b"" (closed) or a stray byte
        return False
    except BlockingIOError:
        return True  # nothing to read: the connection is up and in step
    except OSError:
        return False


class Peer:
    """One submitter's connection on the engine's side: ``send`` is thread-safe and never raises
    (a submitter that went away resolves its request through its token)."""

    def __init__(self, connection: socket.socket):
        self._connection = connection
        self._lock = threading.Lock()
        self.closed = False

    def send(self, message: dict) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            if self.closed:
                return
            try:
                self._connection.sendall(data)
            except OSError:
                self.closed = True

    def close(self) -> None:
        with self._lock:
            self.closed = True
            try:
                self._connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._connection.close()


class EngineSocketServer:
    """Listens on ``path`` (replacing a stale socket file) and calls ``on_message(peer, message)``
    for each well-formed JSON object received; malformed lines are logged and dropped."""

    def __init__(self, path: str | os.PathLike, on_message: Callable[[Peer, dict], None]):
        self.path = check_socket_path(path)
        self._on_message = on_message
        self._peers: set[Peer] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None

    def start(self) -> None:
        if self.path.is_socket():
            self.path.unlink()  # left by an engine that died: we hold the group's lease now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # created 0600: no window in which others could connect
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
        listener.listen(512)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, name="engine-socket", daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                log.warning("engine socket: accept failed", exc_info=True)
                time.sleep(0.1)
                continue
            peer = Peer(connection)
            with self._lock:
                self._peers.add(peer)
            threading.Thread(target=self._read, args=(peer, connection), name="engine-peer", daemon=True).start()

    def _read(self, peer: Peer, connection: socket.socket) -> None:
        buffered = b""
        try:
            while not self._stopped.is_set():
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    self._deliver(peer, line)
                if len(buffered) > MAX_MESSAGE_BYTES:
                    log.warning("engine socket: a message over %d bytes; connection closed", MAX_MESSAGE_BYTES)
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._peers.discard(peer)
            peer.close()

    def _deliver(self, peer: Peer, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("engine socket: a line that is not JSON was dropped")
            return
        if isinstance(message, dict) and isinstance(message.get("token"), str):
            self._on_message(peer, message)
        else:
            log.warning("engine socket: a message without a token was dropped")

    def stop(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            peers, self._peers = list(self._peers), set()
        for peer in peers:
            peer.close()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
        try:
            if self.path.is_socket():
                self.path.unlink()
        except OSError:
            pass

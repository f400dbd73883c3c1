"""Bitcoin Core JSON-RPC block source.

Requests use the JSON-RPC 1.0 envelope every Core version accepts::

    {"jsonrpc": "1.0", "id": 7, "method": "getblockhash", "params": [840000]}

and Core answers ``{"result": ..., "error": null, "id": 7}``. For a failed call Core puts the error
object in the reply *and* sets the HTTP status: 500 for most errors, 404 for "method not found"
(-32601), 400 for an invalid request (-32600). So a 500 carrying a JSON-RPC error object is an
answer, not a server failure, and is never retried, except code -28 (RPC_IN_WARMUP: the node is
still loading) which clears by itself. (Core 28+ answers JSON-RPC 2.0 requests with HTTP 200 and
drops the null member; the parser below accepts both shapes.) A batch (a JSON array of requests)
is answered with HTTP 200 and an array of replies, each with its own error.

HTTP 401 (wrong user/password, or a cookie from before the node restarted) is never retried, but a
cookie file is read again once, since Core writes a fresh cookie at every start.

Mapping to ``Block`` (see ``getblockheader`` and ``getblockstats`` in Core's RPC help):

========================  =======================================================
Block field               from
========================  =======================================================
hash, time, height        header ``hash``, ``time``, ``height``
prev_hash                 header ``previousblockhash`` (absent for genesis: 64 zeros)
bits                      header ``bits``, hex text such as "17034219"
subsidy_sats              stats ``subsidy`` (satoshis)
total_fees_sats           stats ``totalfee`` (satoshis; needs the block's undo data,
                          so a pruned node cannot serve old blocks)
tx_count                  stats ``txs`` (coinbase included), else header ``nTx``
========================  =======================================================

Integer fields must arrive as JSON integers: an amount sent as a decimal (``"subsidy": 50.0``, BTC
instead of satoshis, as some hosted providers answer) is a ``SourceError`` naming the field, never
stored as 50 sats.
"""

from __future__ import annotations

import itertools
import json
import time as _time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, unquote

import requests

from indices.blocks import Block
from indices.sources.base import (
    DEFAULT_RETRY_POLICY,
    BlockNotFound,
    RetryPolicy,
    SourceError,
    TransientSourceError,
    call_with_retry,
    whole_number,
)
from indices.sources.transport import HttpTransport, Timeouts, body_snippet, is_transient_status, retry_after_seconds

GENESIS_PREV_HASH = "0" * 64
BLOCK_STATS = ("height", "subsidy", "totalfee", "txs", "time", "blockhash")

RPC_MISC_ERROR = -1
RPC_INVALID_ADDRESS_OR_KEY = -5  # "Block not found"
RPC_INVALID_PARAMETER = -8  # "Block height out of range"
RPC_IN_WARMUP = -28
RPC_METHOD_NOT_FOUND = -32601
_NOT_FOUND_CODES = (RPC_INVALID_ADDRESS_OR_KEY, RPC_INVALID_PARAMETER)

DEFAULT_BATCH_HEIGHTS = 200  # heights per HTTP request in blocks(): 400 calls for headers+stats


class BitcoindSource:
    """Blocks from a Bitcoin Core node over JSON-RPC (``getblockhash``/``getblockheader``/``getblockstats``).

    Credentials: ``user`` and ``password``, or ``cookie_file`` (the node's ``.cookie``, which holds
    ``__cookie__:<password>``), or ``http://user:password@host:8332`` in ``url``.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        cookie_file: str | Path | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        sleep: Callable[[float], None] = _time.sleep,
        batch_heights: int = DEFAULT_BATCH_HEIGHTS,
        session: requests.Session | None = None,
    ):
        parts = urlsplit(url)
        if user is None and parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
        if cookie_file is not None and user is not None:
            raise ValueError("give either user/password or a cookie file, not both")
        if batch_heights < 1:
            raise ValueError(f"batch_heights must be positive, got {batch_heights}")
        self._transport = HttpTransport(url, timeouts=timeouts, session=session)
        self._user, self._password = user, password
        self._cookie_file = Path(cookie_file) if cookie_file is not None else None
        self._cookie: tuple[str, str] | None = None
        self._retry, self._sleep = retry, sleep
        self._batch_heights = batch_heights
        self._ids = itertools.count(1)

    # -- JSON-RPC -----------------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One RPC call with retries; returns ``result`` or raises a ``SourceError``."""
        def attempt() -> Any:
            request_id = next(self._ids)
            reply = self._post({"jsonrpc": "1.0", "id": request_id, "method": method, "params": list(params)},
                               what=method)
            if not isinstance(reply, dict):
                raise SourceError(f"{method}: expected a JSON-RPC reply object from {self._transport.display_url}")
            return _result(reply, method, params)

        return call_with_retry(attempt, what=f"{method} at {self._transport.display_url}",
                               policy=self._retry, sleep=self._sleep)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one HTTP request (a JSON-RPC batch); results in the order of ``calls``.

        The first failing call raises (``BlockNotFound`` for -5/-8); -28 retries the whole batch.
        """
        if not calls:
            return []

        def attempt() -> list[Any]:
            ids = [next(self._ids) for _ in calls]
            payload = [{"jsonrpc": "1.0", "id": i, "method": m, "params": list(p)}
                       for i, (m, p) in zip(ids, calls)]
            replies = self._post(payload, what="batch")
            if isinstance(replies, dict):  # the whole batch was refused (e.g. parse error)
                _result(replies, "batch", ())
                raise SourceError("batch: expected an array of replies")
            if not isinstance(replies, list):
                raise SourceError("batch: expected an array of replies")
            by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
            missing = [i for i in ids if i not in by_id]
            if missing:
                raise SourceError(f"batch: {len(missing)} of {len(ids)} replies missing (first id {missing[0]})")
            replies_in_order = [by_id[i] for i in ids]
            if any(_error_code(r) == RPC_IN_WARMUP for r in replies_in_order):
                reply = next(r for r in replies_in_order if _error_code(r) == RPC_IN_WARMUP)
                raise TransientSourceError(f"node is warming up: {_error_message(reply)}")
            return [_result(r, m, p) for r, (m, p) in zip(replies_in_order, calls)]

        return call_with_retry(attempt, what=f"batch of {len(calls)} calls at {self._transport.display_url}",
                               policy=self._retry, sleep=self._sleep)

    def getblockcount(self) -> int:
        return int(self.call("getblockcount"))

    def getblockhash(self, height: int) -> str:
        return str(self.call("getblockhash", int(height)))

    def getblockheader(self, block_hash: str, verbose: bool = True) -> dict | str:
        return self.call("getblockheader", block_hash, verbose)

    def getblockstats(self, hash_or_height: str | int, stats: Sequence[str] | None = BLOCK_STATS) -> dict:
        """Per-block statistics; ``stats=None`` asks for all of them (slower: fee-rate percentiles)."""
        if stats is None:
            return self.call("getblockstats", hash_or_height)
        return self.call("getblockstats", hash_or_height, list(stats))

    # -- BlockSource --------------------------------------------------------------------------

    def tip_height(self) -> int:
        return self.getblockcount()

    def block_hash(self, height: int) -> str:
        return self.getblockhash(height)

    def block(self, height: int) -> Block:
        block_hash = self.getblockhash(height)
        header = self.getblockheader(block_hash)
        stats = self.getblockstats(block_hash)
        return block_from_rpc(height, block_hash, header, stats)

    def blocks(self, start_height: int, end_height: int) -> list[Block]:
        """Blocks ``start_height``..``end_height`` by JSON-RPC batches (two round trips per batch)."""
        if end_height < start_height:
            return []
        blocks: list[Block] = []
        for first in range(start_height, end_height + 1, self._batch_heights):
            heights = range(first, min(first + self._batch_heights, end_height + 1))
            hashes = self.batch([("getblockhash", [h]) for h in heights])
            details = self.batch([call for block_hash in hashes for call in (
                ("getblockheader", [block_hash, True]), ("getblockstats", [block_hash, list(BLOCK_STATS)]))])
            for index, (height, block_hash) in enumerate(zip(heights, hashes)):
                blocks.append(block_from_rpc(height, block_hash, details[2 * index], details[2 * index + 1]))
        _check_linked(blocks)
        return blocks

    def close(self) -> None:
        self._transport.close()

    # -- transport ----------------------------------------------------------------------------

    def _post(self, payload: Any, *, what: str) -> Any:
        """One HTTP POST; returns the decoded JSON reply (which may carry a JSON-RPC error)."""
        response = self._send(payload)
        if response.status_code == 401 and self._cookie_file is not None:
            self._cookie = None  # the node restarted and wrote a new cookie: read it once more
            response = self._send(payload)
        if response.status_code == 401:
            raise SourceError(f"authentication failed at {self._transport.display_url}: "
                              f"check the RPC user/password or cookie file (HTTP 401)")
        if response.status_code == 403:
            raise SourceError(f"access forbidden at {self._transport.display_url} (HTTP 403): "
                              "is this client allowed by the node's rpcallowip?")
        try:
            decoded = response.json()
        except ValueError:
            decoded = None
        if isinstance(decoded, list) or (isinstance(decoded, dict) and ("result" in decoded or "error" in decoded)):
            return decoded  # a JSON-RPC answer, whatever the status (Core uses 500/404 for errors)
        if is_transient_status(response.status_code):
            raise TransientSourceError(
                f"{what}: HTTP {response.status_code} from {self._transport.display_url}: {body_snippet(response)}",
                retry_after_seconds=retry_after_seconds(response))
        if response.status_code != 200:
            raise SourceError(f"{what}: HTTP {response.status_code} from {self._transport.display_url}: "
                              f"{body_snippet(response)}")
        raise SourceError(f"{what}: malformed JSON-RPC reply from {self._transport.display_url}: "
                          f"{body_snippet(response)}")

    def _send(self, payload: Any) -> requests.Response:
        return self._transport.send("POST", "/", data=json.dumps(payload), auth=self._credentials(),
                                    headers={"Content-Type": "application/json"})

    def _credentials(self) -> tuple[str, str] | None:
        if self._cookie_file is None:
            return (self._user, self._password or "") if self._user is not None else None
        if self._cookie is None:
            self._cookie = _read_cookie(self._cookie_file)
        return self._cookie


def block_from_rpc(height: int, block_hash: str, header: dict, stats: dict) -> Block:
    """A ``Block`` from verbose ``getblockheader`` and ``getblockstats`` results for one hash."""
    try:
        if header.get("hash") != block_hash or int(header["height"]) != height:
            raise SourceError(f"block {height}: header answers for {header.get('hash')} at height "
                              f"{header.get('height')} instead of {block_hash}")
        if header.get("confirmations") == -1:  # Core: -1 means no longer on the main chain
            raise BlockNotFound(f"block {height} ({block_hash}) left the main chain while being read (reorg)",
                                height=height, block_hash=block_hash)
        if "blockhash" in stats and stats["blockhash"] != block_hash:
            raise SourceError(f"block {height}: stats describe {stats['blockhash']} instead of {block_hash}")
        where = f"block {height}"
        tx_count = stats["txs"] if "txs" in stats else header["nTx"]
        return Block(
            height=height,
            hash=block_hash,
            prev_hash=header.get("previousblockhash", GENESIS_PREV_HASH),
            time=whole_number(header["time"], "getblockheader time", where=where),
            bits=int(header["bits"], 16),
            subsidy_sats=whole_number(stats["subsidy"], "getblockstats subsidy (satoshis)", where=where),
            total_fees_sats=whole_number(stats["totalfee"], "getblockstats totalfee (satoshis)", where=where),
            tx_count=whole_number(tx_count, "getblockstats txs", where=where),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(f"block {height}: unexpected getblockheader/getblockstats shape "
                          f"({type(exc).__name__}: {exc})") from None


def _check_linked(blocks: list[Block]) -> None:
    for previous, current in zip(blocks, blocks[1:]):
        if current.prev_hash != previous.hash:
            raise SourceError(f"block {current.height} does not link to block {previous.height}: "
                              "the node's chain changed while reading (reorg); try again")


def _error_code(reply: dict) -> int | None:
    error = reply.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        return code if isinstance(code, int) else None
    return None


def _error_message(reply: dict) -> str:
    error = reply.get("error")
    return str(error.get("message", "")) if isinstance(error, dict) else str(error)


def _result(reply: dict, method: str, params: Sequence[Any]) -> Any:
    """``result`` of one JSON-RPC reply, or the error it carries as the matching exception."""
    error = reply.get("error")
    if error is None:
        if "result" not in reply:
            raise SourceError(f"{method}: JSON-RPC reply has neither result nor error")
        return reply["result"]
    code, message = _error_code(reply), _error_message(reply)
    call = f"{method}({', '.join(json.dumps(p) for p in params)})"
    if code == RPC_IN_WARMUP:
        raise TransientSourceError(f"node is warming up: {message}")
    if code in _NOT_FOUND_CODES:
        height = params[0] if params and isinstance(params[0], int) else None
        block_hash = params[0] if params and isinstance(params[0], str) else None
        raise BlockNotFound(f"{call}: {message} (RPC error {code})", height=height, block_hash=block_hash)
    if code == RPC_METHOD_NOT_FOUND:
        raise SourceError(f"{call}: method not found: is this a Bitcoin Core node, and recent enough?")
    raise SourceError(f"{call}: {message} (RPC error {code})")


def _read_cookie(path: Path) -> tuple[str, str]:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SourceError(f"cannot read the RPC cookie file {path}: {exc.strerror or exc}") from None
    user, sep, password = text.partition(":")
    if not sep:
        raise SourceError(f"RPC cookie file {path} does not hold 'user:password'")
    return user, password

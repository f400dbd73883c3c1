"""Esplora (Blockstream) and mempool.space REST block source.

Endpoints used (Esplora API.md; mempool.space serves the same under ``/api``):

- ``GET /blocks/tip/height``  -> the tip height as plain text
- ``GET /block-height/:h``    -> the hash at height h as plain text (404 "Block not found" above the tip)
- ``GET /block/:hash``        -> JSON ``id, height, version, timestamp, tx_count, size, weight,
  merkle_root, previousblockhash (null for genesis), mediantime, nonce, bits, difficulty``; ``bits``
  is an integer here, not hex text as in Bitcoin Core
- ``GET /v1/block/:hash``     -> mempool.space only: the same object plus ``extras``, which carries
  ``totalFees`` (satoshis) and ``reward`` (subsidy + fees)
- ``GET /block/:hash/txs/0``  -> the first 25 transactions, the coinbase first

Fees: plain Esplora has no per-block fee total. Without ``extras`` the total is taken as the
coinbase's output sum minus the subsidy for the height. That equals the fees whenever the miner
claimed the full reward, which is nearly always; a block whose miner claimed less (a handful of
early blocks) shows correspondingly lower fees, never negative ones. The exact alternative, summing
``fee`` over every transaction, costs one request per 25 transactions (over a hundred per modern
block) and is not worth it for indices that average fees over 144 blocks.

``fees="auto"`` (the default) tries ``/v1/block/:hash`` first and, if the server does not know the
route, falls back to the coinbase method for the rest of the session; ``"extras"`` and
``"coinbase"`` force one method.

Amounts, times and counts must arrive as JSON integers: a decimal (``"value": 50.0``, BTC instead
of satoshis) is a ``SourceError`` naming the field.

Statuses: 404 -> ``BlockNotFound``; 429 and 5xx -> retried, then ``SourceUnavailable``; other
4xx -> ``SourceError`` at once.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable
from typing import Any

import requests

from indices.blocks import Block
from indices.chain import block_subsidy_sats
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
FEE_METHODS = ("auto", "extras", "coinbase")
_HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


class EsploraSource:
    """Blocks from an Esplora-compatible REST API, e.g. ``https://blockstream.info/api`` or
    ``https://mempool.space/api`` (the base URL is the part before ``/blocks/tip/height``)."""

    def __init__(
        self,
        base_url: str,
        *,
        fees: str = "auto",
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
        sleep: Callable[[float], None] = _time.sleep,
        session: requests.Session | None = None,
    ):
        if fees not in FEE_METHODS:
            raise ValueError(f"fees must be one of {', '.join(FEE_METHODS)}, got {fees!r}")
        self._transport = HttpTransport(base_url, timeouts=timeouts, session=session)
        self._fees = fees
        self._has_extras: bool | None = {"auto": None, "extras": True, "coinbase": False}[fees]
        self._retry, self._sleep = retry, sleep

    @property
    def fee_method(self) -> str:
        """"extras" or "coinbase" once known; "auto" before the first block was read."""
        return {None: "auto", True: "extras", False: "coinbase"}[self._has_extras]

    # -- BlockSource --------------------------------------------------------------------------

    def tip_height(self) -> int:
        text = self._get_text("/blocks/tip/height")
        try:
            return int(text)
        except ValueError:
            raise SourceError(f"tip height is not a number: {text[:80]!r}") from None

    def block_hash(self, height: int) -> str:
        if height < 0:
            raise BlockNotFound(f"no block at negative height {height}", height=height)
        text = self._get_text(f"/block-height/{int(height)}", height=height)
        if not _HASH_PATTERN.fullmatch(text):
            raise SourceError(f"block-height/{height}: expected a 64-character hex hash, got {text[:80]!r}")
        return text

    def block(self, height: int) -> Block:
        block_hash = self.block_hash(height)
        data = self._block_json(block_hash, height)
        return self._to_block(height, block_hash, data)

    def blocks(self, start_height: int, end_height: int) -> list[Block]:
        """One block at a time: REST has no batch; each block costs two or three requests."""
        blocks = [self.block(height) for height in range(start_height, end_height + 1)]
        for previous, current in zip(blocks, blocks[1:]):
            if current.prev_hash != previous.hash:
                raise SourceError(f"block {current.height} does not link to block {previous.height}: "
                                  "the explorer's chain changed while reading (reorg); try again")
        return blocks

    def close(self) -> None:
        self._transport.close()

    # -- mapping ------------------------------------------------------------------------------

    def _block_json(self, block_hash: str, height: int) -> dict:
        if self._has_extras is not False:
            try:
                data = self._get_json(f"/v1/block/{block_hash}", height=height, block_hash=block_hash)
            except BlockNotFound:
                if self._has_extras:
                    raise
                data = None  # plain Esplora has no /v1 route; decided below once /block answers
            if data is not None:
                if not isinstance(data.get("extras"), dict):
                    raise SourceError(f"v1/block/{block_hash}: no 'extras' object; is this mempool.space?")
                self._has_extras = True
                return data
        data = self._get_json(f"/block/{block_hash}", height=height, block_hash=block_hash)
        self._has_extras = False
        return data

    def _to_block(self, height: int, block_hash: str, data: Any) -> Block:
        try:
            if data["id"] != block_hash or int(data["height"]) != height:
                raise SourceError(f"block {height}: explorer answered for {data['id']} at height "
                                  f"{data['height']} instead of {block_hash}")
            subsidy_sats = block_subsidy_sats(height)
            extras = data.get("extras")
            where = f"block {height}"
            if isinstance(extras, dict) and "totalFees" in extras:
                fees_sats = whole_number(extras["totalFees"], "extras.totalFees (satoshis)", where=where)
            else:
                fees_sats = self._fees_from_coinbase(block_hash, height, subsidy_sats)
            return Block(
                height=height,
                hash=block_hash,
                prev_hash=data.get("previousblockhash") or GENESIS_PREV_HASH,
                time=whole_number(data["timestamp"], "timestamp", where=where),
                bits=whole_number(data["bits"], "bits", where=where),
                subsidy_sats=subsidy_sats,
                total_fees_sats=fees_sats,
                tx_count=whole_number(data["tx_count"], "tx_count", where=where),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"block {height}: unexpected block JSON shape ({type(exc).__name__}: {exc})") from None

    def _fees_from_coinbase(self, block_hash: str, height: int, subsidy_sats: int) -> int:
        txs = self._get_json(f"/block/{block_hash}/txs/0", height=height, block_hash=block_hash)
        if not isinstance(txs, list) or not txs:
            raise SourceError(f"block {height}: block/{block_hash}/txs/0 returned no transactions")
        coinbase = txs[0]
        if not coinbase["vin"] or not coinbase["vin"][0].get("is_coinbase"):
            raise SourceError(f"block {height}: the first transaction is not a coinbase")
        reward_sats = sum(whole_number(output["value"], f"coinbase output {n} value (satoshis)", where=f"block {height}")
                          for n, output in enumerate(coinbase["vout"]))
        return max(reward_sats - subsidy_sats, 0)  # a miner may under-claim; fees are never negative

    # -- HTTP ---------------------------------------------------------------------------------

    def _get_text(self, path: str, **where) -> str:
        return self._get(path, **where).text.strip()

    def _get_json(self, path: str, **where) -> Any:
        response = self._get(path, **where)
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"GET {self._transport.display_url}{path}: malformed JSON: "
                              f"{body_snippet(response)}") from None

    def _get(self, path: str, *, height: int | None = None, block_hash: str | None = None) -> requests.Response:
        shown = f"GET {self._transport.display_url}{path}"

        def attempt() -> requests.Response:
            response = self._transport.send("GET", path)
            status = response.status_code
            if status == 200:
                return response
            if status == 404:
                raise BlockNotFound(f"{shown}: not found (HTTP 404: {body_snippet(response)})",
                                    height=height, block_hash=block_hash)
            if is_transient_status(status):
                raise TransientSourceError(f"{shown}: HTTP {status}: {body_snippet(response)}",
                                           retry_after_seconds=retry_after_seconds(response))
            raise SourceError(f"{shown}: HTTP {status}: {body_snippet(response)}")

        return call_with_retry(attempt, what=shown, policy=self._retry, sleep=self._sleep)

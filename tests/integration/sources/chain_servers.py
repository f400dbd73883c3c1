"""Local stand-ins for a Bitcoin Core node and an Esplora/mempool.space explorer.

Each is a real HTTP server (stdlib ``http.server`` on 127.0.0.1, an ephemeral port, one thread per
request) answering with payloads shaped like the real APIs: Core's JSON-RPC 1.0 replies, its HTTP
status conventions (500 for RPC errors, 404 for unknown methods, 401 with an empty body), and
Esplora's text and JSON endpoints. Tests script failures through ``faults``: each entry is used
by one HTTP request, in order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import statistics
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from indices.blocks import Block, blocks_to_frame, frame_to_blocks
from indices.chain import bits_to_difficulty, block_work
from indices.sources.simulator import ChainSimulator, simulate_chain

RECENT_TIME = 1_700_000_000


def recent_chain(count: int = 30, *, seed: int = 3) -> list[Block]:
    """A short chain dated 2023, so blocks carry thousands of transactions and real fees."""
    return frame_to_blocks(simulate_chain(count, seed=seed, start_time=RECENT_TIME))


def reorged(blocks: list[Block], depth: int) -> list[Block]:
    """The same chain with its last ``depth`` blocks replaced by a competing branch."""
    return frame_to_blocks(ChainSimulator(blocks_to_frame(blocks)).with_reorg(depth).frame)


@dataclass
class Fault:
    """What one HTTP request meets instead of (or before) a normal answer."""

    status: int | None = None  # answer with this status and ``body``; None: answer normally
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay_seconds: float = 0.0  # sleep first (longer than the client's timeout: a timeout)


class FakeChainServer:
    """Shared machinery: the chain, recorded requests, scripted faults, the server thread."""

    handler_class: type[BaseHTTPRequestHandler]

    def __init__(self, blocks: list[Block]):
        self.blocks = list(blocks)
        self.stale: dict[str, Block] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, bytes, dict]] = []  # (method, path, body, headers)
        self._scheduled_reorg: tuple[int, list[Block]] | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # a client that timed out left
        self._server.chain = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeChainServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def replace_chain(self, blocks: list[Block]) -> None:
        """A reorg: blocks no longer on the chain stay known as stale."""
        with self._lock:
            current = {b.hash for b in blocks}
            self.stale.update({b.hash: b for b in self.blocks if b.hash not in current})
            self.blocks = list(blocks)

    def reorg_after_requests(self, count: int, blocks: list[Block]) -> None:
        """Switch to ``blocks`` once ``count`` requests were answered: a reorg mid-fetch."""
        self._scheduled_reorg = (count, list(blocks))

    def record(self, request: tuple) -> None:
        self.requests.append(request)
        if self._scheduled_reorg and len(self.requests) > self._scheduled_reorg[0]:
            self.replace_chain(self._scheduled_reorg[1])
            self._scheduled_reorg = None

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.pop(0) if self.faults else None

    def by_hash(self, block_hash: str) -> tuple[Block | None, bool]:
        """(block, on the main chain?)"""
        for block in self.blocks:
            if block.hash == block_hash:
                return block, True
        return self.stale.get(block_hash), False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one write: no Nagle/delayed-ACK stalls

    def log_message(self, format, *args):  # keep test output quiet
        pass

    @property
    def chain(self) -> FakeChainServer:
        return self.server.chain

    def send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_request(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.chain.record((self.command, self.path, body, dict(self.headers)))
        return body

    def apply_fault(self) -> bool:
        """True when a scripted fault answered this request."""
        fault = self.chain.next_fault()
        if fault is None:
            return False
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.status is None:
            return False
        headers = dict(fault.headers)
        self.send(fault.status, fault.body, headers.pop("Content-Type", "text/plain"), headers)
        return True


# -- Bitcoin Core ---------------------------------------------------------------------------------

class CoreRpcError(Exception):
    def __init__(self, code: int, message: str):
        self.code, self.message = code, message


class _CoreHandler(_Handler):
    def do_POST(self):
        body = self.read_request()
        node: FakeBitcoind = self.chain
        if self.headers.get("Authorization") != node.expected_authorization():
            self.send(401, b"", "text/html", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        if self.apply_fault():
            return
        try:
            request = json.loads(body)
        except ValueError:
            self.reply_error(None, -32700, "Parse error")
            return
        if isinstance(request, list):
            self.send(200, json.dumps([node.reply(r) for r in request]).encode() + b"\n")
            return
        reply = node.reply(request)
        if reply.get("error") is None:
            self.send(200, json.dumps(reply).encode() + b"\n")
        else:
            self.reply_error(reply["id"], reply["error"]["code"], reply["error"]["message"])

    def reply_error(self, request_id, code, message):
        # Core (JSON-RPC 1.0): 404 for "method not found", 400 for an invalid request, else 500.
        status = 404 if code == -32601 else 400 if code == -32600 else 500
        reply = {"result": None, "error": {"code": code, "message": message}, "id": request_id}
        self.send(status, json.dumps(reply).encode() + b"\n")


class FakeBitcoind(FakeChainServer):
    handler_class = _CoreHandler
    FULL_STATS = ("avgfee", "avgfeerate", "avgtxsize", "blockhash", "feerate_percentiles", "height", "ins",
                  "maxfee", "maxfeerate", "maxtxsize", "medianfee", "mediantime", "mediantxsize", "minfee",
                  "minfeerate", "mintxsize", "outs", "subsidy", "swtotal_size", "swtotal_weight", "swtxs", "time",
                  "total_out", "total_size", "total_weight", "totalfee", "txs", "utxo_increase", "utxo_size_inc",
                  "utxo_increase_actual", "utxo_size_inc_actual")

    def __init__(self, blocks, user="alice", password="s3cret"):
        super().__init__(blocks)
        self.user, self.password = user, password
        self.warmup_calls = 0
        self.pruned_below = -1
        self.json_rpc_2_replies = False
        self.amounts_in_btc = False  # "subsidy": 50.0 (BTC), as some hosted node providers answer

    def expected_authorization(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def calls(self) -> list:
        return [json.loads(body) for method, _, body, _ in self.requests if method == "POST"]

    def reply(self, request: dict) -> dict:
        request_id = request.get("id")
        try:
            if self.warmup_calls > 0:
                self.warmup_calls -= 1
                raise CoreRpcError(-28, "Loading block index…")
            method = getattr(self, "rpc_" + str(request.get("method")), None)
            if method is None:
                raise CoreRpcError(-32601, "Method not found")
            result = method(*request.get("params", []))
        except CoreRpcError as exc:
            return {"result": None, "error": {"code": exc.code, "message": exc.message}, "id": request_id}
        if self.json_rpc_2_replies:
            return {"jsonrpc": "2.0", "result": result, "id": request_id}
        return {"result": result, "error": None, "id": request_id}

    def _main_block(self, block_hash: str) -> tuple[Block, bool]:
        block, on_chain = self.by_hash(block_hash)
        if block is None:
            raise CoreRpcError(-5, "Block not found")
        return block, on_chain

    def rpc_getblockcount(self):
        return len(self.blocks) - 1

    def rpc_getblockhash(self, height):
        if not 0 <= height < len(self.blocks):
            raise CoreRpcError(-8, "Block height out of range")
        return self.blocks[height].hash

    def rpc_getblockheader(self, block_hash, verbose=True):
        block, on_chain = self._main_block(block_hash)
        tip = len(self.blocks) - 1
        window = [b.time for b in self.blocks[max(0, block.height - 10):block.height + 1]]
        header = {
            "hash": block.hash,
            "confirmations": tip - block.height + 1 if on_chain else -1,
            "height": block.height,
            "version": 536870912,
            "versionHex": "20000000",
            "merkleroot": hashlib.sha256(block.hash.encode()).hexdigest(),
            "time": block.time,
            "mediantime": int(statistics.median_low(window)),
            "nonce": block.height * 7919 % 2**32,
            "bits": f"{block.bits:08x}",
            "difficulty": bits_to_difficulty(block.bits),
            "chainwork": f"{block_work(block.bits) * (block.height + 1):064x}",
            "nTx": block.tx_count,
        }
        if block.height > 0:
            header["previousblockhash"] = block.prev_hash
        if on_chain and block.height < tip:
            header["nextblockhash"] = self.blocks[block.height + 1].hash
        return header

    def rpc_getblockstats(self, hash_or_height, stats=None):
        if isinstance(hash_or_height, int):
            if not 0 <= hash_or_height < len(self.blocks):
                raise CoreRpcError(-8, f"Target block height {hash_or_height} after current tip {len(self.blocks) - 1}")
            block = self.blocks[hash_or_height]
        else:
            block, _ = self._main_block(hash_or_height)
        if block.height <= self.pruned_below:
            raise CoreRpcError(-1, "Block not available (pruned data)")
        for name in stats or ():
            if name not in self.FULL_STATS:
                raise CoreRpcError(-8, f"Invalid selected statistic '{name}'")
        others = max(block.tx_count - 1, 1)
        full = {
            "avgfee": block.total_fees_sats // others, "avgfeerate": 25, "avgtxsize": 400,
            "blockhash": block.hash, "feerate_percentiles": [3, 5, 12, 30, 80], "height": block.height,
            "ins": 2 * others, "maxfee": block.total_fees_sats // 10, "maxfeerate": 500, "maxtxsize": 90_000,
            "medianfee": 2_000, "mediantime": block.time - 3_000, "mediantxsize": 225, "minfee": 0,
            "minfeerate": 1, "mintxsize": 150, "outs": 3 * others + 2, "subsidy": block.subsidy_sats,
            "swtotal_size": 1_000_000, "swtotal_weight": 3_000_000, "swtxs": others, "time": block.time,
            "total_out": 10**11, "total_size": 1_500_000, "total_weight": 3_990_000,
            "totalfee": block.total_fees_sats, "txs": block.tx_count, "utxo_increase": others,
            "utxo_size_inc": 80 * others, "utxo_increase_actual": others - 1, "utxo_size_inc_actual": 79 * others,
        }
        if self.amounts_in_btc:
            full |= {"subsidy": block.subsidy_sats / 1e8, "totalfee": block.total_fees_sats / 1e8}
        return {name: full[name] for name in (stats or full)}


# -- Esplora / mempool.space ------------------------------------------------------------------------

class _EsploraHandler(_Handler):
    def do_GET(self):
        self.read_request()
        if self.apply_fault():
            return
        explorer: FakeEsplora = self.chain
        parts = self.path.strip("/").split("/")
        try:
            answer = explorer.route(parts)
        except LookupError as exc:
            self.send(404, str(exc).encode(), "text/plain")
            return
        except ValueError as exc:  # electrs answers invalid input with 400 and a text reason
            self.send(400, str(exc).encode(), "text/plain")
            return
        if isinstance(answer, str):
            self.send(200, answer.encode(), "text/plain")
        else:
            self.send(200, json.dumps(answer).encode(), "application/json")


class FakeEsplora(FakeChainServer):
    """Esplora's REST API; with ``mempool_extras`` also mempool.space's ``/v1/block/:hash``."""

    handler_class = _EsploraHandler

    def __init__(self, blocks, *, mempool_extras: bool = False):
        super().__init__(blocks)
        self.mempool_extras = mempool_extras
        self.underclaimed_sats: dict[int, int] = {}  # height -> sats the miner left unclaimed
        self.amounts_in_btc = False  # values and fee totals as BTC decimals instead of satoshis

    def paths(self) -> list[str]:
        return [path for _, path, _, _ in self.requests]

    def route(self, parts: list[str]):
        match parts:
            case ["blocks", "tip", "height"]:
                return str(len(self.blocks) - 1)
            case ["blocks", "tip", "hash"]:
                return self.blocks[-1].hash
            case ["block-height", height] if height.isdigit():
                if int(height) >= len(self.blocks):
                    raise LookupError("Block not found")
                return self.blocks[int(height)].hash
            case ["block", block_hash]:
                return self.block_json(self._known(block_hash))
            case ["block", block_hash, "txs", *start]:
                return self.block_txs(self._known(block_hash), int(start[0]) if start else 0)
            case ["v1", "block", block_hash] if self.mempool_extras:
                return self.block_json(self._known(block_hash)) | {"extras": self.extras(self._known(block_hash))}
        raise LookupError(f"endpoint does not exist {'/' + '/'.join(parts)!r}")

    def _known(self, block_hash: str) -> Block:
        block, _ = self.by_hash(block_hash)
        if block is None:
            raise LookupError("Block not found")
        return block

    def block_json(self, block: Block) -> dict:
        window = [b.time for b in self.blocks[max(0, block.height - 10):block.height + 1]]
        return {
            "id": block.hash, "height": block.height, "version": 536870912, "timestamp": block.time,
            "tx_count": block.tx_count, "size": 1_600_000, "weight": 3_993_000,
            "merkle_root": hashlib.sha256(block.hash.encode()).hexdigest(),
            "previousblockhash": block.prev_hash if block.height > 0 else None,
            "mediantime": int(statistics.median_low(window)), "nonce": block.height * 7919 % 2**32,
            "bits": block.bits, "difficulty": bits_to_difficulty(block.bits),
        }

    def amount(self, sats: int) -> int | float:
        return sats / 1e8 if self.amounts_in_btc else sats

    def extras(self, block: Block) -> dict:
        return {"totalFees": self.amount(block.total_fees_sats), "medianFee": 12.5, "feeRange": [1, 2, 5, 12, 30, 60, 300],
                "reward": block.subsidy_sats + block.total_fees_sats,
                "pool": {"id": 111, "name": "Foundry USA", "slug": "foundryusa"},
                "avgFee": block.total_fees_sats // max(block.tx_count - 1, 1), "avgFeeRate": 20,
                "coinbaseRaw": "03" + f"{block.height:06x}", "orphans": [], "matchRate": 99.5,
                "expectedFees": block.total_fees_sats, "expectedWeight": 3_991_000}

    def block_txs(self, block: Block, start: int) -> list:
        if start % 25:
            raise ValueError("start index must be a multiple of 25")
        reward = block.subsidy_sats + block.total_fees_sats - self.underclaimed_sats.get(block.height, 0)
        coinbase = {
            "txid": hashlib.sha256(b"coinbase" + block.hash.encode()).hexdigest(), "version": 2, "locktime": 0,
            "vin": [{"txid": "0" * 64, "vout": 4294967295, "prevout": None,
                     "scriptsig": "03" + f"{block.height:06x}", "scriptsig_asm": "OP_PUSHBYTES_3 ...",
                     "witness": ["00" * 32], "is_coinbase": True, "sequence": 4294967295}],
            "vout": [{"scriptpubkey": "0014" + "ab" * 20, "scriptpubkey_asm": "OP_0 OP_PUSHBYTES_20 " + "ab" * 20,
                      "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": "bc1q4w46h2at4w46h2at4w46h2at4w46h2at8ldwyz",
                      "value": self.amount(reward - 546)},
                     {"scriptpubkey": "0014" + "cd" * 20, "scriptpubkey_asm": "OP_0 OP_PUSHBYTES_20 " + "cd" * 20,
                      "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": "bc1qehxumnwdehxumnwdehxumnwdehxumnwdq0a4lh",
                      "value": self.amount(546)},
                     {"scriptpubkey": "6a24aa21a9ed" + "00" * 32, "scriptpubkey_asm": "OP_RETURN OP_PUSHBYTES_36 ...",
                      "scriptpubkey_type": "op_return", "value": 0}],
            "size": 300, "weight": 1092, "fee": 0,
            "status": {"confirmed": True, "block_height": block.height, "block_hash": block.hash,
                       "block_time": block.time},
        }
        return [coinbase] if start == 0 else []

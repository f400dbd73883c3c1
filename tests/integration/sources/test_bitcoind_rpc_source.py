"""The Bitcoin Core JSON-RPC source against a local node stand-in speaking Core's wire format."""

import base64
import json

import pytest
from chain_servers import Fault, reorged

from indices.sources.base import BlockNotFound, BlockSource, RetryPolicy, SourceError, SourceUnavailable
from indices.sources.bitcoind import BLOCK_STATS, BitcoindSource, block_from_rpc
from indices.sources.transport import Timeouts


@pytest.fixture
def waits():
    return []


@pytest.fixture
def source(bitcoind, waits):
    return BitcoindSource(bitcoind.url, user="alice", password="s3cret", sleep=waits.append,
                          retry=RetryPolicy(max_attempts=3, jitter_ratio=0.0), timeouts=Timeouts(2.0, 2.0))


def test_the_tip_comes_from_getblockcount_in_a_json_rpc_1_0_request_with_basic_auth(source, bitcoind):
    assert source.tip_height() == 29
    assert bitcoind.calls() == [{"jsonrpc": "1.0", "id": 1, "method": "getblockcount", "params": []}]
    _, path, _, headers = bitcoind.requests[0]
    assert path == "/"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:s3cret").decode()
    assert headers["Content-Type"] == "application/json"


def test_a_block_maps_header_and_stats_fields_exactly(source, bitcoind, chain_blocks):
    assert isinstance(source, BlockSource)
    assert source.block(17) == chain_blocks[17]
    hash_17 = chain_blocks[17].hash
    assert bitcoind.calls() == [
        {"jsonrpc": "1.0", "id": 1, "method": "getblockhash", "params": [17]},
        {"jsonrpc": "1.0", "id": 2, "method": "getblockheader", "params": [hash_17, True]},
        {"jsonrpc": "1.0", "id": 3, "method": "getblockstats", "params": [hash_17, list(BLOCK_STATS)]},
    ]


def test_the_genesis_block_has_an_all_zero_previous_hash(source, chain_blocks):
    genesis = source.block(0)
    assert genesis.prev_hash == "0" * 64
    assert genesis == chain_blocks[0]


def test_a_range_of_blocks_takes_two_batch_requests_per_batch_of_heights(bitcoind, chain_blocks):
    source = BitcoindSource(bitcoind.url, user="alice", password="s3cret", batch_heights=5)
    assert source.blocks(3, 14) == chain_blocks[3:15]
    batches = bitcoind.calls()
    assert [len(b) for b in batches] == [5, 10, 5, 10, 2, 4]
    assert batches[0][0] == {"jsonrpc": "1.0", "id": 1, "method": "getblockhash", "params": [3]}
    assert [c["method"] for c in batches[1][:2]] == ["getblockheader", "getblockstats"]


def test_raw_rpc_methods_return_core_results(source, chain_blocks):
    block = chain_blocks[5]
    assert source.getblockhash(5) == block.hash
    header = source.getblockheader(block.hash)
    assert (header["bits"], header["nTx"], header["previousblockhash"], header["confirmations"]) == (
        f"{block.bits:08x}", block.tx_count, chain_blocks[4].hash, 25)
    assert source.getblockstats(block.hash) == {
        "height": 5, "subsidy": block.subsidy_sats, "totalfee": block.total_fees_sats, "txs": block.tx_count,
        "time": block.time, "blockhash": block.hash}
    assert len(source.getblockstats(5, stats=None)) == 31


def test_a_height_above_the_tip_is_block_not_found_without_retrying(source, bitcoind, waits):
    with pytest.raises(BlockNotFound) as caught:
        source.block_hash(99)
    assert str(caught.value) == "getblockhash(99): Block height out of range (RPC error -8)"
    assert caught.value.height == 99
    assert (len(bitcoind.requests), waits) == (1, [])


def test_an_unknown_hash_is_block_not_found(source):
    with pytest.raises(BlockNotFound) as caught:
        source.getblockheader("ab" * 32)
    assert str(caught.value) == f'getblockheader("{"ab" * 32}", true): Block not found (RPC error -5)'
    assert caught.value.block_hash == "ab" * 32


def test_a_range_reaching_above_the_tip_is_block_not_found(source):
    with pytest.raises(BlockNotFound, match=r"getblockhash\(30\): Block height out of range"):
        source.blocks(25, 32)


def test_other_rpc_errors_are_source_errors_and_not_retried(source, bitcoind, chain_blocks, waits):
    bitcoind.pruned_below = 10
    with pytest.raises(SourceError) as caught:
        source.block(4)
    assert type(caught.value) is SourceError
    assert str(caught.value) == (f'getblockstats("{chain_blocks[4].hash}", {json.dumps(list(BLOCK_STATS))}): '
                                 "Block not available (pruned data) (RPC error -1)")
    assert (len(bitcoind.requests), waits) == (3, [])


def test_an_unknown_method_answered_with_http_404_is_a_source_error(source, bitcoind):
    with pytest.raises(SourceError, match=r"^getchaintips\(\): method not found: is this a Bitcoin Core node"):
        source.call("getchaintips")
    assert len(bitcoind.requests) == 1


def test_wrong_credentials_fail_at_once_without_revealing_the_password(bitcoind, waits):
    source = BitcoindSource(bitcoind.url, user="alice", password="wrong", sleep=waits.append)
    with pytest.raises(SourceError) as caught:
        source.tip_height()
    assert type(caught.value) is SourceError
    assert str(caught.value) == (f"authentication failed at {bitcoind.url}: check the RPC user/password or "
                                 "cookie file (HTTP 401)")
    assert (len(bitcoind.requests), waits) == (1, [])


def test_credentials_in_the_url_are_used_and_kept_out_of_messages(bitcoind):
    url_with_password = bitcoind.url.replace("http://", "http://alice:s3cret@")
    assert BitcoindSource(url_with_password).tip_height() == 29
    with pytest.raises(BlockNotFound):
        BitcoindSource(url_with_password).block_hash(500)
    wrong = bitcoind.url.replace("http://", "http://alice:hunter2@")
    with pytest.raises(SourceError) as caught:
        BitcoindSource(wrong).tip_height()
    assert "hunter2" not in str(caught.value)


def test_a_cookie_file_authenticates_and_is_reread_once_after_the_node_restarts(bitcoind, tmp_path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:first")
    bitcoind.user, bitcoind.password = "__cookie__", "first"
    source = BitcoindSource(bitcoind.url, cookie_file=cookie)
    assert source.tip_height() == 29
    cookie.write_text("__cookie__:second")  # the node restarted and wrote a new cookie
    bitcoind.password = "second"
    assert source.tip_height() == 29
    assert len(bitcoind.requests) == 3  # the old cookie was refused once, then the new one read


def test_an_unreadable_cookie_file_is_a_clear_error(bitcoind, tmp_path):
    with pytest.raises(SourceError, match=r"cannot read the RPC cookie file .*\.cookie"):
        BitcoindSource(bitcoind.url, cookie_file=tmp_path / ".cookie").tip_height()


def test_a_server_error_is_retried_and_then_succeeds(source, bitcoind, waits):
    bitcoind.faults = [Fault(status=500, body=b"Internal Server Error"),
                       Fault(status=503, body=b"Work queue depth exceeded")]
    assert source.tip_height() == 29
    assert (len(bitcoind.requests), waits) == (3, [0.5, 1.0])


def test_a_node_still_warming_up_is_retried(source, bitcoind, waits):
    bitcoind.warmup_calls = 2
    assert source.tip_height() == 29
    assert (len(bitcoind.requests), waits) == (3, [0.5, 1.0])


def test_a_batch_meeting_a_warming_node_is_retried_whole(source, bitcoind, chain_blocks, waits):
    bitcoind.warmup_calls = 1
    assert source.blocks(0, 2) == chain_blocks[:3]
    assert [len(batch) for batch in bitcoind.calls()] == [3, 3, 6]
    assert waits == [0.5]


def test_persistent_server_errors_end_in_source_unavailable(source, bitcoind, waits):
    bitcoind.faults = [Fault(status=502, body=b"<html>\n<body>Bad Gateway</body>\n</html>") for _ in range(3)]
    with pytest.raises(SourceUnavailable) as caught:
        source.tip_height()
    assert str(caught.value) == (f"getblockcount at {bitcoind.url}: gave up after 3 attempts: getblockcount: "
                                 f"HTTP 502 from {bitcoind.url}: <html> <body>Bad Gateway</body> </html>")
    assert caught.value.attempts == 3


def test_a_reply_slower_than_the_timeout_is_retried(bitcoind, waits):
    source = BitcoindSource(bitcoind.url, user="alice", password="s3cret", sleep=waits.append,
                            timeouts=Timeouts(connect_seconds=1.0, read_seconds=0.2))
    bitcoind.faults = [Fault(delay_seconds=0.6)]
    assert source.tip_height() == 29
    assert len(bitcoind.requests) == 2
    assert len(waits) == 1


def test_replies_that_never_come_in_time_end_in_source_unavailable(bitcoind, waits):
    source = BitcoindSource(bitcoind.url, user="alice", password="s3cret", sleep=waits.append,
                            retry=RetryPolicy(max_attempts=2), timeouts=Timeouts(1.0, 0.2))
    bitcoind.faults = [Fault(delay_seconds=0.6) for _ in range(2)]
    with pytest.raises(SourceUnavailable) as caught:
        source.tip_height()
    assert str(caught.value).endswith(f"POST {bitcoind.url}/: timed out after 0.2 s waiting for a reply")


def test_malformed_json_is_a_source_error_without_retrying(source, bitcoind, waits):
    bitcoind.faults = [Fault(status=200, body=b'{"result": 29, "error": nul', headers={"Content-Type": "application/json"})]
    with pytest.raises(SourceError) as caught:
        source.tip_height()
    assert str(caught.value) == (f"getblockcount: malformed JSON-RPC reply from {bitcoind.url}: "
                                 '{"result": 29, "error": nul')
    assert (len(bitcoind.requests), waits) == (1, [])


def test_a_refused_connection_is_retried_then_unavailable(closed_port, waits):
    source = BitcoindSource(f"http://127.0.0.1:{closed_port}", user="u", password="p", sleep=waits.append,
                            retry=RetryPolicy(max_attempts=3, jitter_ratio=0.0))
    with pytest.raises(SourceUnavailable) as caught:
        source.tip_height()
    assert str(caught.value).startswith(f"getblockcount at http://127.0.0.1:{closed_port}: gave up after 3 "
                                        f"attempts: POST http://127.0.0.1:{closed_port}/: connection failed")
    assert waits == [0.5, 1.0]


def test_json_rpc_2_0_replies_without_an_error_member_are_understood(source, bitcoind):
    bitcoind.json_rpc_2_replies = True
    assert source.tip_height() == 29


def test_after_a_reorg_the_hash_at_a_height_changes(source, bitcoind, chain_blocks):
    before = source.block_hash(27)
    bitcoind.replace_chain(reorged(chain_blocks, depth=3))
    after = source.block_hash(27)
    assert before == chain_blocks[27].hash
    assert after != before
    assert source.block_hash(26) == chain_blocks[26].hash
    assert source.block(27).prev_hash == chain_blocks[26].hash


def test_a_header_of_a_block_that_left_the_main_chain_shows_minus_one_confirmations(source, bitcoind,
                                                                                    chain_blocks):
    stale_hash = chain_blocks[28].hash
    bitcoind.replace_chain(reorged(chain_blocks, depth=2))
    header = source.getblockheader(stale_hash)
    assert header["confirmations"] == -1
    with pytest.raises(BlockNotFound, match="left the main chain while being read"):
        block_from_rpc(28, stale_hash, header, source.getblockstats(stale_hash))


def test_a_reorg_between_hash_and_header_requests_is_block_not_found(source, bitcoind, chain_blocks):
    bitcoind.reorg_after_requests(1, reorged(chain_blocks, depth=2))
    with pytest.raises(BlockNotFound) as caught:
        source.block(28)
    assert str(caught.value) == (f"block 28 ({chain_blocks[28].hash}) left the main chain while being read "
                                 "(reorg)")
    assert source.block(28).hash != chain_blocks[28].hash


def test_a_reorg_during_a_range_read_is_block_not_found_not_a_mixed_chain(source, bitcoind, chain_blocks):
    bitcoind.reorg_after_requests(1, reorged(chain_blocks, depth=4))
    with pytest.raises(BlockNotFound, match="block 26 .* left the main chain"):
        source.blocks(20, 29)
    assert [b.hash for b in source.blocks(20, 29)][:6] == [b.hash for b in chain_blocks[20:26]]


def test_a_url_without_scheme_is_refused_without_showing_its_password():
    with pytest.raises(SourceError) as caught:
        BitcoindSource("alice:s3cret@127.0.0.1:8332")
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("reading", ["one block", "a range"])
def test_amounts_sent_in_btc_are_refused_naming_the_field_not_stored_as_sats(source, bitcoind, reading):
    bitcoind.amounts_in_btc = True  # "subsidy": 50.0 where Core sends 5000000000
    with pytest.raises(SourceError) as refused:
        source.block(3) if reading == "one block" else source.blocks(2, 4)
    assert "getblockstats subsidy (satoshis) must be a whole number, got 50.0" in str(refused.value)
    assert "BTC instead of satoshis" in str(refused.value)

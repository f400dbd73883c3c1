"""The Esplora / mempool.space REST source against a local explorer stand-in."""

import pytest
from chain_servers import Fault, reorged

from indices.sources.base import BlockNotFound, BlockSource, RetryPolicy, SourceError, SourceUnavailable
from indices.sources.esplora import EsploraSource
from indices.sources.transport import Timeouts


@pytest.fixture
def waits():
    return []


def make_source(explorer, waits, **options):
    options.setdefault("retry", RetryPolicy(max_attempts=3, jitter_ratio=0.0))
    return EsploraSource(explorer.url, sleep=waits.append, timeouts=Timeouts(1.0, 1.0), **options)


def test_the_tip_height_is_read_as_text(esplora, waits):
    source = make_source(esplora, waits)
    assert isinstance(source, BlockSource)
    assert source.tip_height() == 29
    assert esplora.paths() == ["/blocks/tip/height"]


def test_plain_esplora_fees_come_from_the_coinbase_outputs_minus_the_subsidy(esplora, chain_blocks, waits):
    source = make_source(esplora, waits)
    assert source.fee_method == "auto"
    assert source.block(12) == chain_blocks[12]
    assert source.block(13) == chain_blocks[13]
    h12, h13 = chain_blocks[12].hash, chain_blocks[13].hash
    assert esplora.paths() == [
        "/block-height/12", f"/v1/block/{h12}", f"/block/{h12}", f"/block/{h12}/txs/0",
        "/block-height/13", f"/block/{h13}", f"/block/{h13}/txs/0",
    ]
    assert source.fee_method == "coinbase"


def test_mempool_space_fees_come_from_the_block_extras(mempool_space, chain_blocks, waits):
    source = make_source(mempool_space, waits)
    assert source.block(12) == chain_blocks[12]
    assert mempool_space.paths() == ["/block-height/12", f"/v1/block/{chain_blocks[12].hash}"]
    assert source.fee_method == "extras"


def test_the_coinbase_method_can_be_forced_on_mempool_space(mempool_space, chain_blocks, waits):
    source = make_source(mempool_space, waits, fees="coinbase")
    assert source.block(3) == chain_blocks[3]
    assert mempool_space.paths() == ["/block-height/3", f"/block/{chain_blocks[3].hash}",
                                     f"/block/{chain_blocks[3].hash}/txs/0"]


def test_a_miner_claiming_less_than_the_reward_shows_lower_fees_never_negative_ones(esplora, chain_blocks, waits):
    esplora.underclaimed_sats = {5: 1_000, 6: chain_blocks[6].total_fees_sats + 50}
    source = make_source(esplora, waits, fees="coinbase")
    assert source.block(5).total_fees_sats == chain_blocks[5].total_fees_sats - 1_000
    assert source.block(6).total_fees_sats == 0


def test_the_genesis_block_null_previous_hash_becomes_all_zeros(esplora, chain_blocks, waits):
    genesis = make_source(esplora, waits).block(0)
    assert genesis.prev_hash == "0" * 64
    assert genesis == chain_blocks[0]


def test_integer_bits_are_kept_as_the_compact_value(esplora, chain_blocks, waits):
    assert make_source(esplora, waits).block(1).bits == chain_blocks[1].bits == 0x1D00FFFF


def test_a_range_of_blocks_is_read_one_block_at_a_time(esplora, chain_blocks, waits):
    assert make_source(esplora, waits).blocks(20, 24) == chain_blocks[20:25]


def test_a_height_above_the_tip_is_block_not_found_without_retrying(esplora, waits):
    source = make_source(esplora, waits)
    with pytest.raises(BlockNotFound) as caught:
        source.block(30)
    assert str(caught.value) == f"GET {esplora.url}/block-height/30: not found (HTTP 404: Block not found)"
    assert caught.value.height == 30
    assert (esplora.paths(), waits) == (["/block-height/30"], [])


def test_too_many_requests_waits_as_long_as_the_server_asks(esplora, waits):
    esplora.faults = [Fault(status=429, body=b"Too Many Requests", headers={"Retry-After": "3"})]
    assert make_source(esplora, waits).tip_height() == 29
    assert waits == [3.0]


def test_server_errors_are_retried_then_succeed(esplora, waits):
    esplora.faults = [Fault(status=502, body=b"Bad Gateway"), Fault(status=503, body=b"")]
    assert make_source(esplora, waits).tip_height() == 29
    assert (len(esplora.requests), waits) == (3, [0.5, 1.0])


def test_persistent_server_errors_end_in_source_unavailable(esplora, waits):
    esplora.faults = [Fault(status=500, body=b"Internal Server Error") for _ in range(3)]
    with pytest.raises(SourceUnavailable) as caught:
        make_source(esplora, waits).tip_height()
    shown = f"GET {esplora.url}/blocks/tip/height"
    assert str(caught.value) == f"{shown}: gave up after 3 attempts: {shown}: HTTP 500: Internal Server Error"


def test_a_client_error_is_a_source_error_at_once(esplora, waits):
    source = make_source(esplora, waits)
    esplora.faults = [Fault(status=400, body=b"Invalid hex string")]
    with pytest.raises(SourceError) as caught:
        source.tip_height()
    assert type(caught.value) is SourceError
    assert str(caught.value) == f"GET {esplora.url}/blocks/tip/height: HTTP 400: Invalid hex string"
    assert waits == []


def test_a_slow_reply_times_out_and_is_retried(esplora, waits):
    source = EsploraSource(esplora.url, sleep=waits.append, timeouts=Timeouts(1.0, 0.2))
    esplora.faults = [Fault(delay_seconds=0.6)]
    assert source.tip_height() == 29
    assert len(waits) == 1


def test_malformed_json_is_a_source_error_without_retrying(esplora, chain_blocks, waits):
    source = make_source(esplora, waits, fees="coinbase")
    esplora.faults = [Fault(), Fault(status=200, body=b'{"id": "00', headers={"Content-Type": "application/json"})]
    with pytest.raises(SourceError) as caught:
        source.block(7)
    assert str(caught.value) == f'GET {esplora.url}/block/{chain_blocks[7].hash}: malformed JSON: {{"id": "00'
    assert (len(esplora.requests), waits) == (2, [])


def test_a_block_hash_that_is_not_hex_is_refused(esplora, waits):
    esplora.faults = [Fault(status=200, body=b"<html>maintenance</html>")]
    with pytest.raises(SourceError, match=r"expected a 64-character hex hash, got '<html>maintenance</html>'"):
        make_source(esplora, waits).block_hash(3)


def test_after_a_reorg_the_hash_at_a_height_changes(esplora, chain_blocks, waits):
    source = make_source(esplora, waits)
    before = source.block_hash(28)
    esplora.replace_chain(reorged(chain_blocks, depth=3))
    assert before == chain_blocks[28].hash
    assert source.block_hash(28) != before
    assert source.block_hash(26) == chain_blocks[26].hash


def test_a_reorg_during_a_range_read_is_refused_rather_than_mixing_chains(esplora, chain_blocks, waits):
    source = make_source(esplora, waits, fees="coinbase")
    esplora.reorg_after_requests(3 * 3, reorged(chain_blocks, depth=7))  # 23-29 replaced after 22, 23, 24 were read
    with pytest.raises(SourceError) as caught:
        source.blocks(22, 27)
    assert str(caught.value) == ("block 25 does not link to block 24: the explorer's chain changed while "
                                 "reading (reorg); try again")


def test_an_unknown_fee_method_is_refused():
    with pytest.raises(ValueError, match="fees must be one of auto, extras, coinbase"):
        EsploraSource("http://127.0.0.1:1", fees="sum")


def test_a_url_without_scheme_is_a_source_error_naming_it():
    with pytest.raises(SourceError, match=r"source URL must start with http:// or https://, got 'blockstream.info/api'"):
        EsploraSource("blockstream.info/api")


@pytest.mark.parametrize("fees", ["extras", "coinbase"])
def test_amounts_sent_in_btc_are_refused_naming_the_field_not_stored_as_sats(mempool_space, waits, fees):
    mempool_space.amounts_in_btc = True
    with pytest.raises(SourceError) as refused:
        make_source(mempool_space, waits, fees=fees).block(3)
    field = "extras.totalFees (satoshis)" if fees == "extras" else "coinbase output 0 value (satoshis)"
    assert f"block 3: {field} must be a whole number, got " in str(refused.value)
    assert "BTC instead of satoshis" in str(refused.value)

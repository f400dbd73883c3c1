"""Properties of fixings on random chains with MTP-valid, often backwards header times.

Immutability is the point: a fixing, once publishable, is a function of the blocks it was
published from, so a longer chain (prefix extension) or a shorter frame holding its inputs
(suffix, what incremental publication loads) gives back exactly the same record.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index_builders import random_chain
from indices.fixings import compute_fixings
from tests.hypothesis_profiles import examples

chains = st.builds(
    lambda seed, blocks, interval, jitter, offset: random_chain(
        blocks, seed=seed, mean_interval_seconds=interval, jitter_seconds=jitter,
        start_height=2016 * 3 - offset, mean_fees_sats=10_000_000),
    seed=st.integers(0, 2**32 - 1),
    blocks=st.integers(150, 2500),
    interval=st.sampled_from([120.0, 600.0, 3000.0]),
    jitter=st.sampled_from([0, 900, 3600]),
    offset=st.integers(0, 2000),
)
property_settings = settings(max_examples=examples(30), deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@property_settings
@given(chain=chains)
def test_recomputing_fixings_from_the_same_frame_gives_identical_records(chain):
    assert compute_fixings(chain, None) == compute_fixings(chain.copy(), None)


@property_settings
@given(chain=chains, share=st.floats(0.05, 0.95), confirmations=st.integers(1, 12))
def test_fixings_of_a_prefix_are_unchanged_on_the_longer_chain(chain, share, confirmations):
    prefix = chain.iloc[: max(1, int(len(chain) * share))]
    longer = {f.identity: f for f in compute_fixings(chain, None, confirmations=confirmations)}
    for fixing in compute_fixings(prefix, None, confirmations=confirmations):
        assert longer.get(fixing.identity) == fixing


@property_settings
@given(chain=chains, share=st.floats(0.05, 0.95))
def test_fixings_from_a_later_starting_frame_equal_those_of_the_whole_chain(chain, share):
    suffix = chain.iloc[int(len(chain) * share):].reset_index(drop=True)
    whole = {f.identity: f for f in compute_fixings(chain, None)}
    for fixing in compute_fixings(suffix, None):
        assert whole.get(fixing.identity) == fixing


@property_settings
@given(chain=chains, share=st.floats(0.05, 0.95))
def test_an_earlier_tip_height_is_the_same_as_cutting_the_frame_there(chain, share):
    tip = int(chain["height"].iloc[max(0, int(len(chain) * share) - 1)])
    cut = chain[chain["height"] <= tip]
    assert compute_fixings(chain, None, tip_height=tip) == compute_fixings(cut, None)

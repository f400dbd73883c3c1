"""A deterministic, seeded Bitcoin chain simulator: real history replayed, then a simulated future.

Two parts, both producing block frames that pass ``indices.blocks.normalize_block_frame``:

**Replay** of an epoch history (``read_epoch_history``): every block carries its epoch's real bits,
and each closed epoch's timespan is picked (see ``indices.sources.replay``) so that Bitcoin's
retarget rule, ``next_work_required(bits_i, first_time_i, last_time_i)``, gives exactly the next
epoch's real bits. Inside an epoch, block times are exponential draws scaled to that timespan.

**Continuation**: from the history's last (open) epoch on, or from a genesis-like start, a
hashrate path drives the chain. Hashrate is a geometric Brownian motion stepped once per epoch:
``log H_k = log H_{k-1} + drift + volatility * Z_k``. Blocks arrive as a Poisson process at rate
``H_k / (D * 2**32)`` for the epoch's difficulty D, the retarget rule sets the next bits, the
subsidy halves every 210,000 blocks (``block_subsidy_sats``) and ``FeeModel`` adds fees and
transaction counts.

Calibration (``calibrate_hashrate_model``): the last 52 epochs, about two years, of the real
history. On the shared history through epoch 481 (October 2026) that is epochs 430-481, all in
the 3.125 BTC era: log difficulty changes per epoch have mean 0.00704 and standard deviation
0.04615. The mean is the hashrate drift. The standard deviation also contains block-time luck:
the measured timespan of 2015 exponential intervals has a log standard deviation of about
1/sqrt(2015), and a difficulty change involves two such timespans, so the hashrate volatility is
sqrt(0.04615**2 - 2/2015) = 0.03372 per epoch. The simulator adds the luck back through its
exponential block times, so simulated difficulty changes show the real dispersion. Two years
rather than one: with a per-epoch volatility of 4.6%, the mean of 26 changes has a standard error
of 0.9% a epoch, more than the drift itself (the last 26 epochs fell by 0.5% a epoch, the last
52 rose by 0.7%).

Determinism: one generator per (seed, stream, epoch), always drawing a whole epoch, so a chain
simulated to a later end time or to more blocks starts with exactly the same blocks: a demo can
regenerate its chain every day and the stored prefix still matches. Hashes are chained SHA-256 of
``prev_hash|height|time|bits|seed`` (not real proof of work); the genesis block's prev_hash is 64
zeros. The clock is never read here: ``end_time`` is always passed in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from math import exp, sqrt

import numpy as np
import pandas as pd

from indices.blocks import BLOCK_COLUMNS, normalize_block_frame
from indices.chain import (
    BLOCK_INTERVAL_SECONDS,
    DIFFICULTY_1_BITS,
    HALVING_INTERVAL_BLOCKS,
    HASHES_PER_DIFFICULTY,
    INITIAL_SUBSIDY_SATS,
    RETARGET_INTERVAL_BLOCKS,
    TARGET_TIMESPAN_SECONDS,
    bits_to_difficulty,
    next_work_required,
    parse_bits,
)
from indices.sources.frame_source import FrameBlockSource
from indices.sources.fee_model import DEFAULT_FEE_MODEL, FeeModel
from indices.sources.replay import INTERVALS_PER_EPOCH, interior_offsets, share_calendar, timespan_range

GENESIS_PREV_HASH = "0" * 64
GENESIS_TIME = 1231006505  # 2009-01-03 18:15:05 UTC
HALVING_840000_HEIGHT = 840_000
HALVING_840000_TIME = 1713571767  # 2024-04-20 00:09:27 UTC
CALIBRATION_WINDOW_EPOCHS = 52
FREE_EPOCH_TIMESPAN_FACTOR = 1.6  # 2009's difficulty-1 epochs lasted ~23 days; used without the calendar
FREE_EPOCH_LOG_SIGMA = 0.25
MAX_SIMULATED_BLOCKS = 20_000_000  # guards against an end time centuries away

_REPLAY_STREAM, _ENGINE_STREAM, _CALENDAR_STREAM = 1, 2, 3
_EPOCH = RETARGET_INTERVAL_BLOCKS


@dataclass(frozen=True)
class HashrateModel:
    """Per-epoch log-hashrate increments ~ Normal(log_drift_per_epoch, log_volatility_per_epoch**2)."""

    log_drift_per_epoch: float
    log_volatility_per_epoch: float


# calibrate_hashrate_model(read_epoch_history("shared/data/btc_difficulty_epochs.csv")), rounded:
# the model of chains simulated without a history (a test checks it against the data)
DEFAULT_HASHRATE_MODEL = HashrateModel(log_drift_per_epoch=0.00704, log_volatility_per_epoch=0.03372)


def calibrate_hashrate_model(epochs: pd.DataFrame, window_epochs: int = CALIBRATION_WINDOW_EPOCHS) -> HashrateModel:
    """Drift and volatility from the last ``window_epochs`` log difficulty changes (see module doc)."""
    bits = [parse_bits(b) for b in epochs.sort_values("epoch")["bits"]]
    log_difficulty = np.log([bits_to_difficulty(b) for b in bits])
    changes = np.diff(log_difficulty)[-window_epochs:]
    if len(changes) < 2:
        raise ValueError("calibration needs at least three epochs of history")
    luck_variance = 2.0 / INTERVALS_PER_EPOCH
    volatility = sqrt(max(float(np.var(changes, ddof=1)) - luck_variance, 0.0))
    return HashrateModel(float(np.mean(changes)), volatility)


# -- public entry points ----------------------------------------------------------------------------

def simulate_chain(
    n_blocks: int | None = None,
    *,
    seed: int = 0,
    end_time: int | None = None,
    history: pd.DataFrame | None = None,
    hashrate_model: HashrateModel | None = None,
    fee_model: FeeModel = DEFAULT_FEE_MODEL,
    start_time: int = GENESIS_TIME,
) -> pd.DataFrame:
    """Blocks from height 0 until ``n_blocks`` blocks exist or the next block would be after
    ``end_time`` (Unix seconds), whichever comes first; at least one of the two is required.

    With ``history`` (an epoch history frame), heights it covers are replayed and the hashrate model
    defaults to its calibration; without it the chain starts like Bitcoin's (bits 0x1d00ffff, a
    hashrate giving 600 s blocks, at ``start_time``) and uses ``DEFAULT_HASHRATE_MODEL``.
    """
    if n_blocks is None and end_time is None:
        raise ValueError("give n_blocks, end_time or both")
    if n_blocks is not None and n_blocks < 0:
        raise ValueError(f"n_blocks must be non-negative, got {n_blocks}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    limit = MAX_SIMULATED_BLOCKS if n_blocks is None else n_blocks
    if history is not None:
        history = _checked_history(history)
        model = hashrate_model or calibrate_hashrate_model(history)
        parts, state = _replay(history, seed, fee_model, model)
    else:
        model = hashrate_model or DEFAULT_HASHRATE_MODEL
        parts, state = [], _EngineState(0, DIFFICULTY_1_BITS, _difficulty_hashrate_hs(DIFFICULTY_1_BITS),
                                        None, start_time)
    produced = sum(len(p["height"]) for p in parts)
    while produced < limit and (end_time is None or not parts or parts[-1]["time"][-1] <= end_time):
        part, state = _engine_epoch(state, seed, model, fee_model)
        parts.append(part)
        produced += _EPOCH
        if n_blocks is None and produced >= MAX_SIMULATED_BLOCKS:
            raise ValueError(f"end_time {end_time} needs more than {MAX_SIMULATED_BLOCKS} blocks")
    return _frame(parts, seed, limit, end_time)


def replay_history(epochs: pd.DataFrame, *, seed: int = 0, fee_model: FeeModel = DEFAULT_FEE_MODEL) -> pd.DataFrame:
    """Exactly the heights ``epochs`` covers, replayed (the last, open epoch from the hashrate model)."""
    history = _checked_history(epochs)
    return simulate_chain(int(history["end_height"].iloc[-1]) + 1, seed=seed, history=history, fee_model=fee_model)


def simulate_demo_chain(epochs: pd.DataFrame | None, *, seed: int, end_time: int) -> pd.DataFrame:
    """The demo's chain up to ``end_time``: real history replayed when given, then simulated."""
    return simulate_chain(seed=seed, end_time=end_time, history=epochs)


# -- replay ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _EngineState:
    epoch: int
    bits: int
    hashrate_hs: float  # hashrate of the previous epoch (of this epoch itself at genesis)
    last_time: int | None  # time of the previous epoch's last block; None before genesis
    start_time: int


def _replay(history: pd.DataFrame, seed: int, fee_model: FeeModel, model: HashrateModel):
    """Block columns of the closed epochs and the engine state for the open (last) one."""
    bits = [int(b) for b in history["bits"]]
    closed = len(bits) - 1
    rngs = [np.random.default_rng([seed, _REPLAY_STREAM, i]) for i in range(closed)]
    plan = _plan_closed_epochs(bits, rngs)
    if closed:
        measured = (_difficulty_hashrate_hs(bits[closed - 1]) * BLOCK_INTERVAL_SECONDS * INTERVALS_PER_EPOCH
                    / plan.timespans[closed - 1])
    else:
        measured = _difficulty_hashrate_hs(bits[0])
    open_state = _EngineState(closed, bits[closed], measured, None, GENESIS_TIME)
    if plan.free and int(history["end_height"].iloc[-1]) >= HALVING_840000_HEIGHT:
        _fit_calendar(plan, open_state, seed, model)

    parts = []
    last_time = GENESIS_TIME
    for i in range(closed):
        first_time = GENESIS_TIME if i == 0 else last_time + int(plan.gaps[i])
        times = first_time + interior_offsets(int(plan.timespans[i]), plan.shapes[i])
        fees, tx_count = fee_model.sample(rngs[i], times)
        parts.append(_part(i, times, bits[i], fees, tx_count))
        last_time = int(times[-1])
    if closed:
        open_state = _EngineState(closed, bits[closed], measured, last_time, GENESIS_TIME)
    return parts, open_state


@dataclass
class _ClosedEpochPlan:
    timespans: np.ndarray  # int64 s, first to last block of each closed epoch
    gaps: np.ndarray  # int64 s, previous epoch's last block to this epoch's first (0 for genesis)
    gap_draws: np.ndarray  # unit exponential draws behind ``gaps``
    shapes: list[np.ndarray]  # 2015 unit exponential draws per epoch: the intervals' proportions
    free: list[int]  # epochs whose timespan only has a lower bound (see indices.sources.replay)


def _plan_closed_epochs(bits: list[int], rngs: list[np.random.Generator]) -> _ClosedEpochPlan:
    """Timespans reproducing each real retarget (a seeded pick inside the exact range), and draws."""
    closed = len(rngs)
    timespans = np.zeros(closed, dtype=np.int64)
    gap_draws = np.zeros(closed)
    shapes, free = [], []
    for i, rng in enumerate(rngs):
        low, high = timespan_range(bits[i], bits[i + 1])
        pick, shock = rng.random(), rng.standard_normal()
        shape = rng.standard_exponential(_EPOCH)
        gap_draws[i] = shape[0] if i > 0 else 0.0  # the genesis block has no block before it
        shapes.append(shape[1:])
        if high is None:  # without the calendar: lognormal around the 2009 average
            free.append(i)
            factor = exp(FREE_EPOCH_LOG_SIGMA * shock - FREE_EPOCH_LOG_SIGMA**2 / 2)
            timespans[i] = max(low, round(TARGET_TIMESPAN_SECONDS * FREE_EPOCH_TIMESPAN_FACTOR * factor))
        else:
            timespans[i] = low + int(pick * (high - low + 1))
    gaps = np.rint(gap_draws * timespans / INTERVALS_PER_EPOCH).astype(np.int64)
    return _ClosedEpochPlan(timespans, gaps, gap_draws, shapes, free)


def _fit_calendar(plan: _ClosedEpochPlan, open_state: _EngineState, seed: int, model: HashrateModel) -> None:
    """Give the free epochs the time genesis-to-block-840000 leaves over (in place)."""
    anchor_epoch, anchor_index = divmod(HALVING_840000_HEIGHT, _EPOCH)
    if max(plan.free) >= anchor_epoch:
        return  # a free epoch after the anchor: the calendar cannot place it; keep the fallback
    if anchor_epoch == open_state.epoch:  # seconds from the previous epoch's last block to the anchor
        into_anchor_epoch = int(_draw_engine_epoch(open_state, seed, model).relative_times[anchor_index])
    else:
        into_anchor_epoch = int(plan.gaps[anchor_epoch] + interior_offsets(
            int(plan.timespans[anchor_epoch]), plan.shapes[anchor_epoch])[anchor_index])
    fixed = [i for i in range(anchor_epoch) if i not in plan.free]
    remaining = (HALVING_840000_TIME - GENESIS_TIME - into_anchor_epoch
                 - int(plan.timespans[fixed].sum() + plan.gaps[fixed].sum()))
    weights = np.random.default_rng([seed, _CALENDAR_STREAM]).dirichlet(np.full(len(plan.free), 5.0))
    plan.timespans[plan.free], plan.gaps[plan.free] = share_calendar(remaining, plan.gap_draws[plan.free], weights)


# -- continuation engine ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _EngineDraw:
    hashrate_hs: float
    relative_times: np.ndarray  # int64 seconds after the previous epoch's last block (genesis: after start)
    rng: np.random.Generator  # positioned after the timing draws, for the fee model


def _draw_engine_epoch(state: _EngineState, seed: int, model: HashrateModel) -> _EngineDraw:
    rng = np.random.default_rng([seed, _ENGINE_STREAM, state.epoch])
    shock = rng.standard_normal()
    intervals = rng.standard_exponential(_EPOCH)
    genesis = state.last_time is None and state.epoch == 0
    hashrate = state.hashrate_hs if genesis else state.hashrate_hs * exp(
        model.log_drift_per_epoch + model.log_volatility_per_epoch * shock)
    mean_interval = bits_to_difficulty(state.bits) * HASHES_PER_DIFFICULTY / hashrate
    intervals *= mean_interval
    if genesis:
        intervals[0] = 0.0
    return _EngineDraw(hashrate, np.rint(np.cumsum(intervals)).astype(np.int64), rng)


def _engine_epoch(state: _EngineState, seed: int, model: HashrateModel, fee_model: FeeModel):
    draw = _draw_engine_epoch(state, seed, model)
    base = state.start_time if state.last_time is None else state.last_time
    times = base + draw.relative_times
    fees, tx_count = fee_model.sample(draw.rng, times)
    part = _part(state.epoch, times, state.bits, fees, tx_count)
    next_bits = next_work_required(state.bits, int(times[0]), int(times[-1]))
    return part, _EngineState(state.epoch + 1, next_bits, draw.hashrate_hs, int(times[-1]), state.start_time)


# -- assembly -------------------------------------------------------------------------------------

def _part(epoch: int, times: np.ndarray, bits: int, fees: np.ndarray, tx_count: np.ndarray) -> dict:
    return {"height": np.arange(epoch * _EPOCH, (epoch + 1) * _EPOCH, dtype=np.int64), "time": times,
            "bits": np.full(_EPOCH, bits, dtype=np.int64), "total_fees_sats": fees, "tx_count": tx_count}


def _frame(parts: list[dict], seed: int, limit: int, end_time: int | None) -> pd.DataFrame:
    columns = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
               for k in ("height", "time", "bits", "total_fees_sats", "tx_count")}
    keep = min(limit, len(columns["height"]))
    if end_time is not None:
        keep = min(keep, int(np.searchsorted(columns["time"], end_time, side="right")))
    columns = {k: v[:keep] for k, v in columns.items()}
    heights = columns["height"]
    columns["subsidy_sats"] = subsidies_sats(heights)
    columns["hash"], columns["prev_hash"] = chain_hashes(heights, columns["time"], columns["bits"], seed)
    return normalize_block_frame(pd.DataFrame({name: columns[name] for name in BLOCK_COLUMNS}))


def subsidies_sats(heights: np.ndarray) -> np.ndarray:
    """``block_subsidy_sats`` for an array of heights (0 from the 64th halving on, as in Core)."""
    halvings = np.asarray(heights, dtype=np.int64) // HALVING_INTERVAL_BLOCKS
    shifted = np.right_shift(np.int64(INITIAL_SUBSIDY_SATS), np.minimum(halvings, 63))
    return np.where(halvings >= 64, 0, shifted).astype(np.int64)


def chain_hashes(heights: np.ndarray, times: np.ndarray, bits: np.ndarray, seed: int,
                 first_prev_hash: str = GENESIS_PREV_HASH, salt: str = "") -> tuple[list[str], list[str]]:
    """Chained SHA-256 hex hashes of ``prev_hash|height|time|bits|seed[salt]``, and the prev hashes."""
    hashes, prevs = [], []
    prev = first_prev_hash
    suffix = f"|{seed}{salt}"
    for height, time, block_bits in zip(heights.tolist(), times.tolist(), bits.tolist()):
        prevs.append(prev)
        prev = hashlib.sha256(f"{prev}|{height}|{time}|{block_bits}{suffix}".encode()).hexdigest()
        hashes.append(prev)
    return hashes, prevs


def _difficulty_hashrate_hs(bits: int) -> float:
    """Hashrate that mines one block per 600 s at ``bits``."""
    return bits_to_difficulty(bits) * HASHES_PER_DIFFICULTY / BLOCK_INTERVAL_SECONDS


def _checked_history(epochs: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("epoch", "start_height", "end_height", "bits") if c not in epochs.columns]
    if missing:
        raise ValueError(f"epoch history lacks columns: {', '.join(missing)}")
    history = epochs.sort_values("epoch").reset_index(drop=True).copy()
    history["bits"] = [parse_bits(b) for b in history["bits"]]
    if history.empty:
        raise ValueError("the epoch history is empty")
    expected = np.arange(len(history))
    if not np.array_equal(history["epoch"].to_numpy(), expected) or not np.array_equal(
            history["start_height"].to_numpy(), expected * _EPOCH):
        raise ValueError("the epoch history must start at epoch 0 (height 0) and have no gaps")
    return history


# -- block source ---------------------------------------------------------------------------------

class ChainSimulator(FrameBlockSource):
    """A ``BlockSource`` over a simulated block frame (from ``simulate_chain`` or ``replay_history``)."""

    description = "the simulated chain"

    def __init__(self, frame: pd.DataFrame):
        frame = normalize_block_frame(frame)
        if frame.empty:
            raise ValueError("a simulated chain needs at least one block")
        super().__init__(frame)

    @classmethod
    def synthetic(cls, n_blocks: int, *, seed: int = 0, **options) -> ChainSimulator:
        return cls(simulate_chain(n_blocks, seed=seed, **options))

    def with_reorg(self, depth: int, *, salt: str = "reorg") -> ChainSimulator:
        """This chain with its last ``depth`` blocks replaced by a competing branch (new hashes,
        times one second later), as a node would show it after a reorg."""
        if not 1 <= depth <= len(self._frame) - 1:
            raise ValueError(f"reorg depth must be between 1 and {len(self._frame) - 1}, got {depth}")
        frame = self._frame.copy()
        tail = frame.index[-depth:]
        frame.loc[tail, "time"] = frame.loc[tail, "time"] + 1
        fork_parent = str(frame["hash"].iloc[-depth - 1])
        hashes, prevs = chain_hashes(frame.loc[tail, "height"].to_numpy(), frame.loc[tail, "time"].to_numpy(),
                                     frame.loc[tail, "bits"].to_numpy(), 0, fork_parent, salt)
        frame.loc[tail, "hash"] = hashes
        frame.loc[tail, "prev_hash"] = prevs
        return ChainSimulator(frame)

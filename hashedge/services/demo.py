"""The demo use case: a database with real epoch history, a realistic chain up to today, fixings.

With no network the chain comes from the seeded simulator: it replays the real difficulty history
(when the shared epoch file is there) and continues it to today with a hashrate path calibrated on
the latest real epochs and the fee model, a little into the future so that new blocks keep
arriving while the demo runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

import pandas as pd

from hashedge.adapters.demo_chain import RevealingSource
from hashedge.bootstrap import Runtime
from hashedge.errors import Conflict, InvalidInput
from hashedge.services import chain_data
from hashedge.services import fixings as fixing_services
from hashedge.services import instruments as instrument_services

FUTURE_BLOCKS = timedelta(days=30)
DEFAULT_EPOCH_FILE = "btc_difficulty_epochs.csv"
# Without the history the simulator starts from Bitcoin's genesis difficulty and grows it at the
# recent era's drift, so today's difficulty comes out trillions of times too low and every
# hashprice mark as much too high (above what the API accepts as a price): say so, rather than
# serve it silently.
NO_HISTORY_WARNING = (f"warning: no real epoch history found (HASHEDGE_SHARED_DATA/{DEFAULT_EPOCH_FILE}, "
                      "../shared/data beside the checkout, or --epochs FILE): the chain is simulated from "
                      "2009 with the default hashrate model, and its difficulty and prices are not realistic")


@dataclass
class DemoReport:
    epochs: int
    blocks_added: int
    tip_height: int | None
    fixings_published: int
    live_source: object | None
    instruments_listed: int = 0
    instruments_marked: int = 0

    def summary(self) -> str:
        return (f"{self.epochs} epochs of real history, {self.blocks_added} new blocks "
                f"(tip {self.tip_height}), {self.fixings_published} fixings published, "
                f"{self.instruments_listed} instruments listed, {self.instruments_marked} marked")


def default_epoch_file(runtime: Runtime) -> Path | None:
    candidates = []
    if runtime.settings.shared_data_dir:
        candidates.append(runtime.settings.shared_data_dir / DEFAULT_EPOCH_FILE)
    checkout = Path(__file__).resolve().parents[2]
    candidates += [checkout.parent / "shared" / "data" / DEFAULT_EPOCH_FILE]
    return next((path for path in candidates if path.exists()), None)


def simulated_chain(epochs: pd.DataFrame | None, *, seed: int, end_time: int) -> pd.DataFrame:
    """The demo's chain up to ``end_time``.

    With the real epoch history (through epoch 481, October 2026, in the shared file) every
    height it covers is replayed with its real bits, timestamps chosen so the real retargets are
    reproduced; only the blocks after it are simulated, by a hashrate path calibrated on the last
    52 real epochs (``calibrate_hashrate_model``: drift and volatility of the 3.125 BTC era so far),
    so the demo's difficulty and hashprice are the real chain's up to October 2026 and only the
    last few weeks are a simulation. Without the history the chain starts like Bitcoin's in 2009
    with ``DEFAULT_HASHRATE_MODEL``.
    """
    from indices.sources.simulator import simulate_demo_chain

    return simulate_demo_chain(epochs, seed=seed, end_time=end_time)


def prepare_demo(
    runtime: Runtime,
    *,
    epochs_file: Path | None,
    blocks_file: Path | None,
    days: int,
    seed: int,
    echo: Callable[[str], None] = lambda _text: None,
) -> DemoReport:
    from indices.sources.csv_import import read_epoch_history

    epochs_file = epochs_file or default_epoch_file(runtime)
    epochs = None
    epoch_count = 0
    if epochs_file is None and blocks_file is None:
        echo(NO_HISTORY_WARNING)
    if epochs_file:
        echo(f"importing real epoch history from {epochs_file}")
        epoch_count = chain_data.import_epoch_history(runtime.uow(), epochs_file)
        epochs = read_epoch_history(epochs_file)
    live_source = None
    if blocks_file:
        echo(f"importing blocks from {blocks_file}")
        added = chain_data.import_block_csv(runtime.uow(), blocks_file)
    else:
        now = runtime.clock.now()
        echo("simulating the chain up to today (seed %d)" % seed)
        chain = simulated_chain(epochs, seed=seed, end_time=int((now + FUTURE_BLOCKS).timestamp()))
        live_source = RevealingSource(chain, runtime.clock)
        with runtime.uow() as uow:
            stored_tip = uow.blocks.tip_height()
        if stored_tip is None:
            cutoff = int((now - timedelta(days=days)).timestamp())
            visible = chain[(chain["time"] >= cutoff) & (chain["time"] <= int(now.timestamp()))]
            echo(f"storing {len(visible)} blocks")
            added = chain_data.store_block_frame(runtime.uow(), visible)
        else:
            try:
                added = chain_data.ingest_new_blocks(
                    runtime.uow(), live_source, confirmations=runtime.settings.confirmations
                ).added_blocks
            except InvalidInput as exc:  # the stored chain shares no block with this one
                raise Conflict(f"this database holds another chain ({exc}); point HASHEDGE_DATABASE_URL "
                               "at a fresh file or delete it") from None
    echo("publishing fixings")
    result = fixing_services.publish_fixings(
        runtime.uow(), runtime.clock, confirmations=runtime.settings.confirmations, full_recompute=True
    )
    echo("listing instruments and marking them")
    listing = instrument_services.run_listing(runtime.uow(), runtime.clock)
    marks = instrument_services.update_marks(runtime.uow(), runtime.clock)
    return DemoReport(epoch_count, added, result.tip_height, result.published, live_source,
                      len(listing.listed), len(marks.marked))

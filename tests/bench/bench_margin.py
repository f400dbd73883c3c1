"""Benchmark of the risk sweep (a script, not a test): prints figures.

    .venv/bin/python tests/bench/bench_margin.py [--accounts 10000] [--positions 5] [--repeat 5]

Times ``hashedge.domain.margin_batch.margin_batch`` for every account at once (goal: 10,000
accounts x 5 positions in well under 1 s), from a positions frame as the service would read it
from storage (``account_id``, ``instrument_id``, ``quantity``, ``open_value`` Decimal), and for
comparison the scalar ``margin.account_margin`` over the same accounts. The portfolio is random
but seeded; both give the same figures (checked on a sample).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timezone
from decimal import Decimal

import pandas as pd

from hashedge.domain.instruments import Product, epoch_future, hashprice_monthly
from hashedge.domain.margin import AccountState, account_margin
from hashedge.domain.margin_batch import margin_batch
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position

D = Decimal
LAST_TRADING = datetime(2027, 1, 5, tzinfo=timezone.utc)
SPECS = {s.symbol: s for s in (
    hashprice_monthly(2027, 1), hashprice_monthly(2027, 2),
    epoch_future(Product.BME14_EPOCH, 462, last_trading_time=LAST_TRADING),
    epoch_future(Product.DIFF_EPOCH, 462, last_trading_time=LAST_TRADING),
    epoch_future(Product.BME14_CAPPED, 462, last_trading_time=LAST_TRADING, floor=D(25_000), cap=D(59_000)),
)}
MARKS = {"HP-2027-01": D(45_000), "HP-2027-02": D(44_120), "BME14-E462": D(41_999), "DIFF-E462": D("150.23"),
         "BME14C-E462": D(42_000)}


def random_book(accounts: int, per_account: int, seed: int = 7) -> tuple[pd.DataFrame, dict[str, int]]:
    rng = random.Random(seed)
    symbols = sorted(SPECS)
    rows, collateral = [], {}
    for i in range(accounts):
        account_id = f"acct-{i:06d}"
        collateral[account_id] = rng.randrange(0, 1_000_000_000)
        for symbol in rng.sample(symbols, per_account):
            quantity = rng.choice([-1, 1]) * rng.randrange(1, 500)
            tick = SPECS[symbol].tick_size
            entry = MARKS[symbol] * D(rng.uniform(0.8, 1.2)).quantize(D("0.0001"))
            entry = (entry / tick).to_integral_value() * tick
            rows.append((account_id, symbol, quantity, entry * quantity))
    return pd.DataFrame(rows, columns=["account_id", "instrument_id", "quantity", "open_value"]), collateral


def best_of(repeat: int, function) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--positions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    params = RiskParameters()
    frame, collateral = random_book(args.accounts, args.positions)
    batch_s, batch = best_of(args.repeat, lambda: margin_batch(frame, collateral, MARKS, params, specs=SPECS))

    states = [
        AccountState(account_id=a, collateral_sats=collateral[a], positions=tuple(
            Position(account_id=a, instrument_id=r.instrument_id, multiplier=SPECS[r.instrument_id].multiplier,
                     quantity=r.quantity, open_value=r.open_value) for r in group.itertuples()))
        for a, group in frame.groupby("account_id", sort=True)
    ]
    scalar_s, scalar = best_of(1, lambda: [account_margin(s, MARKS, params, specs=SPECS) for s in states])
    for summary in scalar[:: max(len(scalar) // 200, 1)]:
        row = batch.loc[summary.account_id]
        assert (row.equity_sats, row.initial_margin_sats, row.maintenance_margin_sats, row.status) == (
            summary.equity_sats, summary.initial_margin_sats, summary.maintenance_margin_sats, summary.status.value)

    positions = len(frame)
    print(f"risk sweep, {args.accounts:,} accounts x {args.positions} positions ({positions:,} positions)")
    print(f"  margin_batch (vectorized):  {batch_s * 1000:8.1f} ms  (best of {args.repeat}; goal < 1 s)")
    print(f"  account_margin (scalar):    {scalar_s * 1000:8.1f} ms  (one run)")
    print(f"  status counts: {batch['status'].value_counts().to_dict()}")


if __name__ == "__main__":
    main()

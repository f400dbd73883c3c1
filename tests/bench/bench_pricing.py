"""Pricing benchmarks: a plain script that prints figures (not a pytest test).

    .venv/bin/python tests/bench/bench_pricing.py

Measures pricing 10,000 CDS (goal: under 2 s), IDGR solves per second, and scenario margin for
10,000 positions. Each figure is the best of a few repeats, on whatever machine runs it.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pricing import (  # noqa: E402
    CdsTrade,
    InstrumentRisk,
    bootstrap_hazard_curve,
    bootstrap_scenarios,
    flat_discount_curve,
    historical_scenarios,
    implied_growth_rate,
    price_cds,
    price_cds_book,
    scenario_margin,
)
from pricing.difficulty_curve import difficulty_from_growth  # noqa: E402
from pricing.history import calibration_windows, era_log_changes, load_epoch_history  # noqa: E402

TRADE = dt.date(2024, 11, 15)
TENORS = ("6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y")
PAR_SPREADS = {"6M": 0.005, "1Y": 0.007, "3Y": 0.010, "5Y": 0.013, "10Y": 0.016}
REPEATS = 3


def best_of(run, repeats: int = REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings)


def cds_trades(count: int, rng: np.random.Generator) -> list[CdsTrade]:
    return [
        CdsTrade(
            maturity=TENORS[int(rng.integers(len(TENORS)))],
            notional=float(rng.integers(1, 100)) * 1e6,
            running_spread=float(rng.choice([0.01, 0.05])),
            side="buy" if rng.random() < 0.5 else "sell",
            upfront=float(rng.normal(0.0, 0.02)),
        )
        for _ in range(count)
    ]


def bench_cds(count: int = 10_000) -> None:
    rng = np.random.default_rng(1)
    trades = cds_trades(count, rng)
    hazards = rng.uniform(0.001, 0.1, count)

    def one_call_each() -> None:
        for trade, hazard in zip(trades, hazards):
            price_cds(trade_date=TRADE, maturity=trade.maturity, notional=trade.notional,
                      running_spread=trade.running_spread, side=trade.side, upfront=trade.upfront,
                      hazard_rate=float(hazard), discount_rate=0.03)

    discount = flat_discount_curve(TRADE, 0.03)
    curve = bootstrap_hazard_curve(TRADE, recovery=0.4, discount=discount, par_spreads=PAR_SPREADS)

    def one_book() -> None:
        price_cds_book(trades, trade_date=TRADE, hazard_curve=curve, discount_curve=discount)

    bootstrap = best_of(lambda: bootstrap_hazard_curve(TRADE, recovery=0.4, discount=discount,
                                                       par_spreads=PAR_SPREADS), repeats=20)
    single = best_of(one_call_each)
    book = best_of(one_book)
    print(f"CDS, {count:,} price_cds calls (ISDA engine, flat hazard per trade): {single:.3f} s "
          f"({count / single:,.0f} CDS/s)  goal < 2 s: {'met' if single < 2 else 'MISSED'}")
    print(f"CDS, {count:,} trades in one price_cds_book on a bootstrapped curve: {book:.3f} s "
          f"({count / book:,.0f} CDS/s)")
    print(f"CDS, hazard curve bootstrap from {len(PAR_SPREADS)} par spreads (ISDA): "
          f"{bootstrap * 1e3:.2f} ms")


def bench_idgr(count: int = 20_000) -> None:
    rng = np.random.default_rng(2)
    epochs = rng.integers(1, 27, count)
    growth = rng.uniform(-0.3, 0.5, count)
    d0 = 8.6e13
    implied = [difficulty_from_growth(d0, float(g), int(t)) for g, t in zip(growth, epochs)]

    def solve_all() -> None:
        for target, window in zip(implied, epochs):
            implied_growth_rate(d0, target, int(window))

    elapsed = best_of(solve_all)
    print(f"IDGR, {count:,} solves (T in 1..26 epochs, QuantLib Brent): {elapsed:.3f} s "
          f"({count / elapsed:,.0f} solves/s)")


def bench_scenario_margin(positions: int = 10_000, accounts: int = 2_000, scenarios: int = 10_000) -> None:
    history = load_epoch_history()
    # the stressed window (104 changes, the China ban): the same workload as the recorded figures
    changes = era_log_changes(history, calibration_windows(history).stressed)
    rng = np.random.default_rng(3)
    instruments = [
        InstrumentRisk(f"BME14-{417 + i}", 4e-7 * 0.97**i, 1e5, -1.0) for i in range(6)
    ] + [
        InstrumentRisk(f"HASHPRICE-M{i}", 5e4, 100.0, -1.0) for i in range(3)
    ] + [
        InstrumentRisk(f"HASHPRICE_USD-M{i}", 30.0, 100.0, -1.0, 1.0) for i in range(2)
    ] + [InstrumentRisk("DIFF-420", 9e13, 1e-9, 1.0)]
    account_ids = rng.integers(0, accounts, positions)
    which = rng.integers(0, len(instruments), positions)
    quantities = rng.integers(-50, 51, positions).astype(float)

    generate = best_of(lambda: bootstrap_scenarios(changes, 14, scenarios, seed=4))
    bootstrap = bootstrap_scenarios(changes, 14, scenarios, seed=4)
    margin = best_of(lambda: scenario_margin(instruments, account_ids, which, quantities, bootstrap, 0.99))
    historical = historical_scenarios(changes, 14)
    margin_hist = best_of(lambda: scenario_margin(instruments, account_ids, which, quantities, historical, 0.99))
    print(f"Scenario margin, {positions:,} positions in {accounts:,} accounts x {len(instruments)} "
          f"instruments over {scenarios:,} bootstrap scenarios: {margin:.3f} s "
          f"(+ {generate * 1e3:.1f} ms to generate the scenarios)")
    print(f"Scenario margin, same positions over the {len(historical)} historical 14-day windows: "
          f"{margin_hist * 1e3:.1f} ms")


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
          f"{platform.system()} {platform.release()}")
    bench_cds()
    bench_idgr()
    bench_scenario_margin()


if __name__ == "__main__":
    main()

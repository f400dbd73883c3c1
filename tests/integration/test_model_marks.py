"""Marks from the forward difficulty path (pricing.forward) on stored chain data, on SQLite and
PostgreSQL: the demo chain's epochs, the next-difficulty forecast, the trailing-26-epoch trend."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

from hashedge.domain.instruments import Product, epoch_future, hashprice_monthly
from hashedge.domain.settlement import daily_fixing_times, settlement_price
from hashedge.services import instruments
from indices.chain import bits_to_difficulty
from indices.fixings import FixingValue
from tests.builders import daily_hashprice
from indices.forecast import forecast_next_difficulty

K = 10**12 * 600 * 144 / 2**32  # BTC per TH/s per day at difficulty 1, per BTC of subsidy
SUBSIDY_BTC = 3.125  # every epoch from 417 (April 2024) to the 2028 halving


def by_epoch(marks: dict, prefix: str) -> list[tuple[int, Decimal]]:
    return sorted((int(s.split("-E")[1]), p) for s, p in marks.items() if s.startswith(f"{prefix}-E"))


def hand_path(uow):
    """The path's inputs recomputed by hand from the stored chain data: current epoch, next
    difficulty (the index service's forecast) and the trend growth over the trailing 26 changes,
    each epoch's difficulty from the imported epoch history or, where blocks are stored, from them."""
    blocks = uow.blocks.load_frame()
    tip = int(blocks["height"].iat[-1])
    current = tip // 2016
    history = uow.epochs.load_frame()
    difficulty = {int(e): bits_to_difficulty(int(b)) for e, b in zip(history["epoch"], history["bits"])}
    first_bits = blocks.groupby(blocks["height"] // 2016)["bits"].first()
    difficulty |= {int(e): bits_to_difficulty(int(b)) for e, b in first_bits.items()}
    changes = [math.log(difficulty[e] / difficulty[e - 1]) for e in range(current - 25, current + 1)
               if e in difficulty and e - 1 in difficulty]
    growth = math.exp(sum(changes) / len(changes)) - 1
    forecast = forecast_next_difficulty(blocks[blocks["height"] >= tip - 2 * 2016])
    return current, forecast.next_difficulty, growth, len(changes)


def on_tick(value: float, tick: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(tick), rounding=ROUND_HALF_EVEN)


def test_epoch_marks_follow_the_forward_path(populated_runtime):
    runtime = populated_runtime
    instruments.run_listing(runtime.uow(), runtime.clock)
    marked = instruments.update_marks(runtime.uow(), runtime.clock).marked
    with runtime.uow() as uow:
        current, next_difficulty, growth, changes = hand_path(uow)
    assert changes == 26 and growth != 0  # the real history covers the whole trend window

    diff, bme = by_epoch(marked, "DIFF"), by_epoch(marked, "BME14")
    assert [e for e, _ in diff] == [e for e, _ in bme] == list(range(current + 1, current + 7))
    rises = growth > 0  # the trend of the real epochs before the tip (falling through 2026)
    assert all((a[1] < b[1]) == rises for a, b in zip(diff, diff[1:]))  # difficulty follows the trend
    assert all((a[1] > b[1]) == rises for a, b in zip(bme, bme[1:]))  # BTC per TH/s the other way

    # By hand: the next epoch at the forecast, each later one (1 + g) more.
    assert marked[f"DIFF-E{current + 1}"] == on_tick(next_difficulty / 1e12, "0.01")
    k = current + 4
    predicted = next_difficulty * (1 + growth) ** (k - current - 1)
    assert marked[f"DIFF-E{k}"] == on_tick(predicted / 1e12, "0.01")
    # BME14 at the first block of epoch k covers epoch k alone: K x subsidy / D_k, in sats/PH/day
    assert marked[f"BME14-E{k}"] == on_tick(K * SUBSIDY_BTC / predicted * 1e11, "1")

    # Monthly hashprice moves against difficulty too (fees held flat).
    months = [marked[s] for s in sorted(s for s in marked if s.startswith("HP-"))]
    assert all((a > b) == rises for a, b in zip(months, months[1:]))


def test_contracts_whose_settlement_fixings_are_published_mark_at_the_settlement_price(populated_runtime):
    runtime = populated_runtime
    now = runtime.clock.now()
    with runtime.uow() as uow:
        current = uow.blocks.tip_height() // 2016
        october = hashprice_monthly(2026, 10)
        settled_epoch = [epoch_future(product, current, last_trading_time=now - timedelta(days=1))
                         for product in (Product.DIFF_EPOCH, Product.BME14_EPOCH)]
        for spec in (october, *settled_epoch):
            uow.instruments.add(spec, now)
        # October's last fixing (as of 1 November 00:00) is not final yet on the stored chain
        times = daily_fixing_times(october.window)
        published = {f.as_of for f in uow.fixings.latest("HASHPRICE", kind="daily", start=times[0], end=times[-1])}
        uow.fixings.add([daily_hashprice(t, Decimal("12345.5")) for t in times if t not in published],
                        now - timedelta(seconds=1))
        uow.commit()
    assert len(published) >= 29

    marked = instruments.update_marks(runtime.uow(), runtime.clock).marked
    with runtime.uow() as uow:
        month_fixings = uow.fixings.latest("HASHPRICE", kind="daily", start=times[0], end=times[-1])
        assert len(month_fixings) == 31
        assert marked["HP-2026-10"] == settlement_price(october, month_fixings)
        for spec in settled_epoch:
            fixings = uow.fixings.latest(spec.underlying, kind="retarget")
            assert any(f.end_height == current * 2016 for f in fixings)
            assert marked[spec.symbol] == settlement_price(spec, fixings)


def test_without_blocks_the_flat_model_on_the_latest_fixing_is_the_fallback(runtime):
    now = runtime.clock.now()
    spec = epoch_future(Product.DIFF_EPOCH, 490, last_trading_time=now + timedelta(days=60))
    with runtime.uow() as uow:
        uow.instruments.add(spec, now)
        uow.instruments.add(hashprice_monthly(2026, 12), now)
        uow.fixings.add([FixingValue(index="DIFF", kind="retarget", as_of=now - timedelta(days=3),
                                     value=Decimal("500123456789012.3"), unit="difficulty", methodology_version="1",
                                     start_height=487 * 2016, end_height=487 * 2016, confirmations=6,
                                     input_digest="0" * 64),
                         daily_hashprice(now - timedelta(days=1), Decimal(40_000))], now)
        uow.commit()
    marked = instruments.update_marks(runtime.uow(), runtime.clock).marked
    assert marked == {"DIFF-E490": Decimal("500.12"), "HP-2026-12": Decimal(40_000)}


def test_the_forward_path_is_built_once_and_fast(populated_runtime, monkeypatch):
    runtime = populated_runtime
    instruments.run_listing(runtime.uow(), runtime.clock)
    calls = []
    build = instruments.load_forward_path
    monkeypatch.setattr(instruments, "load_forward_path", lambda *a: calls.append(1) or build(*a))
    started = datetime.now(timezone.utc)
    result = instruments.update_marks(runtime.uow(), runtime.clock)
    assert len(result.marked) >= 24 and calls == [1]
    assert datetime.now(timezone.utc) - started < timedelta(seconds=5)

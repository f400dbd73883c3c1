"""Issue #10's attack, replayed on SQLite and PostgreSQL with the real model marks: a third account
quotes a single lot at 20,000 / 20,001 on ``HP-2027-01`` (model around 32,000) to drag the mark,
liquidate one side and let the other withdraw its "gains". The quote is refused by the price
band; quotes of a few lots anywhere the band allows move no mark; variation margin pays nothing;
nobody can withdraw a sat more than before."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.marks import price_band
from hashedge.services import accounts, instruments, ledger, liquidation, settlement, trading
from hashedge.services.margin import margin_of, risk_parameters, withdrawal_requirement_sats

SYMBOL = "HP-2027-01"


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def order(runtime, account_id: int, side: str, quantity: int, price) -> trading.PlacedOrder:
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                               order_type="limit", quantity=quantity, price=price)


def latest_mark(runtime):
    with runtime.uow() as uow:
        return uow.marks.latest([SYMBOL])[SYMBOL]


def withdrawable(runtime, account_id: int) -> int:
    with runtime.uow() as uow:
        collateral = margin_of(uow, account_id).collateral_sats
        return collateral - withdrawal_requirement_sats(account_id, uow)


@pytest.fixture
def marked(populated_runtime):
    runtime = populated_runtime
    instruments.run_listing(runtime.uow(), runtime.clock)
    instruments.update_marks(runtime.uow(), runtime.clock)
    return runtime


def test_a_thin_quote_cannot_move_the_mark_liquidate_one_side_or_pay_the_other(marked):
    runtime = marked
    model = latest_mark(runtime)
    assert model.source == "model" and model.price == model.model_price
    assert Decimal(25_000) < model.price < Decimal(45_000)  # the demo chain's hashprice for January
    long_id, short_id = funded(runtime, "long", 12_000_000), funded(runtime, "short", 12_000_000)
    manipulator = funded(runtime, "manipulator", 5_000_000)
    order(runtime, short_id, "sell", 10, model.price)
    order(runtime, long_id, "buy", 10, model.price)
    before = {a: withdrawable(runtime, a) for a in (long_id, short_id)}

    # The quote: refused, with the allowed range, and nothing rests.
    with runtime.uow() as uow:
        spec = instruments.get_instrument(uow, SYMBOL).spec
    low, high = price_band(spec, model.price, risk_parameters().order_price_band_ratio)
    for side, price in (("buy", 20_000), ("sell", 20_001)):
        with pytest.raises(trading.OrderRejected, match=f"{low} to {high}") as refused:
            order(runtime, manipulator, side, 1, price)
        assert list(refused.value.fields) == ["price"]

    # Quotes of a few lots anywhere the band allows: the mark stays on the model.
    inside = (model.price * Decimal("0.96")).to_integral_value()
    for bid, lots in ((low, 1), (inside, 5), (high - 1, 3)):
        placed = [order(runtime, manipulator, "buy", lots, bid), order(runtime, manipulator, "sell", lots, bid + 1)]
        remarked = instruments.update_marks(runtime.uow(), runtime.clock).marked[SYMBOL]
        assert remarked == model.price, (bid, lots)
        assert latest_mark(runtime).source == "model"
        swept = liquidation.sweep(runtime.uow, runtime.clock)
        assert swept.liquidations == [] and swept.events == [], (bid, lots)  # no margin call, no liquidation
        for p in placed:
            if p.order.is_resting:
                trading.cancel_order(runtime.uow(), runtime.clock, manipulator, p.order.order_id)

    # The night's variation margin moves nothing, and no one can take out more than before.
    summary = settlement.run_daily_settlement(runtime.uow(), runtime.clock, runtime.clock.now().date())
    assert summary.variation_margin_sats.get(SYMBOL, {}) in ({}, {str(long_id): 0, str(short_id): 0})
    for account_id in (long_id, short_id):
        with runtime.uow() as uow:
            assert margin_of(uow, account_id).status.value == "healthy"
        assert withdrawable(runtime, account_id) == before[account_id]
    assert ledger.check_balances(runtime.uow()).ok

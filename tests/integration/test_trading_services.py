"""Trading through the services on SQLite and PostgreSQL: matching persisted, fees, positions
netting to zero, block trades within the band and margin, withdrawals above margin, and daily
settlement that is idempotent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.orders import CancelReason
from hashedge.errors import InsufficientCollateral
from hashedge.services import accounts, block_trades, ledger, settlement, trading
from hashedge.services.margin import margin_of

SYMBOL = "HP-2026-12"
MARK = Decimal(50000)
DEPOSIT_SATS = 10_000_000


@pytest.fixture
def market(runtime):
    """HP-2026-12 listed and marked at 50,000 sats/PH/day; alice and bob with 10,000,000 sats each."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.marks.add(SYMBOL, runtime.clock.now(), MARK, "model", MARK)
        uow.commit()
    ids = {}
    for name in ("alice", "bob", "carol"):
        account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, DEPOSIT_SATS, f"seed-{name}")
        ids[name] = account.id
    return ids


def collateral(runtime, account_id: int) -> int:
    return accounts.account_summary(runtime.uow(), account_id).collateral_sats


def place(runtime, account_id, side, quantity, price, order_type="limit", key=None):
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                               order_type=order_type, quantity=quantity, price=price, idempotency_key=key)


def test_crossing_limit_orders_match_and_leave_opposite_positions_and_fees(runtime, market):
    alice, bob = market["alice"], market["bob"]
    resting = place(runtime, alice, "sell", 3, Decimal(50100))
    assert resting.order.status.value == "open" and not resting.fills
    taken = place(runtime, bob, "buy", 2, Decimal(50200))
    assert [(f.quantity, f.price) for f in taken.fills] == [(2, Decimal(50100))]
    assert taken.order.status.value == "filled"
    notional = 2 * 50100 * 31
    maker_fee, taker_fee = -(-notional * 2 // 10_000), -(-notional * 5 // 10_000)
    assert collateral(runtime, alice) == DEPOSIT_SATS - maker_fee
    assert collateral(runtime, bob) == DEPOSIT_SATS - taker_fee
    positions = {a: trading.list_positions(runtime.uow(), a) for a in (alice, bob)}
    assert [p.position.quantity for p in positions[alice]] == [-2]
    assert [p.position.quantity for p in positions[bob]] == [2]
    with runtime.uow() as uow:
        assert uow.positions.net_quantity(SYMBOL) == 0
        assert [o.remaining_quantity for o in uow.orders.resting(SYMBOL)] == [1]
    assert ledger.check_balances(runtime.uow()).ok


def test_closing_a_position_realizes_its_pnl_into_collateral(runtime, market):
    alice, bob = market["alice"], market["bob"]
    place(runtime, alice, "sell", 1, Decimal(50000))
    place(runtime, bob, "buy", 1, Decimal(50000))
    place(runtime, bob, "sell", 1, Decimal(50100))
    fees_before = collateral(runtime, alice)
    place(runtime, alice, "buy", 1, Decimal(50100))  # alice closes her short 100 higher: loses 3,100
    assert trading.list_positions(runtime.uow(), alice) == []
    fee = -(-50100 * 31 * 5 // 10_000)
    assert collateral(runtime, alice) == fees_before - 3100 - fee
    assert ledger.check_balances(runtime.uow()).ok


def test_an_order_beyond_initial_margin_is_refused_with_the_shortfall(runtime, market):
    with pytest.raises(trading.InsufficientMargin) as refused:
        place(runtime, market["alice"], "buy", 100, Decimal(50000))
    assert refused.value.shortfall_sats > 0
    assert str(refused.value.shortfall_sats) in refused.value.message
    assert trading.list_orders(runtime.uow(), market["alice"]) == []


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_a_quantity_that_is_not_a_positive_integer_is_invalid_input(runtime, market, quantity):
    with pytest.raises(trading.InvalidInput):
        place(runtime, market["alice"], "buy", quantity, Decimal(50000))


def test_a_price_off_the_tick_is_refused(runtime, market):
    with pytest.raises(trading.OrderRejected, match="tick"):
        place(runtime, market["alice"], "buy", 1, Decimal("50000.5"))


def test_an_idempotency_key_replays_the_order(runtime, market):
    first = place(runtime, market["alice"], "buy", 1, Decimal(49000), key="k-1")
    again = place(runtime, market["alice"], "buy", 1, Decimal(49000), key="k-1")
    assert again.replayed and again.order.order_id == first.order.order_id
    with pytest.raises(trading.IdempotencyKeyReused):
        place(runtime, market["alice"], "buy", 2, Decimal(49000), key="k-1")


def test_cancel_removes_a_resting_order_and_another_account_cannot_see_it(runtime, market):
    placed = place(runtime, market["alice"], "buy", 1, Decimal(49000))
    with pytest.raises(trading.NotFound):
        trading.cancel_order(runtime.uow(), runtime.clock, market["bob"], placed.order.order_id)
    cancelled = trading.cancel_order(runtime.uow(), runtime.clock, market["alice"], placed.order.order_id)
    assert cancelled.status.value == "cancelled"
    with runtime.uow() as uow:
        assert uow.orders.resting(SYMBOL) == []


def test_a_market_order_takes_the_book_within_the_band(runtime, market):
    place(runtime, market["alice"], "sell", 1, Decimal(50500))
    place(runtime, market["alice"], "sell", 1, Decimal(60000))  # beyond the 5% band: not taken
    taken = place(runtime, market["bob"], "buy", 2, None, order_type="market")
    assert [f.price for f in taken.fills] == [Decimal(50500)]
    assert taken.order.status.value == "cancelled"


def test_block_trade_inside_the_band_books_both_positions_and_taker_fees(runtime, market):
    trade = block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=market["carol"],
                                          seller_id=market["bob"], instrument=SYMBOL, quantity=2,
                                          price=Decimal(51000))
    fee = -(-2 * 51000 * 31 * 5 // 10_000)
    assert trade.buyer_fee_sats == trade.seller_fee_sats == fee
    assert [p.position.quantity for p in trading.list_positions(runtime.uow(), market["carol"])] == [2]
    assert [p.position.quantity for p in trading.list_positions(runtime.uow(), market["bob"])] == [-2]


def test_block_trade_outside_the_band_or_beyond_margin_is_refused(runtime, market):
    with pytest.raises(trading.OrderRejected, match="OTC band"):
        block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=market["carol"],
                                      seller_id=market["bob"], instrument=SYMBOL, quantity=1, price=Decimal(60000))
    ledger.deposit(runtime.uow(), runtime.clock, market["carol"], 100 * DEPOSIT_SATS, "carol-more")
    with pytest.raises(trading.InsufficientMargin, match="seller"):
        block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=market["carol"],
                                      seller_id=market["bob"], instrument=SYMBOL, quantity=60, price=Decimal(50000))
    with runtime.uow() as uow:
        assert uow.trades.of_instrument(SYMBOL) == []


def test_a_withdrawal_cannot_take_collateral_below_margin(runtime, market):
    alice, bob = market["alice"], market["bob"]
    place(runtime, alice, "sell", 10, Decimal(50000))
    place(runtime, bob, "buy", 10, Decimal(50000))
    with pytest.raises(InsufficientCollateral):
        ledger.withdraw(runtime.uow(), runtime.clock, bob, collateral(runtime, bob), "all-of-it")
    with runtime.uow() as uow:
        free = margin_of(uow, bob).free_collateral_sats
    ledger.withdraw(runtime.uow(), runtime.clock, bob, free, "what-is-free")


def test_daily_settlement_moves_variation_margin_and_a_second_run_changes_nothing(runtime, market):
    alice, bob = market["alice"], market["bob"]
    place(runtime, alice, "sell", 2, Decimal(50000))
    place(runtime, bob, "buy", 2, Decimal(50000))
    runtime.clock.advance(timedelta(hours=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(50200), "model", Decimal(50200))
        uow.commit()
    before = {a: collateral(runtime, a) for a in (alice, bob)}
    first = settlement.run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 11, 1))
    assert first.variation_margin_sats[SYMBOL] == {str(alice): -12400, str(bob): 12400}
    after = {a: collateral(runtime, a) for a in (alice, bob)}
    assert after == {alice: before[alice] - 12400, bob: before[bob] + 12400}
    second = settlement.run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 11, 1))
    assert second.already_done
    assert {a: collateral(runtime, a) for a in (alice, bob)} == after
    assert ledger.check_balances(runtime.uow()).ok


def test_cancel_all_orders_cancels_what_rests_keeps_what_filled_and_moves_no_money(runtime, market):
    alice, bob = market["alice"], market["bob"]
    partly = place(runtime, alice, "sell", 5, Decimal(50100))
    place(runtime, bob, "buy", 2, Decimal(50100))  # fills 2 of alice's 5
    other = place(runtime, alice, "buy", 1, Decimal(49000))
    bobs = place(runtime, bob, "buy", 1, Decimal(48000))
    before = {a: collateral(runtime, a) for a in (alice, bob)}

    cancelled = trading.cancel_all_orders(runtime.uow(), runtime.clock, alice, reason=CancelReason.LIQUIDATION)
    assert sorted(o.order_id for o in cancelled) == sorted([partly.order.order_id, other.order.order_id])
    assert all(o.status.value == "cancelled" and o.cancel_reason is CancelReason.LIQUIDATION for o in cancelled)
    assert {o.order_id: o.filled_quantity for o in cancelled}[partly.order.order_id] == 2
    with runtime.uow() as uow:
        assert uow.orders.resting_of(alice) == []
        assert [o.order_id for o in uow.orders.resting_of(bob)] == [bobs.order.order_id]
    assert {a: collateral(runtime, a) for a in (alice, bob)} == before
    assert trading.cancel_all_orders(runtime.uow(), runtime.clock, alice) == []
    assert ledger.check_balances(runtime.uow()).ok

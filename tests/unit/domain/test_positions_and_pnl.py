from datetime import datetime, timezone
from decimal import Decimal
from itertools import count

import pytest

from hashedge.domain.errors import InstrumentMismatch, InvalidValue, NotAParty
from hashedge.domain.fills import Fill
from hashedge.domain.positions import Position, PositionSide, pnl_sats

D = Decimal
T0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
INSTRUMENT = "HP-2026-12"
_ids = count(1)


def trade(buyer: str, seller: str, quantity: int, price: str, instrument: str = INSTRUMENT) -> Fill:
    return Fill.block_trade(fill_id=f"f{next(_ids)}", instrument_id=instrument, buyer_account_id=buyer,
                            seller_account_id=seller, quantity=quantity, price=D(price), occurred_at=T0)


def alice(multiplier: str = "100") -> Position:
    return Position(account_id="alice", instrument_id=INSTRUMENT, multiplier=D(multiplier))


def apply_all(position: Position, *fills: Fill) -> Position:
    for fill in fills:
        position = position.apply(fill)
    return position


def test_a_buy_opens_a_long_position_at_the_fill_price():
    p = alice().apply(trade("alice", "bob", 3, "100"))
    assert (p.quantity, p.average_price, p.open_value, p.side) == (3, D("100"), D("300"), PositionSide.LONG)
    assert p.realized_pnl_sats == 0


def test_adding_to_a_position_averages_the_entry_price():
    p = apply_all(alice(), trade("alice", "bob", 3, "100"), trade("alice", "bob", 1, "104"))
    assert (p.quantity, p.average_price) == (4, D("101"))


def test_reducing_realizes_pnl_on_the_closed_part_and_keeps_the_average():
    p = apply_all(alice(), trade("alice", "bob", 3, "100"), trade("alice", "bob", 1, "104"),
                  trade("bob", "alice", 2, "103"))
    assert (p.quantity, p.average_price, p.realized_pnl_sats) == (2, D("101"), (103 - 101) * 2 * 100)


def test_closing_realizes_the_rest_and_leaves_a_flat_position():
    p = apply_all(alice(), trade("alice", "bob", 4, "101"), trade("bob", "alice", 2, "103"),
                  trade("bob", "alice", 2, "99"))
    assert (p.quantity, p.open_value, p.side) == (0, D("0"), PositionSide.FLAT)
    assert p.realized_pnl_sats == 400 - 400


def test_flipping_closes_at_the_fill_price_and_opens_the_other_way_there():
    p = apply_all(alice(), trade("alice", "bob", 2, "100"), trade("bob", "alice", 5, "98"))
    assert (p.quantity, p.average_price, p.realized_pnl_sats) == (-3, D("98"), (98 - 100) * 2 * 100)


def test_a_short_position_gains_when_the_price_falls():
    p = apply_all(alice(), trade("bob", "alice", 3, "100"), trade("alice", "bob", 3, "95"))
    assert p.realized_pnl_sats == 1_500 and p.quantity == 0


def test_realized_pnl_rounds_down_against_the_account():
    gain = apply_all(alice("0.3"), trade("alice", "bob", 1, "100"), trade("bob", "alice", 1, "101"))
    loss = apply_all(alice("0.3"), trade("alice", "bob", 1, "100"), trade("bob", "alice", 1, "99"))
    assert (gain.realized_pnl_sats, loss.realized_pnl_sats) == (0, -1)


def test_a_round_trip_closed_in_one_fill_realizes_exactly_the_cash_it_made():
    p = apply_all(alice("3"), trade("alice", "bob", 2, "100.5"), trade("alice", "bob", 1, "101"),
                  trade("bob", "alice", 3, "101"))
    assert p.average_price == 0 and p.realized_pnl_sats == (303 - 302) * 3


def test_an_average_that_does_not_terminate_stays_exact_in_the_open_value():
    p = apply_all(alice("3"), trade("alice", "bob", 2, "100.5"), trade("alice", "bob", 1, "101"))
    assert p.open_value == D("302")
    assert p.average_price == D("100.6666666666666666666666666666667")


def test_a_partial_close_removes_the_closed_share_of_the_entry_value_to_twelve_places():
    p = apply_all(alice("3"), trade("alice", "bob", 2, "100.5"), trade("alice", "bob", 1, "101"),
                  trade("bob", "alice", 1, "101"))
    assert p.open_value == D("302") - D("100.666666666667")
    assert p.realized_pnl_sats == 0  # (101 - 100.666666666667) * 3 = 0.999999999999, rounded down


def test_marking_to_a_settlement_price_crystallizes_the_open_pnl():
    p = alice().apply(trade("alice", "bob", 2, "100")).mark_to(D("103"))
    assert (p.quantity, p.average_price, p.realized_pnl_sats) == (2, D("103"), 600)
    closed = p.apply(trade("bob", "alice", 2, "104"))
    assert closed.realized_pnl_sats == (104 - 100) * 2 * 100


def test_marking_a_flat_position_changes_nothing():
    assert alice().mark_to(D("103")) == alice()


def test_unrealized_pnl_rounds_down_too():
    long = Position(account_id="a", instrument_id=INSTRUMENT, multiplier=D("0.5"), quantity=3, open_value=D("300"))
    assert long.unrealized_pnl_sats(D("100.5")) == 0  # 0.75
    assert long.unrealized_pnl_sats(D("99.5")) == -1  # -0.75
    assert alice().unrealized_pnl_sats(D("100")) == 0


def test_pnl_in_sats_is_price_difference_times_quantity_times_multiplier():
    assert pnl_sats(D("45000"), D("45010.5"), -3, D("7")) == -221  # -220.5 rounded down


def test_both_parties_positions_net_to_zero():
    fill = trade("alice", "bob", 5, "100")
    bob = Position(account_id="bob", instrument_id=INSTRUMENT, multiplier=D("100"))
    assert alice().apply(fill).quantity + bob.apply(fill).quantity == 0


def test_a_fill_of_another_instrument_or_of_other_accounts_is_a_bug():
    with pytest.raises(InstrumentMismatch):
        alice().apply(trade("alice", "bob", 1, "100", instrument="DIFF-E421"))
    with pytest.raises(NotAParty) as raised:
        alice().apply(trade("carol", "bob", 1, "100"))
    assert raised.value.account_id == "alice"


def test_a_block_trade_has_neither_maker_nor_taker():
    fill = trade("alice", "bob", 1, "100")
    assert fill.aggressor is None and fill.maker_account_id is None and fill.taker_order_id is None


def test_a_flat_position_cannot_carry_an_entry_value():
    with pytest.raises(InvalidValue):
        Position(account_id="a", instrument_id=INSTRUMENT, multiplier=D("1"), open_value=D("5"))


def test_expiry_settles_the_open_pnl_at_the_final_price_and_closes_the_position():
    p = alice().apply(trade("bob", "alice", 2, "100")).expire(D("97.5"))
    assert (p.quantity, p.open_value, p.realized_pnl_sats) == (0, D("0"), 500)

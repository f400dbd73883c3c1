"""Credit events read from real liquidation records (the engine on hand-built accounts)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hashedge.domain.liquidation import liquidate
from hashedge.domain.orders import Side
from hashedge.domain.protection import (
    EventKind,
    ProtectionContract,
    cash_settlement,
    determine_credit_event,
    novation_takeovers,
)
from tests.unit.liquidation.liquidation_builders import HP, account, inputs, position, resting

D = Decimal


def contract(**changes) -> ProtectionContract:
    fields = dict(contract_id="P1", buyer_account_id="2", seller_account_id="3", reference_account_id="1",
                  reference_instrument_id=None, notional_sats=2_000_000, premium_bps=D(250), upfront_sats=0,
                  trade_date=date(2026, 12, 1), maturity_date=date(2027, 3, 20), settlement="cash")
    return ProtectionContract(**(fields | changes))


def bankrupt_long_against(short, fund=300_000):
    """Account 1 long 10 HP at 50,000 with 2,000,000 sats; mark 40,000: equity -1,100,000."""
    liquidated = account("1", 2_000_000, position("1", 10, 50_000))
    given = inputs(liquidated, mark=40_000, counterparties=[short], insurance_fund=fund)
    return given, liquidate(given)


def test_a_liquidation_ending_below_zero_is_a_credit_event_on_its_account_citing_the_record():
    given, outcome = bankrupt_long_against(account("2", 10_000_000, position("2", -20, 49_000)))
    event = determine_credit_event(contract(), given, outcome)
    assert (event.kind, event.liquidation_id, event.reference_shortfall_sats) == (EventKind.SHORTFALL, "L1-1",
                                                                                  1_100_000)
    # ADL bought the buyer's short back above the 40,000 mark: 7 contracts at 42,581, 3 at 42,580
    assert [(h.buyer_side, h.quantity, h.price) for h in event.adl_hits] == (
        [(Side.BUY, 1, D(42_581))] * 7 + [(Side.BUY, 1, D(42_580))] * 3)
    assert event.adl_loss_sats == (7 * 2_581 + 3 * 2_580) * 31 == 800_017


def test_cash_pays_the_reference_shortfall_first_then_the_buyer_loss_never_more_than_the_notional():
    given, outcome = bankrupt_long_against(account("2", 10_000_000, position("2", -20, 49_000)))
    event = determine_credit_event(contract(), given, outcome)
    settled = cash_settlement(contract(), event)
    # 2,000,000 of notional: the 1,100,000 shortfall, then 800,017 of the 900,000 left to the buyer
    assert (settled.cover_sats, settled.buyer_sats) == (1_100_000, 800_017)
    small = cash_settlement(contract(notional_sats=1_000_000), event)
    assert (small.cover_sats, small.buyer_sats) == (1_000_000, 0)
    after_stage = cash_settlement(contract(), event, cover_sats=0)  # the waterfall stage paid nothing
    assert (after_stage.cover_sats, after_stage.buyer_sats) == (0, 800_017)


def test_a_deleveraged_position_is_a_credit_event_for_its_own_protection():
    given, outcome = bankrupt_long_against(account("2", 10_000_000, position("2", -20, 49_000)))
    on_position = contract(reference_account_id="2", reference_instrument_id=HP.symbol)
    event = determine_credit_event(on_position, given, outcome)
    assert (event.kind, event.reference_shortfall_sats, event.adl_loss_sats) == (EventKind.ADL, 0, 800_017)
    assert cash_settlement(on_position, event).buyer_sats == 800_017
    other = contract(reference_account_id="2", reference_instrument_id="BME14-470")
    assert determine_credit_event(other, given, outcome) is None


def test_novation_reopens_the_buyer_position_with_the_seller_at_the_adl_price_within_the_notional():
    given, outcome = bankrupt_long_against(account("2", 10_000_000, position("2", -20, 49_000)))
    event = determine_credit_event(contract(notional_sats=20_000_000, settlement="novation"), given, outcome)
    takeovers, cash = novation_takeovers(contract(notional_sats=20_000_000), event)
    # the buyer sells back what ADL bought from it: its short of 20 is whole again
    assert [(t.buyer_side, t.quantity, t.price) for t in takeovers] == (
        [(Side.SELL, 1, D(42_581))] * 7 + [(Side.SELL, 1, D(42_580))] * 3)
    assert cash == 0
    # 3,000,000 sats take two contracts (1,320,011 sats each at 42,581 x 31); the rest is cash,
    # the ADL loss of the 8 left (5 x 80,011 + 3 x 79,980), within the notional left (359,978)
    takeovers, cash = novation_takeovers(contract(notional_sats=3_000_000), event)
    assert sum(t.quantity for t in takeovers) == 2
    assert cash == min(3_000_000 - 2 * 1_320_011, 5 * 80_011 + 3 * 79_980) == 359_978


def test_no_event_before_the_protection_starts_for_another_reference_or_without_loss():
    given, outcome = bankrupt_long_against(account("2", 10_000_000, position("2", -20, 49_000)))
    assert determine_credit_event(contract(trade_date=date(2026, 12, 10)), given, outcome) is None  # step-in T+1
    assert determine_credit_event(contract(reference_account_id="7"), given, outcome) is None
    # a solvent liquidation closed against the book: no shortfall, nobody deleveraged
    liquidated = account("1", 4_000_000, position("1", 10, 50_000))  # equity 900,000
    solvent = inputs(liquidated, mark=40_000, book=[resting("9", "buy", 10, 39_500)])
    assert determine_credit_event(contract(), solvent, liquidate(solvent)) is None

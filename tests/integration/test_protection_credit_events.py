"""Credit events from real liquidations on SQLite and PostgreSQL: the trader a miner hedged with
blows up; cash protection pays its shortfall before the insurance fund, novation reopens the miner's
hedge against the protection seller; one journal entry per event, the record replays."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hashedge.domain import ledger as journal
from hashedge.services import ledger, liquidation, liquidation_records, protection
from protection_setup import SYMBOL, mark, market


def setup(runtime, settlement: str):
    m = market(runtime)  # the miner short 10 HP at 50,000 to the trader (2,992,250 sats of equity)
    stored = protection.book_protection(runtime.uow(), runtime.clock, buyer_id=m.ids["miner"],
                                        seller_id=m.ids["seller"], reference_id=m.ids["trader"],
                                        notional_sats=16_000_000, premium_bps="20", maturity=date(2027, 3, 20),
                                        settlement=settlement)
    runtime.clock.advance(timedelta(days=2))  # protection in force from the next day
    return m, stored


def collateral(runtime, *ids) -> dict[int, int]:
    with runtime.uow() as uow:
        found = uow.ledger.balances([journal.collateral(str(i)) for i in ids])
    return {int(a.owner_id): v for a, v in found.items()}


def position(runtime, account_id: int) -> int:
    with runtime.uow() as uow:
        return uow.positions.get(account_id, uow.instruments.get(SYMBOL).spec).quantity


def test_cash_protection_pays_the_trader_shortfall_before_the_insurance_fund(runtime):
    m, stored = setup(runtime, "cash")
    mark(runtime, 40_000)  # the trader: 2,992,250 - 3,100,000 = -107,750
    report = liquidation.sweep(runtime.uow, runtime.clock)
    [result] = report.liquidations
    outcome = result.outcome
    assert [(c.stage, c.amount_sats) for c in outcome.covers][:2] == [("protection", 107_750), ("insurance_fund", 0)]
    assert {f.fill.price for f in outcome.fills} == {Decimal(40_000)}  # covered: deleveraged at the mark
    shown = protection.show_protection(runtime.uow(), runtime.clock, stored.id)
    assert (shown.stored.contract.status.value, shown.stored.credit_event_liquidation_id) == ("triggered",
                                                                                           result.liquidation_id)
    [_, event] = shown.events
    # premium for 2 Nov .. 3 Nov (2 days) at 20 bps on 16,000,000: floor(16,000,000 x 20 x 2 / 3,600,000) = 177
    assert (event.kind, event.detail["cover_sats"], event.detail["buyer_sats"], event.detail["premium_sats"]) == (
        "credit_event", 107_750, 0, 177)
    with runtime.uow() as uow:
        entry = uow.ledger.find(event.entry_key).entry
        escrow = uow.ledger.balances([journal.PROTECTION_ESCROW])[journal.PROTECTION_ESCROW]
    assert entry.amount_for(journal.collateral(str(m.ids["trader"]))) == 107_750
    assert entry.amount_for(journal.collateral(str(m.ids["seller"]))) == 8_000_000 - 107_750 + 177
    assert escrow == 0 and ledger.check_balances(runtime.uow()).ok
    record = liquidation_records.get_liquidation(runtime.uow(), result.liquidation_id)
    assert [c["contract_id"] for c in record.inputs["protection"]] == [stored.id]
    assert liquidation_records.replay(runtime.uow(), result.liquidation_id).differences == []


def test_novation_reopens_the_miner_hedge_with_the_seller_at_the_price_it_was_closed(runtime):
    m, stored = setup(runtime, "novation")
    mark(runtime, 40_000)
    report = liquidation.sweep(runtime.uow, runtime.clock)
    outcome = report.liquidations[0].outcome
    adl = [f for f in outcome.fills if f.stage == "adl"]
    # no cover for novation and no insurance fund: deleveraged beyond the mark, at the bankruptcy price
    assert all(f.counterparty == str(m.ids["miner"]) and f.fill.price > 40_000 for f in adl)
    assert sum(f.fill.quantity for f in adl) == 10
    assert position(runtime, m.ids["miner"]) == -10  # the hedge continues
    assert position(runtime, m.ids["seller"]) == 10  # the seller holds the trader's side
    shown = protection.show_protection(runtime.uow(), runtime.clock, stored.id)
    event = shown.events[-1]
    assert event.detail["novated_contracts"] == 10 and event.detail["buyer_sats"] == 0
    assert ledger.check_balances(runtime.uow()).ok


def test_a_seller_that_defaults_is_liquidated_by_the_waterfall_and_its_escrow_still_pays_its_buyer(runtime):
    from hashedge.services import accounts, block_trades

    m = market_with_fund(runtime)
    # a thin seller: 4,500,000 sats, long 10 HP from a whale, sells 4,000,000 of cash protection on the trader
    seller, _ = accounts.create_account(runtime.uow(), runtime.clock, "thin-seller")
    whale, _ = accounts.create_account(runtime.uow(), runtime.clock, "whale")
    ledger.deposit(runtime.uow(), runtime.clock, seller.id, 4_500_000, "seed-thin")
    ledger.deposit(runtime.uow(), runtime.clock, whale.id, 100_000_000, "seed-whale")
    block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=seller.id, seller_id=whale.id,
                                  instrument=SYMBOL, quantity=10, price=50_000, trade_id="BLOCK-2")
    stored = protection.book_protection(runtime.uow(), runtime.clock, buyer_id=m.ids["miner"], seller_id=seller.id,
                                        reference_id=m.ids["trader"], notional_sats=4_000_000, premium_bps="20",
                                        maturity=date(2027, 3, 20), settlement="cash")
    assert stored.collateral_sats == 2_000_000
    runtime.clock.advance(timedelta(days=2))
    mark(runtime, 46_000)  # the seller's long loses 1,240,000: below maintenance; the trader's equity holds
    report = liquidation.sweep(runtime.uow, runtime.clock)
    assert [r.account_id for r in report.liquidations] == [seller.id]
    shown = protection.show_protection(runtime.uow(), runtime.clock, stored.id)
    assert (shown.stored.contract.status.value, shown.stored.collateral_sats) == ("active", 2_000_000)
    mark(runtime, 40_000)  # now the trader blows up: 107,750 short, paid from the seller's escrow
    report = liquidation.sweep(runtime.uow, runtime.clock)
    [trader_liquidation] = [r for r in report.liquidations if r.account_id == m.ids["trader"]]
    assert trader_liquidation.outcome.covered_by("protection") == 107_750
    assert protection.show_protection(runtime.uow(), runtime.clock, stored.id).stored.contract.status.value == \
        "triggered"
    with runtime.uow() as uow:
        assert uow.ledger.balances([journal.PROTECTION_ESCROW])[journal.PROTECTION_ESCROW] == 0
    assert ledger.check_balances(runtime.uow()).ok


def market_with_fund(runtime):
    return market(runtime, fund_sats=50_000_000)


def test_novation_takes_over_what_the_seller_margin_carries_and_pays_the_rest_in_cash(runtime):
    from hashedge.services import accounts

    m = market(runtime)
    thin, _ = accounts.create_account(runtime.uow(), runtime.clock, "thin-novation-seller")
    ledger.deposit(runtime.uow(), runtime.clock, thin.id, 9_000_000, "seed-thin-novation")
    stored = protection.book_protection(runtime.uow(), runtime.clock, buyer_id=m.ids["miner"], seller_id=thin.id,
                                        reference_id=m.ids["trader"], notional_sats=16_000_000, premium_bps="20",
                                        maturity=date(2027, 3, 20), settlement="novation")
    runtime.clock.advance(timedelta(days=2))
    mark(runtime, 40_000)
    report = liquidation.sweep(runtime.uow, runtime.clock)
    trader = next(r for r in report.liquidations if r.account_id == m.ids["trader"])
    adl = [f for f in trader.outcome.fills if f.stage == "adl"]
    # 1,000,000 sats free after the 8,000,000 of escrow: k contracts taken over at ~40,348 against the
    # 40,000 mark cost k x 10,788 of equity and need k x 124,000 of maintenance margin: k = 7
    event = protection.show_protection(runtime.uow(), runtime.clock, stored.id).events[-1]
    assert event.detail["novated_contracts"] == 7
    rest = adl[7:]  # the last three ADL fills, in cash: their price beyond the mark
    assert event.detail["buyer_sats"] == sum((int(f.fill.price) - 40_000) * 31 for f in rest) > 0
    assert position(runtime, m.ids["miner"]) == -7 and position(runtime, thin.id) == 7
    assert ledger.check_balances(runtime.uow()).ok

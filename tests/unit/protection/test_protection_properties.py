"""Properties of protection in the liquidation engine over random accounts, counterparties, funds
and contracts (hypothesis, derandomized by the suite's profile): the protection stage never pays
more than the shortfall nor than its sellers can; its cover is split exactly among the contracts;
a settlement never pays more than the notional; novation never takes over more than the notional
buys; a protected position is never deleveraged while an unprotected one of its side is left; the
record, contracts included, replays to itself."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hashedge.domain.liquidation import NotLiquidatable, liquidate
from hashedge.domain.liquidation.record import canonical, inputs_from_json, inputs_json, outcome_json
from hashedge.domain.protection import (
    ProtectionContract,
    cash_settlement,
    determine_credit_event,
    novation_takeovers,
)
from hashedge.domain.protection.credit_events import allocate_cover
from hashedge.domain.units import exact
from tests.unit.liquidation.liquidation_builders import HP, account, inputs, position

MARK = 40_000


def contract(n: int, *, buyer: str, seller: str, reference: str, instrument: str | None, notional: int,
             settlement: str) -> ProtectionContract:
    return ProtectionContract(contract_id=f"P{n:02d}", buyer_account_id=buyer, seller_account_id=seller,
                              reference_account_id=reference, reference_instrument_id=instrument,
                              notional_sats=notional, premium_bps=Decimal(25), upfront_sats=0,
                              trade_date=date(2026, 12, 1), maturity_date=date(2027, 3, 20), settlement=settlement)


@st.composite
def scenarios(draw):
    quantity = draw(st.integers(1, 40))
    liquidated = account("1", draw(st.integers(0, quantity * 31 * 12_000)), position("1", quantity, 50_000))
    shorts = [account(str(10 + n), draw(st.integers(0, 30_000_000)),
                      position(str(10 + n), -draw(st.integers(1, 30)), draw(st.integers(40_000, 55_000))))
              for n in range(draw(st.integers(1, 5)))]
    contracts, capacities = [], {}
    for n, short in enumerate(shorts):
        kind = draw(st.sampled_from(["none", "position", "account_cash", "account_novation"]))
        notional = draw(st.integers(1, 20_000_000))
        if kind == "position":
            contracts.append(contract(n, buyer=short.account_id, seller="90", reference=short.account_id,
                                      instrument=HP.symbol, notional=notional,
                                      settlement=draw(st.sampled_from(["cash", "novation"]))))
        elif kind.startswith("account"):
            settled = "cash" if kind == "account_cash" else "novation"
            contracts.append(contract(n, buyer=short.account_id, seller="90", reference="1", instrument=None,
                                      notional=notional, settlement=settled))
            if settled == "cash":
                capacities[f"P{n:02d}"] = draw(st.integers(0, notional))
    case = inputs(liquidated, mark=MARK, counterparties=shorts,
                  insurance_fund=draw(st.sampled_from([0, 200_000, 10**9])))
    return dataclasses.replace(case, protection=tuple(contracts), protection_capacity_sats=capacities)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_protection_in_the_waterfall_keeps_its_promises(case):
    try:
        outcome = liquidate(case)
    except NotLiquidatable:
        event("not liquidatable")
        return
    covered = outcome.covered_by("protection")
    event("protection paid" if covered else "protection idle")
    # the stage pays at most the shortfall and what the sellers can; its cover is split exactly
    assert 0 <= covered <= min(sum(case.protection_capacity_sats.values()), outcome.shortfall_sats)
    split = allocate_cover(dict(case.protection_capacity_sats), covered)
    assert sum(split.values()) == covered
    assert all(split[c] <= case.protection_capacity_sats[c] for c in split)
    assert outcome.shortfall_sats == sum(c.amount_sats for c in outcome.covers) + outcome.uncovered_sats
    # settlements stay within the notional
    for c in case.protection:
        credit = determine_credit_event(c, case, outcome)
        if credit is None:
            assert c.contract_id not in split
            continue
        if c.settlement.value == "cash":
            paid = cash_settlement(c, credit, cover_sats=split.get(c.contract_id, 0))
            assert 0 <= paid.total_sats <= c.notional_sats
        else:
            takeovers, cash = novation_takeovers(c, credit)
            taken = sum(t.quantity * exact(t.price) * exact(HP.multiplier) for t in takeovers)
            assert taken + cash <= c.notional_sats and cash >= 0
            assert sum(t.quantity for t in takeovers) <= sum(h.quantity for h in credit.adl_hits)
    # protected positions go last: if one was deleveraged, every unprotected short was closed entirely
    protected = {c.buyer_account_id for c in case.protection}
    hit = {f.counterparty for f in outcome.fills if f.stage == "adl"}
    closed = {}
    for f in outcome.fills:
        if f.stage == "adl":
            closed[f.counterparty] = closed.get(f.counterparty, 0) + f.fill.quantity
    if hit & protected:
        event("a protected position deleveraged")
        for account_id, state in case.counterparties.items():
            if account_id not in protected:
                assert closed.get(account_id, 0) == abs(state.positions[0].quantity)
    # the record, contracts and capacities included, replays to itself
    stored = inputs_from_json(inputs_json(case))
    assert stored.protection == case.protection
    assert canonical(outcome_json(liquidate(stored))) == canonical(outcome_json(outcome))

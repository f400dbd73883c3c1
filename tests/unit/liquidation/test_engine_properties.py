"""Properties of the engine over random accounts, books, opposite positions and fund sizes
(hypothesis, derandomized by the suite's profile): the penalty never takes equity below zero, the
shortfall is exactly what the stages covered plus what is left uncovered, no fund pays more than it
has, book fills stay in the band, ADL prices lie between the mark and the counterparty's entry,
positions change hands one for one, closing stops only at the target or when nothing can act, and
the JSON record replays to itself."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from hashedge.domain.liquidation import NotLiquidatable, liquidate
from hashedge.domain.liquidation.plan import target_sats
from hashedge.domain.liquidation.record import canonical, inputs_from_json, inputs_json, outcome_json
from hashedge.domain.margin import AccountState, account_margin
from liquidation_builders import SPECS, account, inputs, position, resting

MARK = 45_000


@st.composite
def scenarios(draw):
    side = draw(st.sampled_from([1, -1]))
    quantity = side * draw(st.integers(1, 60))
    entry = draw(st.integers(35_000, 55_000))
    collateral = draw(st.integers(0, abs(quantity) * 31 * 9_000))
    liquidated = account("1", collateral, position("1", quantity, entry))
    book = []
    for n in range(draw(st.integers(0, 4))):
        price = MARK + (-1 if side > 0 else 1) * draw(st.integers(0, 3_000))  # some inside the band, some not
        book.append(resting(f"{50 + n}", "buy" if side > 0 else "sell", draw(st.integers(1, 30)), price))
    others = []
    for n in range(draw(st.integers(0, 4))):
        held = -side * draw(st.integers(1, 40))
        others.append(account(str(10 + n), draw(st.integers(0, 50_000_000)),
                              position(str(10 + n), held, draw(st.integers(35_000, 55_000)))))
    return inputs(liquidated, mark=MARK, book=book, counterparties=others,
                  insurance_fund=draw(st.sampled_from([0, 100_000, 2_000_000, 10**9])))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_liquidation_outcomes_keep_their_promises(case):
    try:
        outcome = liquidate(case)
    except NotLiquidatable:
        event("not liquidatable")
        return
    event("shortfall" if outcome.shortfall_sats else "solvent")
    event("adl" if any(f.stage == "adl" for f in outcome.fills) else "no adl")
    mark = Decimal(MARK)
    # the penalty never takes the account below zero
    assert outcome.penalty_sats >= 0
    assert outcome.after.equity_sats + outcome.uncovered_sats >= 0
    if outcome.penalty_sats:
        assert outcome.after.equity_sats >= 0 and outcome.collateral_after_sats >= 0
    # every sat of shortfall is covered by a named stage or recorded as uncovered
    assert outcome.shortfall_sats == sum(c.amount_sats for c in outcome.covers) + outcome.uncovered_sats
    assert outcome.covered_by("insurance_fund") <= case.available_sats["insurance_fund"]
    # prices: the book within the 3% band, ADL between the mark and the counterparty's entry
    entries = {a: p.open_value / p.quantity for a, s in case.counterparties.items() for p in s.positions}
    for item in outcome.fills:
        price = item.fill.price
        if item.stage == "book":
            assert abs(price - mark) <= mark * Decimal("0.03")
        else:
            assert item.stage == "adl"
            low, high = sorted((mark, entries[item.counterparty]))
            assert low - 1 <= price <= max(high + 1, mark)
    # one for one: what the account closed, the others took
    closed = sum(f.fill.signed_quantity_for("1") for f in outcome.fills)
    held = case.account.positions[0].quantity
    assert abs(closed) <= abs(held) and closed * held <= 0
    # closing stopped at the target (penalty paid), or nothing could act, or the position is gone
    if not outcome.unabsorbed and abs(closed) < abs(held):
        remaining = AccountState(account_id="1", collateral_sats=outcome.collateral_after_sats,
                                 positions=(_after(case, outcome),))
        summary = account_margin(remaining, case.marks, case.params, specs=SPECS)
        assert summary.equity_sats >= target_sats(remaining, summary.maintenance_margin_sats, case.marks, SPECS,
                                                  case.params)
    # the record replays to itself
    assert canonical(outcome_json(liquidate(inputs_from_json(inputs_json(case))))) == canonical(outcome_json(outcome))


def _after(case, outcome):
    position_ = case.account.positions[0]
    for item in outcome.fills:
        position_ = position_.apply(item.fill)
    return position_

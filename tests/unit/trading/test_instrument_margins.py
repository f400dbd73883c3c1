"""An account's margin and the pre-trade check, taken as a sum of per-instrument terms
(``domain.margin.instrument_margins``), give the integers of the definition in the module
docstring: positions' PnL and requirements one by one, every working order's margin over the
whole account, and the check as "initial margin plus the order margin counting the new order,
against equity". The definition is written out here from the per-position functions, not from
the terms."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import (
    AccountState, InstrumentMargin, account_margin, initial_margin_sats, instrument_margins, maintenance_margin_sats,
    margin_instruments, order_margin_sats, pre_trade_check, requirement_per_contract, unrealized_pnl_sats,
)
from hashedge.domain.orders import Side
from hashedge.domain.parameters import RiskParameters
from test_order_levels import SPEC_LIST, near_mark, resting_orders, summed
from tests.hypothesis_profiles import examples
from trading_builders import CAPPED, DIFF, HP, MARKS, SPECS, order, position

PARAMS = RiskParameters()


def by_definition(account: AccountState):
    """(PnL, initial, maintenance, order margin) summed over the whole account at once."""
    initial = sum(initial_margin_sats(SPECS[p.instrument_id], p.quantity, MARKS[p.instrument_id], PARAMS)
                  for p in account.positions)
    maintenance = sum(maintenance_margin_sats(SPECS[p.instrument_id], p.quantity, MARKS[p.instrument_id], PARAMS)
                      for p in account.positions)
    return (unrealized_pnl_sats(account, MARKS, SPECS), initial, maintenance,
            order_margin_sats(account, MARKS, SPECS, PARAMS))


def check_by_definition(account: AccountState, new) -> int | None:
    """The shortfall the module docstring defines, or None when the order passes."""
    held = account.position(new.instrument_id)
    same_side = sum(o.remaining_quantity for o in account.open_orders
                    if o.instrument_id == new.instrument_id and o.side is new.side and o.order_id != new.order_id)
    if held and (held > 0) != (new.side is Side.BUY) and same_side + new.remaining_quantity <= abs(held):
        return None  # only reduces the position
    pnl, initial, _, _ = by_definition(account)
    others = tuple(o for o in account.open_orders if o.order_id != new.order_id)
    shortfall = initial + order_margin_sats(account, MARKS, SPECS, PARAMS, others + (new,)) - (
        account.collateral_sats + pnl)
    return shortfall if shortfall > 0 else None


accounts = st.builds(
    lambda orders, sum_them, collateral, held: AccountState(
        account_id="alice", collateral_sats=collateral,
        positions=[p for p in (position("alice", HP, held[0], "45010"), position("alice", DIFF, held[1], "150.10"),
                               position("alice", CAPPED, held[2], "42010")) if p.quantity],
        open_orders=summed(orders) if sum_them else orders),
    resting_orders(), st.booleans(), st.integers(0, 8_000_000), st.tuples(*[st.integers(-30, 30)] * 3))


@settings(max_examples=examples(400), deadline=None)
@given(accounts, st.sampled_from(SPEC_LIST), st.sampled_from(["buy", "sell"]), st.integers(1, 40), st.data())
def test_the_terms_add_up_to_the_definition_and_the_check_from_them_is_the_defined_check(
        account, spec, side, quantity, data):
    terms = instrument_margins(account, MARKS, SPECS, PARAMS)
    assert list(terms) == margin_instruments(account)
    summary = account_margin(account, MARKS, PARAMS, specs=SPECS)
    assert (summary.unrealized_pnl_sats, summary.initial_margin_sats, summary.maintenance_margin_sats,
            summary.order_margin_sats) == by_definition(account)
    assert summary.free_collateral_sats == (account.collateral_sats + summary.unrealized_pnl_sats
                                            - summary.initial_margin_sats - summary.order_margin_sats)
    new = order("alice", spec, side, quantity, data.draw(st.one_of(st.none(), near_mark(spec))))
    denial = pre_trade_check(account, new, MARKS, PARAMS, specs=SPECS)
    assert (None if denial is None else denial.shortfall_sats) == check_by_definition(account, new)
    # handed the terms it would work out, the check gives the same answer without them
    assert pre_trade_check(account, new, MARKS, PARAMS, specs=SPECS, terms=terms) == denial
    # terms of instruments the account has nothing in are zero, and extra ones are not counted
    extra = instrument_margins(account, MARKS, SPECS, PARAMS, only=[*terms, *(s.symbol for s in SPEC_LIST)])
    assert all(extra[s.symbol] == InstrumentMargin() for s in SPEC_LIST if s.symbol not in terms)
    assert pre_trade_check(account, new, MARKS, PARAMS, specs=SPECS, terms=extra) == denial


def test_an_order_with_the_id_of_a_resting_one_replaces_it_in_the_check():
    """The check counts the new order instead of a resting order with its id (a replace): the
    collateral the new order needs alone is enough, a sat less is short by one."""
    resting = order("alice", HP, "buy", 30, "44990")
    bigger = replace(resting, quantity=40)
    needed = pre_trade_check(AccountState(account_id="alice", collateral_sats=0), bigger, MARKS, PARAMS,
                             specs=SPECS).shortfall_sats
    for collateral, shortfall in ((needed, None), (needed - 1, 1)):
        account = AccountState(account_id="alice", collateral_sats=collateral, open_orders=[resting])
        denial = pre_trade_check(account, bigger, MARKS, PARAMS, specs=SPECS)
        assert (None if denial is None else denial.shortfall_sats) == shortfall == check_by_definition(account, bigger)


def test_a_mark_that_is_not_a_positive_finite_price_is_refused_by_name_even_with_requirements_kept():
    """The requirement per contract is kept by value; a signalling NaN cannot even be a key, so
    the mark is checked before anything is looked up: the same refusal for every bad mark."""
    for bad in (Decimal("sNaN"), Decimal("NaN"), Decimal("Infinity"), Decimal(0), Decimal(-1)):
        for _twice in range(2):
            with pytest.raises(InvalidValue) as refused:
                requirement_per_contract(HP, bad, PARAMS.ratios(HP.product).initial, long=True)
            assert refused.value.field == "mark_price"

"""The parameter registry's rules: every parameter described, hard bounds, per-step limits on
margin ratios, what counts as an emergency tightening, versions rebuilt from their overrides."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from hashedge.domain.errors import InvalidValue
from hashedge.domain.governance.registry import (
    ParameterVersion,
    apply_changes,
    check_step_limits,
    describe,
    parse_value,
    tightens_margins_only,
    unit_of,
)
from hashedge.domain.parameters import BOUNDS, SCALARS, ParameterOutOfBounds, RiskParameters

DEFAULTS = RiskParameters()
HP_INITIAL = "margin.initial.hashprice_monthly"
HP_MAINTENANCE = "margin.maintenance.hashprice_monthly"


def test_every_registry_name_is_described_with_its_value_bounds_and_unit():
    infos = {info.name: info for info in describe(DEFAULTS)}
    assert set(infos) == set(DEFAULTS.as_registry())
    for name, info in infos.items():
        assert info.value == DEFAULTS.as_registry()[name]
        assert info.description and info.unit
        if info.unit != "text":
            assert info.low <= info.value <= info.high
    assert infos["liquidation.penalty_ratio"].unit == "ratio"
    assert infos["fees.maker_bps"].unit == "bps"
    assert infos["mark.min_book_notional_sats"].unit == "sats"
    assert infos["governance.timelock_days"].unit == "days"
    assert (infos[HP_INITIAL].low, infos[HP_INITIAL].high) == (BOUNDS["margin.initial"].low,
                                                              BOUNDS["margin.initial"].high)


def test_a_parameter_added_to_risk_parameters_is_governed_without_registry_code():
    # every scalar of RiskParameters is a registry name with a bound: the registry lists none itself
    assert set(SCALARS) <= set(DEFAULTS.as_registry())
    assert unit_of("pool.withdrawal_delay_days") == "days" and unit_of("pool.max_take_sats") == "sats"


def test_the_governance_defaults_are_those_of_the_issue():
    assert DEFAULTS.governance_voting_period_days == 7 and DEFAULTS.governance_timelock_days == 2
    assert DEFAULTS.governance_support_ratio == Decimal("0.5") == DEFAULTS.governance_quorum_ratio
    assert sum((DEFAULTS.fee_split_makers, DEFAULTS.fee_split_insurance_fund, DEFAULTS.fee_split_community_fund,
                DEFAULTS.fee_split_backstop_pool)) == 1


@pytest.mark.parametrize("name, value", [
    ("liquidation.penalty_ratio", "0.06"),  # above its hard bound
    ("governance.timelock_days", "1"),  # Compound's 2-30 days
    ("governance.support_ratio", "0.4"),  # never below one half
    ("margin.initial.diff_epoch", "0.04"),
])
def test_a_change_outside_its_hard_bound_is_refused(name, value):
    with pytest.raises(ParameterOutOfBounds):
        apply_changes(DEFAULTS, {}, {name: parse_value(name, value)})


def test_a_fee_split_that_does_not_sum_to_one_is_refused():
    with pytest.raises(ParameterOutOfBounds, match="sum to 1"):
        apply_changes(DEFAULTS, {}, {"fees.split.makers": Decimal("0.3")})


def test_changes_give_the_new_values_what_changed_and_cumulative_overrides():
    after, changes, overrides = apply_changes(DEFAULTS, {"fees.maker_bps": "1"},
                                              {"liquidation.penalty_ratio": Decimal("0.02")})
    assert after.liquidation_penalty_ratio == Decimal("0.02")
    assert changes == {"liquidation.penalty_ratio": ("0.01", "0.02")}
    assert overrides == {"fees.maker_bps": "1", "liquidation.penalty_ratio": "0.02"}


def test_a_change_to_the_value_in_force_is_refused():
    with pytest.raises(InvalidValue, match="changes nothing"):
        apply_changes(DEFAULTS, {}, {"liquidation.penalty_ratio": Decimal("0.01")})


def test_unknown_names_and_non_numbers_are_refused():
    with pytest.raises(InvalidValue, match="not a governed parameter"):
        parse_value("margin.initial.NOPE", "0.1")
    with pytest.raises(InvalidValue, match="must be a number"):
        parse_value("fees.maker_bps", "two")
    with pytest.raises(InvalidValue, match="finite"):
        parse_value("fees.maker_bps", "NaN")


def test_a_margin_ratio_moves_at_most_the_governed_step_per_proposal():
    step = DEFAULTS.governance_margin_step_ratio  # 0.25 of 0.15: 0.1125 .. 0.1875
    check_step_limits(DEFAULTS, {HP_INITIAL: Decimal("0.15") * (1 + step)})
    check_step_limits(DEFAULTS, {HP_INITIAL: Decimal("0.15") * (1 - step)})
    with pytest.raises(ParameterOutOfBounds, match="margin_step_ratio"):
        check_step_limits(DEFAULTS, {HP_INITIAL: Decimal("0.19")})
    with pytest.raises(ParameterOutOfBounds, match="margin_step_ratio"):
        check_step_limits(DEFAULTS, {HP_MAINTENANCE: Decimal("0.07")})
    check_step_limits(DEFAULTS, {"liquidation.penalty_ratio": Decimal("0.05")})  # not step-limited


def test_only_raising_margin_ratios_is_an_emergency_tightening():
    assert tightens_margins_only(DEFAULTS, {HP_INITIAL: Decimal("0.2"), HP_MAINTENANCE: Decimal("0.12")}) == []
    assert tightens_margins_only(DEFAULTS, {HP_INITIAL: Decimal("0.14")})  # loosening
    assert tightens_margins_only(DEFAULTS, {HP_INITIAL: Decimal("0.15")})  # no change
    assert tightens_margins_only(DEFAULTS, {"liquidation.penalty_ratio": Decimal("0.02")})


def test_a_version_is_the_defaults_with_its_overrides():
    version = ParameterVersion(2, datetime(2026, 11, 1, tzinfo=timezone.utc), "proposal", "7", 1, "", {},
                               {"liquidation.penalty_ratio": "0.02", "governance.risk_committee": "bob,alice",
                                "retired.parameter": "1"})
    params = version.parameters()
    assert params.liquidation_penalty_ratio == Decimal("0.02")
    assert params.risk_committee == {"alice", "bob"}
    assert params.as_registry() == DEFAULTS.with_changes({"liquidation.penalty_ratio": Decimal("0.02"),
                                                          "governance.risk_committee": "alice,bob"}).as_registry()

"""The desk's pure rules: the role table, names and passwords, login throttling, session timeouts,
the four-eyes policy and its bounded parameters, and hedge sizing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain.desk_access import (
    ROLE_PERMISSIONS,
    Permission,
    Role,
    SessionPolicy,
    allows,
    password_problem,
    throttled_until,
    username_problem,
)
from hashedge.domain.errors import InvalidValue
from hashedge.domain.four_eyes import (
    DeskParameters,
    RequestStatus,
    approval_refusal,
    block_trade_needs_approval,
    insurance_contribution_needs_approval,
    protection_booking_needs_approval,
    withdrawal_needs_approval,
)
from hashedge.domain.hedging import hedge_size
from hashedge.domain.instruments import epoch_future, hashprice_monthly, Product
from hashedge.domain.parameters import ParameterOutOfBounds

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def test_each_role_holds_exactly_its_permissions():
    assert ROLE_PERMISSIONS[Role.VIEWER] == {Permission.VIEW}
    assert ROLE_PERMISSIONS[Role.ADMIN] == set(Permission)
    assert not ROLE_PERMISSIONS[Role.TRADER] & {Permission.APPROVE, Permission.OPERATIONS, Permission.USERS}
    assert not ROLE_PERMISSIONS[Role.RISK] & {Permission.DEPOSIT, Permission.WITHDRAW, Permission.BLOCK_TRADE}
    assert {Permission.LIQUIDATE, Permission.INSURANCE} <= ROLE_PERMISSIONS[Role.RISK]
    assert not ROLE_PERMISSIONS[Role.TRADER] & {Permission.LIQUIDATE, Permission.INSURANCE}
    assert all(allows(role, Permission.VIEW) for role in Role)


@pytest.mark.parametrize("name, ok", [("ada", True), ("ops.desk-1_b", True), ("Ada", False), ("1ada", False),
                                      ("", False), ("a" * 65, False), ("ad a", False), ("adé", False)])
def test_user_names_are_short_lower_case_identifiers(name, ok):
    assert (username_problem(name) is None) is ok


def test_passwords_need_length_not_the_user_name_and_not_one_repeated_character():
    assert password_problem("correct horse") is None
    assert password_problem("eleven char") == "must be at least 12 characters"
    assert password_problem("x" * 257) == "must be at most 256 characters"
    assert password_problem("AdaLovelace1", "adalovelace1") == "must not be the user name"
    assert password_problem("aaaaaaaaaaaaaaaa") == "must not repeat one character"


def test_throttling_starts_at_the_limit_and_lifts_when_the_oldest_failure_leaves_the_window():
    window = timedelta(minutes=15)
    failures = [T0 + timedelta(minutes=m) for m in (0, 1, 2, 3)]
    assert throttled_until(failures, 5, T0 + timedelta(minutes=4), window) is None
    failures.append(T0 + timedelta(minutes=4))
    assert throttled_until(failures, 5, T0 + timedelta(minutes=5), window) == T0 + window
    assert throttled_until(failures, 5, T0 + window, window) is None  # the first failure has left


def test_sessions_expire_when_idle_or_too_old():
    policy = SessionPolicy()
    assert not policy.expired(T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=39))
    assert policy.expired(T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    assert policy.expired(T0, T0 + timedelta(hours=11, minutes=59), T0 + timedelta(hours=12))


def test_four_eyes_thresholds_are_strictly_above_the_governed_sizes_and_bounded():
    params = DeskParameters()
    assert not withdrawal_needs_approval(10_000_000, params) and withdrawal_needs_approval(10_000_001, params)
    assert not block_trade_needs_approval(100_000_000, params) and block_trade_needs_approval(100_000_001, params)
    assert withdrawal_needs_approval(1, DeskParameters(withdrawal_threshold_sats=0))
    with pytest.raises(ParameterOutOfBounds):
        DeskParameters(withdrawal_threshold_sats=-1)
    with pytest.raises(ParameterOutOfBounds):
        DeskParameters.from_registry({"desk.four_eyes.expiry_hours": 24 * 8})
    with pytest.raises(InvalidValue):
        DeskParameters.from_registry({"desk.four_eyes.nothing": 1})
    assert DeskParameters.from_registry({"desk.four_eyes.withdrawal_sats": 5}).withdrawal_threshold_sats == 5


def test_an_insurance_contribution_needs_approval_strictly_above_its_governed_size():
    params = DeskParameters()
    assert not insurance_contribution_needs_approval(10_000_000, params)
    assert insurance_contribution_needs_approval(10_000_001, params)
    lowered = DeskParameters.from_registry({"desk.four_eyes.insurance_contribution_sats": 0})
    assert insurance_contribution_needs_approval(1, lowered)
    with pytest.raises(ParameterOutOfBounds):
        DeskParameters(insurance_contribution_threshold_sats=100 * 100_000_000 + 1)


def test_a_protection_booking_needs_approval_strictly_above_its_governed_notional():
    params = DeskParameters()
    limit = params.protection_notional_threshold_sats
    assert not protection_booking_needs_approval(limit, params) and protection_booking_needs_approval(limit + 1, params)
    lowered = DeskParameters.from_registry({"desk.four_eyes.protection_notional_sats": 0})
    assert protection_booking_needs_approval(1, lowered)
    with pytest.raises(ParameterOutOfBounds):
        DeskParameters(protection_notional_threshold_sats=1_000 * 100_000_000 + 1)


def test_only_a_second_user_with_the_approve_permission_decides_a_pending_unexpired_request():
    pending = dict(requested_by="tina", status=RequestStatus.PENDING, expires_at=T0 + timedelta(hours=24), now=T0)
    assert approval_refusal(approver="rick", approver_role=Role.RISK, **pending) is None
    assert approval_refusal(approver="ada", approver_role=Role.ADMIN, **pending) is None
    assert "own request" in approval_refusal(approver="tina", approver_role=Role.ADMIN, **pending)
    assert "cannot approve" in approval_refusal(approver="tom", approver_role=Role.TRADER, **pending)
    assert "expired" in approval_refusal(approver="rick", approver_role=Role.RISK,
                                         **{**pending, "now": T0 + timedelta(hours=24)})
    assert "already executed" in approval_refusal(approver="rick", approver_role=Role.RISK,
                                                  **{**pending, "status": RequestStatus.EXECUTED})


def test_a_miner_sells_one_hashprice_contract_per_ph_and_buys_diff_in_proportion_to_revenue():
    monthly = hashprice_monthly(2026, 12)
    assert hedge_size(monthly, Decimal("100.4"), mark=Decimal(45000)).contracts == 100
    assert hedge_size(monthly, Decimal("100.5"), mark=Decimal(45000)).contracts == 100  # half-even
    assert hedge_size(monthly, Decimal("101.5"), mark=Decimal(45000)).side.value == "sell"
    diff = epoch_future(Product.DIFF_EPOCH, 421, last_trading_time=T0 + timedelta(days=30))
    # 100 PH/s at 42,100 sats/PH/day over 14 days = 58,940,000 sats; at 150 T that is 392,933 sats per T,
    # and a contract pays 10,000 sats per T: buy 39 (the README's worked figure).
    size = hedge_size(diff, Decimal(100), mark=Decimal(150), hashprice_sats_per_phd=Decimal(42100))
    assert (size.side.value, size.contracts) == ("buy", 39)
    with pytest.raises(InvalidValue):
        hedge_size(monthly, Decimal(0), mark=Decimal(45000))
    with pytest.raises(InvalidValue):
        hedge_size(diff, Decimal(100), mark=Decimal(150))

"""The nightly protection run inside the daily settlement, on SQLite and PostgreSQL: premiums paid
each night (Act/360, the running total rounded down once), the seller re-margined to the mark,
expiry releasing the escrow; a date is done once."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hashedge.domain import ledger as journal
from hashedge.domain.parameters import RiskParameters
from hashedge.services import ledger, protection
from hashedge.services.margin import parameters_in_force
from hashedge.services.settlement import run_daily_settlement
from protection_setup import mark, market


def balances(runtime, *owners) -> dict[str, int]:
    accounts = [journal.collateral(str(o)) for o in owners] + [journal.PROTECTION_ESCROW]
    with runtime.uow() as uow:
        return {a.key: v for a, v in uow.ledger.balances(accounts).items()}


def settle(runtime, day: date):
    runtime.clock.advance(max(timedelta(0), datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                                             timezone.utc) + timedelta(minutes=5)
                              - runtime.clock.now()))
    return run_daily_settlement(runtime.uow(), runtime.clock, day)


@pytest.fixture
def ratio_10_percent():
    """Sellers post 10% of the notional (the bound's floor), so the mark soon exceeds it."""
    params = RiskParameters().with_changes({"protection.collateral_ratio": Decimal("0.1")})
    with parameters_in_force(params):
        yield params


def test_each_night_pays_the_premium_re_margins_the_seller_and_expiry_releases_the_escrow(runtime,
                                                                                         ratio_10_percent):
    m = market(runtime)
    stored = protection.book_protection(runtime.uow(), runtime.clock, buyer_id=m.ids["miner"],
                                        seller_id=m.ids["seller"], reference_id=m.ids["trader"],
                                        notional_sats=1_000_000, premium_bps="20", maturity=date(2026, 12, 20),
                                        settlement="cash")
    assert stored.collateral_sats == 100_000
    miner, seller = f"collateral:{m.ids['miner']}", f"collateral:{m.ids['seller']}"
    start = balances(runtime, m.ids["miner"], m.ids["seller"])
    assert settle(runtime, date(2026, 11, 1)).protection["premiums_sats"] == 0  # protection starts on the 2nd
    # 1,000,000 x 20 / 3,600,000 = 5.56 a day: 5 on the 2nd, 11 - 5 = 6 on the 3rd
    assert settle(runtime, date(2026, 11, 2)).protection["premiums_sats"] == 5
    assert settle(runtime, date(2026, 11, 3)).protection["premiums_sats"] == 6
    again = run_daily_settlement(runtime.uow(), runtime.clock, date(2026, 11, 3))
    assert again.already_done and again.protection["premiums_sats"] == 6
    after = balances(runtime, m.ids["miner"], m.ids["seller"])
    assert (after[miner], after[seller]) == (start[miner] - 11, start[seller] + 11)
    # the trader's loss raises its default risk: the contract's mark, and the seller's collateral, rise
    mark(runtime, 42_000)
    summary = settle(runtime, date(2026, 11, 4))
    shown = protection.show_protection(runtime.uow(), runtime.clock, stored.id)
    assert shown.stored.mark_sats > 100_000 and shown.stored.collateral_sats == shown.stored.mark_sats
    assert summary.protection["collateral_moved_sats"] == shown.stored.mark_sats - 100_000
    assert balances(runtime)["protection_escrow"] == shown.stored.collateral_sats
    # maturity: the rest of the premium through 20 December (49 days in all: floor(1,000,000 x 20 x 49 /
    # 3,600,000) = 272), and the escrow back to the seller
    mark(runtime, 50_000)
    summary = settle(runtime, date(2026, 12, 20))
    assert summary.protection["matured"] == [stored.id]
    shown = protection.show_protection(runtime.uow(), runtime.clock, stored.id)
    assert (shown.stored.contract.status.value, shown.stored.collateral_sats) == ("matured", 0)
    assert shown.stored.premium_paid_sats == 1_000_000 * 20 * 49 // 3_600_000 == 272
    assert balances(runtime)["protection_escrow"] == 0
    final = balances(runtime, m.ids["miner"], m.ids["seller"])
    # the seller has its collateral back and every premium (it holds no position); the miner paid them
    assert final[seller] - start[seller] == 100_000 + 272  # measured after the booking took 100,000
    assert ledger.check_balances(runtime.uow()).ok
    assert settle(runtime, date(2026, 12, 21)).protection == {}  # nothing in force any more

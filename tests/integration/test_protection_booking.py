"""Booking protection on SQLite and PostgreSQL: the band around the fair premium, the seller's
collateral into escrow and the upfront in one journal entry, refusals that write nothing, the
insurance fund as seller of last resort, and the desk's CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from hashedge.domain import ledger as journal
from hashedge.services import ledger, protection
from hashedge.services.protection import ProtectionRefused
from protection_setup import mark, market

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


def balances(runtime, *accounts) -> dict[str, int]:
    with runtime.uow() as uow:
        found = uow.ledger.balances([*accounts, journal.PROTECTION_ESCROW, journal.INSURANCE_FUND])
    return {a.key: v for a, v in found.items()}


def book(runtime, m, **changes):
    fields = dict(buyer_id=m.ids["miner"], seller_id=m.ids["seller"], reference_id=m.ids["trader"],
                  notional_sats=5_000_000, premium_bps="20", maturity=date(2027, 3, 20), settlement="cash")
    return protection.book_protection(runtime.uow(), runtime.clock, **(fields | changes))


def test_a_booking_moves_the_seller_collateral_into_escrow_and_the_upfront_in_one_entry(runtime):
    m = market(runtime)
    before = balances(runtime, journal.collateral(str(m.ids["miner"])), journal.collateral(str(m.ids["seller"])))
    stored = book(runtime, m, upfront_sats=10_000)
    c = stored.contract
    assert (c.trade_date, c.effective_date, c.maturity_date) == (date(2026, 11, 1), date(2026, 11, 2),
                                                                 date(2027, 3, 20))
    assert stored.collateral_sats == 2_500_000  # 50% of the notional: the mark at 20 bps is far below it
    after = balances(runtime, journal.collateral(str(m.ids["miner"])), journal.collateral(str(m.ids["seller"])))
    miner, seller = f"collateral:{m.ids['miner']}", f"collateral:{m.ids['seller']}"
    assert after[miner] == before[miner] - 10_000
    assert after[seller] == before[seller] - 2_500_000 + 10_000
    assert after["protection_escrow"] == 2_500_000
    with runtime.uow() as uow:
        entry = uow.ledger.find(f"protection:{c.contract_id}:booked").entry
        [booked] = uow.protection.events_of(c.contract_id)
    assert entry.kind is journal.EntryKind.PROTECTION and len(entry.postings) == 3
    assert booked.kind == "booked" and booked.detail["collateral_sats"] == 2_500_000
    assert ledger.check_balances(runtime.uow()).ok


def test_a_premium_outside_the_band_or_a_seller_short_of_collateral_is_refused_and_writes_nothing(runtime):
    m = market(runtime)
    mark(runtime, 47_000)
    quote = protection.quote_protection(runtime.uow(), runtime.clock, reference_account_id=m.ids["trader"],
                                        notional_sats=5_000_000)
    fair = quote.fair.premium_bps
    with pytest.raises(ProtectionRefused, match="outside the band") as refused:
        book(runtime, m, premium_bps=str(fair * 3 + 100), maturity=None, tenor="3M")
    assert "premium_bps" in refused.value.fields
    with pytest.raises(ProtectionRefused, match="cannot post"):
        book(runtime, m, premium_bps=str(fair), maturity=None, tenor="3M", notional_sats=500_000_000)
    with pytest.raises(Exception, match="standard CDS date"):
        book(runtime, m, maturity=date(2027, 3, 21))
    with runtime.uow() as uow:
        assert uow.protection.all() == []
    assert balances(runtime)["protection_escrow"] == 0


def test_the_insurance_fund_sells_protection_of_last_resort_within_its_capacity_and_floor(runtime):
    m = market(runtime, fund_sats=40_000_000)  # capacity: 25% of 40,000,000 = 10,000,000 of notional
    with pytest.raises(ProtectionRefused, match="200 bps or more"):
        book(runtime, m, seller_id=None, premium_bps="20")
    # 200 bps is far above the fair premium: widen the band for this booking
    from hashedge.domain.parameters import RiskParameters
    from hashedge.services.margin import parameters_in_force

    with parameters_in_force(RiskParameters().with_changes({"protection.premium_band_min_bps": Decimal(500)})):
        stored = book(runtime, m, seller_id=None, premium_bps="200")
        with pytest.raises(ProtectionRefused, match="capacity"):
            book(runtime, m, seller_id=None, premium_bps="200", notional_sats=5_000_001)
    assert stored.contract.seller_account_id == "insurance_fund"
    assert balances(runtime)["insurance_fund"] == 40_000_000 - 2_500_000
    assert balances(runtime)["protection_escrow"] == 2_500_000


def test_the_desk_books_lists_and_shows_protection_from_the_cli(runtime, database_url):
    m = market(runtime)
    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}

    def run(*args):
        done = subprocess.run([HASHEDGE, "protection", *args], env=env, capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    code, out, err = run("book", "--buyer", "miner", "--seller", "seller", "--reference", "trader", "--notional",
                         "5000000", "--premium-bps", "20", "--maturity", "2027-03-20", "--settlement", "novation",
                         "--json")
    assert code == 0, err
    booked = json.loads(out)
    assert (booked["settlement"], booked["collateral_sats"], booked["status"]) == ("novation", 2_500_000, "active")
    code, out, _ = run("list", "--json")
    assert [c["id"] for c in json.loads(out)] == [booked["id"]]
    code, out, _ = run("show", booked["id"], "--json")
    shown = json.loads(out)
    assert shown["events"][0]["kind"] == "booked" and shown["maturity_date"] == "2027-03-20"
    code, out, err = run("book", "--buyer", "miner", "--seller", "seller", "--reference", "trader", "--notional",
                         "0", "--premium-bps", "20", "--tenor", "3M", "--settlement", "cash")
    assert code != 0 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err


def test_the_orm_describes_the_migrated_protection_tables(runtime):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hashedge.adapters.orm import Base

    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to:
                type_ != "table" or name.startswith("protection_")})
        assert compare_metadata(context, Base.metadata) == []

"""``GET /api/v1/protection/quote`` on SQLite and PostgreSQL: the fair premium of protection on an
account, priced from its stored positions, collateral and marks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.governance.registry import apply_changes
from hashedge.services import protection
from hashedge.services.margin import risk_parameters
from hashedge.services.protection_pricing import fair_quote
from hashedge.web import create_app
from protection_setup import mark, market


def test_a_quote_prices_the_reference_from_its_equity_and_exposure_and_shows_the_inputs(runtime):
    m = market(runtime)
    client = create_app(runtime).test_client()
    answer = client.get(f"/api/v1/protection/quote?reference={m.ids['trader']}&notional_sats=5000000&tenor=3M",
                        headers=m.keys["miner"])
    assert answer.status_code == 200, answer.json
    quote = answer.json
    # the trader: 3,000,000 sats less the 7,750 taker fee of the block (5 bps of 15,500,000), long 10 at 50,000
    assert quote["inputs"]["equity_sats"] == 2_992_250 and quote["inputs"]["exposure_sats"] == 15_500_000
    assert (quote["trade_date"], quote["effective_date"], quote["maturity"]) == ("2026-11-01", "2026-11-02",
                                                                                 "2027-03-20")
    expected = fair_quote(2_992_250, 15_500_000, quote["inputs"]["daily_vol"], notional_sats=5_000_000,
                          trade_date=runtime.clock.now().date(), tenor="3M")
    assert Decimal(quote["premium_bps"]) == expected.premium_bps and quote["upfront_sats"] == expected.upfront_sats
    # the premium is published to 1e-6 bps: the identity holds to half of that times the PV01
    gap = abs(float(quote["premium_bps"]) * quote["risky_pv01_sats"] - quote["protection_leg_sats"])
    assert gap <= 0.5e-6 * quote["risky_pv01_sats"] + 1e-9 * quote["protection_leg_sats"]
    mark(runtime, 47_000)  # the trader loses 930,000: more leverage, a dearer premium
    dearer = client.get(f"/api/v1/protection/quote?reference={m.ids['trader']}&notional_sats=5000000",
                        headers=m.keys["miner"]).json
    assert Decimal(dearer["premium_bps"]) > Decimal(quote["premium_bps"])
    assert dearer["inputs"]["equity_sats"] == 2_992_250 - 930_000


def test_a_quote_uses_the_governed_margin_in_force_when_it_is_asked(runtime):
    m = market(runtime)
    before = protection.quote_protection(runtime.uow(), runtime.clock, reference_account_id=m.ids["trader"],
                                         notional_sats=5_000_000)
    with runtime.uow() as uow:  # a new version in force from now (as an emergency tightening records one)
        params = risk_parameters(uow)
        doubled = {name: Decimal(str(params.as_registry()[name])) * 2
                   for name in ("margin.initial.hashprice_monthly", "margin.maintenance.hashprice_monthly")}
        version = uow.parameters.in_force()
        _after, diff, overrides = apply_changes(params, version.overrides, doubled)
        uow.parameters.add(effective_at=runtime.clock.now(), recorded_at=runtime.clock.now(), source="emergency",
                           actor="rita", proposal_id=None, reason="test", changes=diff, overrides=overrides)
        uow.commit()
    after = protection.quote_protection(runtime.uow(), runtime.clock, reference_account_id=m.ids["trader"],
                                        notional_sats=5_000_000)
    with runtime.uow() as uow:
        expected = protection.load_reference_risk(uow, m.ids["trader"], risk_parameters(uow))
    assert after.reference == expected and after.reference.daily_vol > before.reference.daily_vol
    assert after.fair.premium_bps > before.fair.premium_bps  # a riskier market, a dearer protection


def test_bad_quote_requests_are_400s_with_field_messages_and_unknown_accounts_404(runtime):
    m = market(runtime)
    client = create_app(runtime).test_client()
    base = "/api/v1/protection/quote?reference={}&notional_sats={}&tenor={}"
    for url, field in ((base.format(m.ids["trader"], 0, "3M"), "notional_sats"),
                       (base.format(m.ids["trader"], 10, "4M"), "tenor"),
                       (base.format("x", 10, "3M"), "reference")):
        answer = client.get(url, headers=m.keys["miner"])
        assert answer.status_code == 400 and field in str(answer.json), (url, answer.json)
    assert client.get(base.format(999, 10, "3M"), headers=m.keys["miner"]).status_code == 404
    assert client.get(base.format(m.ids["trader"], 10, "3M")).status_code == 401
    mark(runtime, 40_000)  # the trader's equity is gone: nothing to price
    answer = client.get(base.format(m.ids["trader"], 10, "3M"), headers=m.keys["miner"])
    assert answer.status_code == 400 and "reference" in str(answer.json)
    with pytest.raises(Exception, match="tenor"):
        protection.quote_protection(runtime.uow(), runtime.clock, reference_account_id=m.ids["trader"],
                                    notional_sats=10, tenor="10Y")

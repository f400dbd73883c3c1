"""The desk's risk pages in headless Chromium: a risk user sees an account in the liquidation queue,
runs the sweep, opens the liquidation's record and sees its steps and a successful replay; a
viewer cannot run the sweep; a contribution's form error sits next to its field. Screenshots of
the risk pages at 1400x900 (tests/browser/artifacts/)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hashedge.services import accounts, insurance, ledger, liquidation_records, positions, trading
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def at_risk(live_desk):
    """``Kappa Leveraged`` holds 10 contracts bought from ``Omega Reserve`` (100 BTC) with collateral
    close to initial margin, in a contract the other browser tests do not trade; the mark then
    falls below its estimated liquidation price. Returns its id and the contract."""
    rt = live_desk.runtime
    view = next(v for v in _listed(live_desk) if v.record.symbol != live_desk.instrument)
    symbol, mark = view.record.symbol, view.mark_price
    ids = {}
    for name in ("Kappa Leveraged", "Omega Reserve"):
        account, _ = accounts.create_account(rt.uow(), rt.clock, name)
        ledger.deposit(rt.uow(), rt.clock, account.id, 10_000_000_000, f"seed-{account.id}")
        ids[name] = account.id
    trading.place_order(rt.uow(), rt.clock, ids["Omega Reserve"], instrument=symbol, side="sell", order_type="limit",
                        quantity=10, price=mark)
    trading.place_order(rt.uow(), rt.clock, ids["Kappa Leveraged"], instrument=symbol, side="buy", order_type="limit",
                        quantity=10, price=mark)
    free = accounts.account_summary(rt.uow(), ids["Kappa Leveraged"]).free_collateral_sats
    ledger.withdraw(rt.uow(), rt.clock, ids["Kappa Leveraged"], free - 1_000, "kappa-down-to-margin")
    [risk] = positions.position_risk_page(rt.uow, ids["Kappa Leveraged"]).items
    rt.clock.advance(timedelta(minutes=1))
    fallen = (risk.estimated_liquidation_price * 99 / 100).quantize(mark)
    with rt.uow() as uow:
        uow.marks.add(symbol, rt.clock.now(), fallen, "model", fallen)
        uow.commit()
    return ids["Kappa Leveraged"], symbol


def _listed(live_desk):
    from hashedge.services import instruments

    return [v for v in instruments.list_instruments(live_desk.runtime.uow(), live_desk.runtime.clock)
            if v.trading_open and v.mark_price is not None and v.record.symbol.startswith("HP-")]


def test_a_risk_user_runs_the_sweep_and_reads_the_liquidations_record(desk_page, live_desk, at_risk):
    account_id, symbol = at_risk
    page = desk_page("risk")
    page.click("nav.side >> text=Liquidation queue")
    row = page.locator(f"#liquidation-queue tr[data-account='{account_id}']")
    assert "Kappa Leveraged" in row.inner_text() and row.locator(".badge-liquidatable").count() == 1
    screenshot(page, "liquidation-queue")
    page.click("#sweep-form button[type=submit]")
    [record] = liquidation_records.liquidation_page(live_desk.runtime.uow(), account_id=account_id).items
    assert f"liquidated ({record.id})" in page.locator(".flash-success").inner_text()
    assert page.locator(f"#liquidation-queue tr[data-account='{account_id}'] .badge-liquidatable").count() == 0

    page.click("nav.side >> text=Liquidation records")
    page.fill("#account", "Kappa Leveraged")
    page.click("#liquidation-filters button[type=submit]")
    page.click(f"#liquidations >> text={record.id}")
    assert "equals the stored outcome" in page.locator("#replay").inner_text()
    steps = page.locator("#steps tbody tr")
    assert steps.count() == len(record.outcome["fills"]) >= 1
    assert symbol in steps.first.inner_text() and "Omega Reserve" in page.locator("#steps").inner_text()
    assert page.locator("#covers tbody tr").count() >= 4  # every shortfall stage, then what is uncovered
    screenshot(page, "liquidation-record")
    page.goto(f"{live_desk.url}/desk/accounts/{account_id}")
    assert record.id in page.locator("#account-liquidations").inner_text()
    assert page.locator("#account-events .badge-liquidation").count() == 1
    screenshot(page, "account-risk-panels")
    for name, path in (("adl-ranks", "/desk/risk/adl"), ("insurance-fund", "/desk/risk/insurance-fund"),
                       ("penalties", "/desk/risk/penalties")):
        assert page.goto(live_desk.url + path).status == 200
        assert page.locator("nav.side a.active").count() == 1, name
        screenshot(page, name)
    assert page.problems == []


def test_a_viewer_cannot_run_the_sweep(desk_page, live_desk):
    page = desk_page("viewer")
    page.goto(f"{live_desk.url}/desk/risk/liquidation-queue")
    assert page.locator("#sweep-form").count() == 0
    assert "Your role cannot run the liquidation sweep" in page.locator("main").inner_text()
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    before = liquidation_records.liquidation_page(live_desk.runtime.uow()).total
    for target in ("/desk/risk/liquidation-sweep", "/desk/risk/insurance-fund/contributions"):
        assert page.request.post(f"{live_desk.url}{target}", form={"csrf_token": token}).status == 403, target
    assert liquidation_records.liquidation_page(live_desk.runtime.uow()).total == before


def test_a_contribution_below_one_sat_is_refused_next_to_the_field(desk_page, live_desk):
    before = insurance.insurance_fund(live_desk.runtime.uow()).balance_sats
    page = desk_page("risk")
    page.goto(f"{live_desk.url}/desk/risk/insurance-fund")
    page.fill("#amount_sats", "0")
    page.fill("#memo", "txid 77aa")
    with page.expect_response(lambda r: r.url.endswith("/desk/risk/insurance-fund/contributions")) as answer:
        page.click("#contribution-form button[type=submit]")
    assert answer.value.status == 400
    assert page.locator(".field.has-error [data-field=amount_sats]").count() == 1
    assert page.input_value("#memo") == "txid 77aa"
    page.fill("#amount_sats", "150000")
    page.click("#contribution-form button[type=submit]")
    assert "Contribution of 150,000 sats" in page.locator(".flash-success").inner_text()
    assert page.locator("#fund-balance").inner_text() == f"{before + 150_000:,}"
    assert insurance.insurance_fund(live_desk.runtime.uow()).balance_sats == before + 150_000

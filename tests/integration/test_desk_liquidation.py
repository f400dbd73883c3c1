"""The desk's risk pages for the liquidation engine, on SQLite and PostgreSQL: the read services
(queue, a record's steps, ADL queues, penalty distributions), the audited desk actions (the sweep,
contributions to the insurance fund with four eyes), and the pages over HTTP with their role
checks and form errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from hashedge.domain.instruments import hashprice_monthly
from hashedge.errors import Forbidden, NotFound
from hashedge.services import (
    accounts,
    approvals,
    audit,
    desk_users,
    insurance,
    ledger,
    liquidation,
    liquidation_queries,
    liquidation_records,
    penalties,
    positions,
    risk,
    trading,
)
from hashedge.services.audit import Actor
from hashedge.services.desk_actions import contribute_to_insurance_fund, run_liquidation_sweep
from hashedge.web import create_app
from tests.integration.test_desk_web import PASSWORD, login, token_of

SYMBOL = "HP-2026-12"
RICK, ADA = Actor("rick", "risk"), Actor("ada", "admin")


def mark(runtime, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


def funded(runtime, name: str, sats: int) -> int:
    account, _ = accounts.create_account(runtime.uow(), runtime.clock, name)
    ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
    return account.id


def order(runtime, account_id: int, side: str, quantity: int, price: int):
    return trading.place_order(runtime.uow(), runtime.clock, account_id, instrument=SYMBOL, side=side,
                               order_type="limit", quantity=quantity, price=price)


@pytest.fixture
def market(runtime):
    """``long``: 10 at 50,000 on 2,400,000 sats; ``calm``: 2 at 50,000 on 600,000 sats (a margin call
    only when ``long`` is liquidatable); two shorts, ``lean`` and ``rich``; ``maker`` quotes later."""
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50000)
    ids = {name: funded(runtime, name, sats) for name, sats in (
        ("long", 2_400_000), ("calm", 600_000), ("lean", 1_500_000), ("rich", 10_000_000_000),
        ("maker", 100_000_000))}
    order(runtime, ids["lean"], "sell", 6, 50000)
    order(runtime, ids["rich"], "sell", 6, 50000)
    order(runtime, ids["long"], "buy", 10, 50000)
    order(runtime, ids["calm"], "buy", 2, 50000)
    for name, role in (("vera", "viewer"), ("tina", "trader"), ("rick", "risk"), ("ada", "admin")):
        desk_users.create_user(runtime.uow(), runtime.clock, "test", name, role, PASSWORD)
    return ids


def test_the_queue_lists_the_accounts_at_risk_worst_first_with_what_they_lack(runtime, market):
    mark(runtime, 46800)
    queue = liquidation_queries.liquidation_queue(runtime.uow(), runtime.clock)
    frame = risk.sweep(runtime.uow(), runtime.clock).accounts
    at_risk = frame[frame["status"] != "healthy"]
    assert [line.account_id for line in queue.lines] == [market["long"], market["calm"]]
    assert [line.status for line in queue.lines] == ["liquidatable", "margin_call"]
    assert queue.liquidatable == 1 and len(queue.lines) == len(at_risk)
    for line in queue.lines:
        row = frame.loc[str(line.account_id)]
        assert (line.equity_sats, line.maintenance_margin_sats) == (row["equity_sats"], row["maintenance_margin_sats"])
        assert line.to_maintenance_sats == max(line.maintenance_margin_sats - line.equity_sats, 0)
        assert line.to_initial_sats == line.initial_margin_sats - line.equity_sats > 0
    assert queue.lines[0].cover < 1 <= queue.lines[1].cover


def test_a_record_is_laid_out_as_the_procedures_steps_with_fills_by_stage(runtime, market):
    order(runtime, market["maker"], "buy", 3, 46500)  # the book takes 3; the shorts' ADL queue the rest
    mark(runtime, 46800)
    report = run_liquidation_sweep(runtime.session_factory, runtime.clock, RICK)
    [result] = report.liquidations
    detail = liquidation_queries.record_detail(runtime.uow(), result.liquidation_id)
    outcome = result.outcome
    assert [s.step["number"] for s in detail.steps] == [s.number for s in outcome.steps]
    for step in detail.steps:
        assert sum(fill["quantity"] for _, fill in step.rows) == step.step["closed"]
        order_of = [liquidation_queries.TAKEOVER_ORDER.index(stage) for stage, _ in step.rows]
        assert order_of == sorted(order_of)  # book first, then the takeover stages in the waterfall's order
    stages = {stage: sum(f["quantity"] for s in detail.steps for st, f in s.rows if st == stage)
              for stage in ("book", "adl")}
    assert stages == {"book": 3, "adl": sum(f.fill.quantity for f in outcome.fills if f.stage == "adl")}
    assert [c["stage"] for c in detail.covers] == list(liquidation_queries.SHORTFALL_ORDER)
    assert detail.trigger["status"] == "liquidatable" and detail.names[market["long"]] == "long"
    assert detail.book_orders == {SYMBOL: 1}
    with pytest.raises(NotFound):
        liquidation_queries.record_detail(runtime.uow(), "L999-1")


def test_the_sweep_from_the_desk_is_audited_and_a_second_run_liquidates_nobody(runtime, market):
    mark(runtime, 46800)
    first = run_liquidation_sweep(runtime.session_factory, runtime.clock, RICK)
    second = run_liquidation_sweep(runtime.session_factory, runtime.clock, RICK)
    assert [r.account_id for r in first.liquidations] == [market["long"]] and second.liquidations == []
    log = audit.audit_page(runtime.uow(), action="risk.liquidation_sweep").items
    assert [(r.actor, r.after["liquidations"]) for r in log] == [("rick", 0), ("rick", 1)]
    assert log[1].after["liquidation_ids"] == [first.liquidations[0].liquidation_id]


def test_adl_queues_rank_as_the_positions_show_their_quintiles(runtime, market):
    mark(runtime, 47000)
    report = liquidation.sweep(runtime.uow, runtime.clock)  # publishes the ranks the positions show
    assert report.liquidations == []
    queues = liquidation_queries.adl_queues(runtime.uow(), runtime.clock)
    assert [(q.instrument_id, q.side) for q in queues] == [(SYMBOL, "long"), (SYMBOL, "short")]
    for queue in queues:
        assert [line.rank for line in queue.lines] == list(range(1, len(queue.lines) + 1))
        for line in queue.lines:
            [shown] = positions.position_risk_page(runtime.uow, line.account_id).items
            assert shown.adl_quintile == line.quintile
            assert shown.view.position.quantity == line.quantity
    shorts = queues[1]
    assert [line.name for line in shorts.lines] == ["lean", "rich"]  # both in profit: the leveraged one first
    assert shorts.lines[0].score > shorts.lines[1].score > 0
    assert liquidation_queries.adl_queues(runtime.uow(), runtime.clock, instrument="HP-2030-01") == []


def test_the_penalty_distributions_say_who_received_what(runtime, market):
    order(runtime, market["maker"], "buy", 10, 46500)
    mark(runtime, 46800)
    [result] = run_liquidation_sweep(runtime.session_factory, runtime.clock, RICK).liquidations
    assert liquidation_queries.penalty_distributions(runtime.uow()).total == 0
    runtime.clock.advance(timedelta(days=1))
    day = liquidation_records.get_liquidation(runtime.uow(), result.liquidation_id).business_date
    paid = penalties.distribute_penalties(runtime.uow(), runtime.clock, day)
    page = liquidation_queries.penalty_distributions(runtime.uow())
    [shown] = page.items
    assert page.total == 1 and shown.total_sats == result.outcome.penalty_sats == paid.total_sats > 0
    assert shown.recipients == [(market["maker"], "maker", paid.recipients_sats[str(market["maker"])])]
    assert shown.liquidations == [result.liquidation_id]
    assert (sum(s for _, _, s in shown.recipients) + shown.insurance_fund_sats + shown.community_fund_sats
            == shown.total_sats)


def test_a_contribution_is_audited_and_one_above_the_threshold_waits_for_a_second_user(runtime, market):
    threshold = approvals.desk_parameters().insurance_contribution_threshold_sats
    entry = contribute_to_insurance_fund(runtime.session_factory, runtime.clock, RICK, 1_000_000, "c-1", "seed")
    again = contribute_to_insurance_fund(runtime.session_factory, runtime.clock, RICK, 1_000_000, "c-1", "seed")
    assert not entry.replayed and again.replayed
    assert insurance.insurance_fund(runtime.uow()).balance_sats == 1_000_000
    [record] = audit.audit_page(runtime.uow(), action="insurance.contribute").items[-1:]
    assert (record.before, record.after) == ({"insurance_fund_sats": 0}, {"insurance_fund_sats": 1_000_000})

    submitted = approvals.submit_insurance_contribution(runtime.session_factory, runtime.clock, RICK,
                                                        threshold + 1, idempotency_key="c-2")
    assert submitted.pending and insurance.insurance_fund(runtime.uow()).balance_sats == 1_000_000
    with pytest.raises(Forbidden):
        approvals.decide(runtime.session_factory, runtime.clock, RICK, submitted.request.id, approve=True)
    decided = approvals.decide(runtime.session_factory, runtime.clock, ADA, submitted.request.id, approve=True)
    assert decided.status == "executed"
    assert insurance.insurance_fund(runtime.uow()).balance_sats == 1_000_000 + threshold + 1
    assert ledger.check_balances(runtime.uow()).ok


# --- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture
def client(runtime, market):
    return create_app(runtime).test_client()


def test_a_risk_user_runs_the_sweep_from_the_queue_and_opens_the_record(runtime, market, client):
    mark(runtime, 46800)
    login(client, "rick")
    page = client.get("/desk/risk/liquidation-queue")
    assert page.status_code == 200 and f'data-account="{market["long"]}"' in page.text
    assert "Run liquidation sweep" in page.text
    response = client.post("/desk/risk/liquidation-sweep", data={"csrf_token": token_of(page.text)},
                           follow_redirects=True)
    [record] = liquidation_records.liquidation_page(runtime.uow()).items
    assert response.status_code == 200 and f"1 liquidated ({record.id})" in response.text
    listing = client.get("/desk/risk/liquidations?account=long")
    assert record.id in listing.text
    shown = client.get(f"/desk/risk/liquidations/{record.id}")
    assert shown.status_code == 200 and "equals the stored outcome" in shown.text
    assert 'id="steps"' in shown.text and "badge-adl" in shown.text
    account = client.get(f"/desk/accounts/{market['long']}")
    assert record.id in account.text and 'id="position-risk"' in account.text and "badge-liquidation" in account.text
    assert client.get("/desk/risk/liquidations/L999-1").status_code == 404


def test_a_tampered_record_shows_where_its_replay_differs(runtime, market, client):
    from sqlalchemy import text

    mark(runtime, 46800)
    [result] = run_liquidation_sweep(runtime.session_factory, runtime.clock, RICK).liquidations
    with runtime.engine.begin() as connection:
        stored = connection.execute(text("SELECT outcome FROM liquidations")).scalar()
        connection.execute(text("UPDATE liquidations SET outcome = :o"),
                           {"o": stored.replace('"penalty_sats":', '"penalty_sats":1', 1)})
    login(client, "vera")
    shown = client.get(f"/desk/risk/liquidations/{result.liquidation_id}")
    assert shown.status_code == 200 and "Replay differs from the stored outcome" in shown.text
    assert "badge-mismatch" in shown.text and "penalty_sats:" in shown.text


def test_a_viewer_sees_the_risk_pages_but_cannot_sweep_or_contribute(runtime, market, client):
    mark(runtime, 46800)
    login(client, "vera")
    for path in ("/desk/risk/liquidation-queue", "/desk/risk/liquidations", "/desk/risk/insurance-fund",
                 "/desk/risk/adl", "/desk/risk/penalties"):
        assert client.get(path).status_code == 200, path
    page = client.get("/desk/risk/liquidation-queue")
    assert "Your role cannot run the liquidation sweep" in page.text
    token = token_of(client.get("/desk/risk/insurance-fund").text)
    assert client.post("/desk/risk/liquidation-sweep", data={"csrf_token": token}).status_code == 403
    response = client.post("/desk/risk/insurance-fund/contributions",
                           data={"csrf_token": token, "amount_sats": "5", "idempotency_key": "v-1"})
    assert response.status_code == 403
    assert liquidation_records.liquidation_page(runtime.uow()).total == 0
    assert insurance.insurance_fund(runtime.uow()).balance_sats == 0


def test_a_trader_may_not_sweep_and_a_sweep_without_its_token_is_refused(runtime, market, client):
    mark(runtime, 46800)
    login(client, "tina")
    token = token_of(client.get("/desk/risk/liquidation-queue").text)
    assert client.post("/desk/risk/liquidation-sweep", data={"csrf_token": token}).status_code == 403
    login(client, "rick")
    assert client.post("/desk/risk/liquidation-sweep", data={}).status_code == 400
    assert liquidation_records.liquidation_page(runtime.uow()).total == 0


def test_contribution_form_errors_sit_next_to_the_field_and_keep_what_was_typed(runtime, market, client):
    login(client, "rick")
    token = token_of(client.get("/desk/risk/insurance-fund").text)
    response = client.post("/desk/risk/insurance-fund/contributions",
                           data={"csrf_token": token, "amount_sats": "0", "memo": "txid 9f", "idempotency_key": "r-1"})
    assert response.status_code == 400 and 'data-field="amount_sats"' in response.text
    assert 'value="txid 9f"' in response.text
    response = client.post("/desk/risk/insurance-fund/contributions",
                           data={"csrf_token": token, "amount_sats": "9" * 30, "idempotency_key": "r-0"})
    assert response.status_code == 400 and 'data-field="amount_sats"' in response.text
    assert "must be between 1 and" in response.text
    response = client.post("/desk/risk/insurance-fund/contributions",
                           data={"csrf_token": token, "amount_sats": "2500", "idempotency_key": "r-2"},
                           follow_redirects=True)
    assert "Contribution of 2,500 sats" in response.text
    assert insurance.insurance_fund(runtime.uow()).balance_sats == 2500
    threshold = approvals.desk_parameters().insurance_contribution_threshold_sats
    response = client.post("/desk/risk/insurance-fund/contributions",
                           data={"csrf_token": token, "amount_sats": str(threshold + 1), "idempotency_key": "r-3"},
                           follow_redirects=True)
    assert "waits for a second user" in response.text
    assert insurance.insurance_fund(runtime.uow()).balance_sats == 2500


def test_the_record_filters_refuse_bad_input_next_to_the_field(runtime, market, client):
    login(client, "vera")
    response = client.get("/desk/risk/liquidations?account=nobody")
    assert response.status_code == 404 and 'data-field="account"' in response.text and 'value="nobody"' in response.text
    response = client.get("/desk/risk/liquidations?start=2026-13-01")
    assert response.status_code == 400 and 'data-field="start"' in response.text
    response = client.get("/desk/risk/liquidations?start=2026-12-02&end=2026-12-01")
    assert response.status_code == 400 and 'data-field="start"' in response.text
    response = client.get("/desk/risk/liquidations?start=2026-01-01&end=2026-01-01&page=abc")
    assert response.status_code == 200 and "No liquidation matches" in response.text

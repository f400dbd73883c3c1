"""Protection over the API on SQLite and PostgreSQL: request for quote, sealed answers, the buyer
accepting one (booked with the seller's collateral), contracts bought and sold, errors as JSON 4xx."""

from __future__ import annotations

from datetime import datetime, timedelta

from hashedge.domain.protection.rfq import DEFAULT_ANSWER_VALID_SECONDS, MAX_ANSWER_VALID_SECONDS
from hashedge.web import create_app
from protection_setup import market


def test_a_buyer_asks_sellers_answer_and_the_buyer_accepts_one(runtime):
    m = market(runtime)
    client = create_app(runtime).test_client()
    asked = client.post("/api/v1/protection/rfqs", headers=m.keys["miner"], json={
        "reference_account_id": m.ids["trader"], "notional_sats": 5_000_000, "tenor": "3M", "settlement": "novation"})
    assert asked.status_code == 201, asked.json
    rfq_id = asked.json["id"]
    answer = client.post(f"/api/v1/protection/rfqs/{rfq_id}/answers", headers=m.keys["seller"],
                         json={"premium_bps": "20"})
    assert answer.status_code == 201, answer.json
    rich = client.post(f"/api/v1/protection/rfqs/{rfq_id}/answers", headers=m.keys["seller"],
                       json={"premium_bps": "900"})  # far outside the band: refused when accepted
    # the buyer sees both answers, the reference (a third party) neither, the seller its own
    mine = client.get("/api/v1/protection/rfqs", headers=m.keys["miner"]).json["items"]
    assert [len(r["answers"]) for r in mine] == [2]
    assert client.get("/api/v1/protection/rfqs", headers=m.keys["trader"]).json["items"][0]["answers"] == []
    refused = client.post("/api/v1/protection", headers=m.keys["miner"], json={"answer_id": rich.json["id"]})
    assert refused.status_code == 422 and "premium_bps" in refused.json["error"]["fields"], refused.json
    bought = client.post("/api/v1/protection", headers=m.keys["miner"], json={"answer_id": answer.json["id"]})
    assert bought.status_code == 201, bought.json
    contract = bought.json
    assert (contract["booked_via"], contract["settlement"], contract["collateral_sats"]) == ("rfq", "novation",
                                                                                          2_500_000)
    again = client.post("/api/v1/protection", headers=m.keys["miner"], json={"answer_id": answer.json["id"]})
    assert again.status_code == 409  # the request is closed
    for who in ("miner", "seller"):
        listed = client.get("/api/v1/protection", headers=m.keys[who]).json
        assert [c["id"] for c in listed["items"]] == [contract["id"]]
    shown = client.get(f"/api/v1/protection/{contract['id']}", headers=m.keys["seller"]).json
    assert shown["events"][0]["kind"] == "booked" and shown["accrued_sats"] == 0  # protection starts tomorrow
    assert client.get(f"/api/v1/protection/{contract['id']}", headers=m.keys["trader"]).status_code == 404
    assert client.delete(f"/api/v1/protection/rfqs/{rfq_id}", headers=m.keys["miner"]).status_code == 409  # accepted


def test_a_buyer_withdraws_its_request_and_its_answers_can_no_longer_be_accepted(runtime):
    m = market(runtime)
    client = create_app(runtime).test_client()
    rfq_id = client.post("/api/v1/protection/rfqs", headers=m.keys["miner"], json={
        "reference_account_id": m.ids["trader"], "notional_sats": 5_000_000}).json["id"]
    answer = client.post(f"/api/v1/protection/rfqs/{rfq_id}/answers", headers=m.keys["seller"],
                         json={"premium_bps": "20"}).json
    assert client.delete(f"/api/v1/protection/rfqs/{rfq_id}", headers=m.keys["seller"]).status_code == 404
    withdrawn = client.delete(f"/api/v1/protection/rfqs/{rfq_id}", headers=m.keys["miner"])
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "cancelled"
    assert client.post("/api/v1/protection", headers=m.keys["miner"], json={"answer_id": answer["id"]}).status_code \
        == 409
    assert client.get("/api/v1/protection", headers=m.keys["miner"]).json["items"] == []


class Desk:
    """The RFQ calls of the tests below: the miner asks and accepts, the seller answers."""

    def __init__(self, runtime):
        self.m = market(runtime)
        self.client = create_app(runtime).test_client()

    def ask(self) -> str:
        return self.client.post("/api/v1/protection/rfqs", headers=self.m.keys["miner"], json={
            "reference_account_id": self.m.ids["trader"], "notional_sats": 5_000_000}).json["id"]

    def answer(self, rfq_id: str, **terms) -> dict:
        given = self.client.post(f"/api/v1/protection/rfqs/{rfq_id}/answers", headers=self.m.keys["seller"],
                                 json={"premium_bps": "20", **terms})
        assert given.status_code == 201, given.json
        return given.json

    def accept(self, answer_id: str):
        return self.client.post("/api/v1/protection", headers=self.m.keys["miner"], json={"answer_id": answer_id})

    def withdraw(self, rfq_id: str, answer_id: str, who: str = "seller"):
        return self.client.delete(f"/api/v1/protection/rfqs/{rfq_id}/answers/{answer_id}", headers=self.m.keys[who])

    def requests(self) -> list[dict]:
        return self.client.get("/api/v1/protection/rfqs", headers=self.m.keys["miner"]).json["items"]

    def bought(self) -> list[dict]:
        return self.client.get("/api/v1/protection", headers=self.m.keys["miner"]).json["items"]


def test_an_answer_is_firm_for_its_seconds_and_cannot_be_accepted_after(runtime):
    desk = Desk(runtime)
    late_rfq = desk.ask()
    short = desk.answer(late_rfq, valid_seconds=60)
    given_at = datetime.fromisoformat(short["created_at"])
    assert datetime.fromisoformat(short["valid_until"]) == given_at + timedelta(seconds=60)
    assert [a["valid_until"] for r in desk.requests() for a in r["answers"]] == [short["valid_until"]]
    runtime.clock.advance(timedelta(seconds=60))  # its last firm moment has passed
    late = desk.accept(short["id"])
    assert late.status_code == 409 and late.json["error"]["fields"]["answer_id"] == [
        f"expired at {datetime.fromisoformat(short['valid_until']).isoformat()}"], late.json
    assert desk.bought() == []  # nothing booked
    assert [r["status"] for r in desk.requests()] == ["open"]  # another answer may still be accepted

    fresh = desk.answer(late_rfq)  # the default validity
    assert datetime.fromisoformat(fresh["valid_until"]) - datetime.fromisoformat(fresh["created_at"]) == timedelta(
        seconds=DEFAULT_ANSWER_VALID_SECONDS)
    runtime.clock.advance(timedelta(seconds=DEFAULT_ANSWER_VALID_SECONDS - 1))  # its last firm second
    assert desk.accept(fresh["id"]).status_code == 201


def test_a_seller_withdraws_its_answer_while_firm_and_the_buyer_can_no_longer_accept_it(runtime):
    desk = Desk(runtime)
    rfq_id = desk.ask()
    given = desk.answer(rfq_id)
    for who in ("miner", "trader"):  # only its seller may withdraw it
        assert desk.withdraw(rfq_id, given["id"], who).status_code == 404
    assert desk.withdraw(desk.ask(), given["id"]).status_code == 404  # named under another request
    runtime.clock.advance(timedelta(seconds=30))
    withdrawn = desk.withdraw(rfq_id, given["id"])
    assert withdrawn.status_code == 200, withdrawn.json
    assert datetime.fromisoformat(withdrawn.json["withdrawn_at"]) == datetime.fromisoformat(
        given["created_at"]) + timedelta(seconds=30)
    refused = desk.accept(given["id"])
    assert refused.status_code == 409 and refused.json["error"]["fields"]["answer_id"] == [
        f"withdrawn at {datetime.fromisoformat(withdrawn.json['withdrawn_at']).isoformat()}"], refused.json
    again = desk.withdraw(rfq_id, given["id"])
    assert again.status_code == 409 and "withdrawn" in str(again.json["error"]["fields"]), again.json
    assert [a["withdrawn_at"] for r in desk.requests() if r["id"] == rfq_id for a in r["answers"]] == [
        withdrawn.json["withdrawn_at"]]

    short = desk.answer(rfq_id, valid_seconds=10)
    runtime.clock.advance(timedelta(seconds=10))
    assert desk.withdraw(rfq_id, short["id"]).status_code == 409  # expired: it binds nobody any more
    kept = desk.answer(rfq_id)
    assert desk.accept(kept["id"]).status_code == 201
    assert desk.withdraw(rfq_id, kept["id"]).status_code == 409  # booked: the request is closed
    assert [c["premium_bps"] for c in desk.bought()] == ["20"]


def test_an_answer_s_validity_must_be_whole_seconds_up_to_a_day(runtime):
    desk = Desk(runtime)
    rfq_id = desk.ask()
    for valid_seconds in (0, -5, MAX_ANSWER_VALID_SECONDS + 1, 1.5, "60", True, None):
        refused = desk.client.post(f"/api/v1/protection/rfqs/{rfq_id}/answers", headers=desk.m.keys["seller"],
                                   json={"premium_bps": "20", "valid_seconds": valid_seconds})
        assert refused.status_code == 400 and "valid_seconds" in refused.json["error"]["fields"], (
            valid_seconds, refused.json)
    assert desk.requests()[0]["answers"] == []
    assert desk.answer(rfq_id, valid_seconds=MAX_ANSWER_VALID_SECONDS)["valid_until"]


def test_answers_given_before_validity_existed_get_the_default_from_when_they_were_given(runtime):
    """Migration 0017 on an answer stored without ``valid_until``: it no longer binds its seller."""
    from alembic import command

    from hashedge.adapters.database import _alembic_config

    def migrate(step, revision: str) -> None:
        config = _alembic_config()
        with runtime.engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)

    desk = Desk(runtime)
    given = desk.answer(desk.ask(), valid_seconds=MAX_ANSWER_VALID_SECONDS)
    migrate(command.downgrade, "0016")
    migrate(command.upgrade, "head")
    assert [a["valid_until"] for r in desk.requests() for a in r["answers"]] == [
        (datetime.fromisoformat(given["created_at"]) + timedelta(seconds=DEFAULT_ANSWER_VALID_SECONDS)).isoformat()]


def test_bad_protection_requests_are_json_4xx_with_field_messages(runtime):
    m = market(runtime)
    client = create_app(runtime).test_client()
    cases = [
        ("/api/v1/protection/rfqs", {"reference_account_id": m.ids["trader"], "notional_sats": -1}, 400,
         "notional_sats"),
        ("/api/v1/protection/rfqs", {"reference_account_id": m.ids["miner"], "notional_sats": 10}, 400,
         "reference_account_id"),
        ("/api/v1/protection/rfqs", {"reference_account_id": 999, "notional_sats": 10}, 404, "account"),
        ("/api/v1/protection/rfqs/nope/answers", {"premium_bps": "20"}, 404, "rfq"),
        ("/api/v1/protection", {"answer_id": "nope"}, 404, "answer_id"),
        ("/api/v1/protection", {}, 400, "answer_id"),
    ]
    for url, body, status, field in cases:
        answer = client.post(url, headers=m.keys["miner"], json=body)
        assert answer.status_code == status and field in str(answer.json), (url, answer.json)
    assert client.get("/api/v1/protection/P-nope", headers=m.keys["miner"]).status_code == 404
    assert client.get("/api/v1/protection").status_code == 401


def test_a_position_protected_against_deleveraging_moves_to_the_back_of_its_queue(runtime):
    from datetime import date, timedelta

    from hashedge.services import accounts, block_trades, ledger, liquidation, protection
    from protection_setup import SYMBOL

    m = market(runtime)
    short, short_key = accounts.create_account(runtime.uow(), runtime.clock, "second-short")
    buyer, _ = accounts.create_account(runtime.uow(), runtime.clock, "second-long")
    for account in (short, buyer):
        ledger.deposit(runtime.uow(), runtime.clock, account.id, 20_000_000, f"seed-{account.id}")
    block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=buyer.id, seller_id=short.id,
                                  instrument=SYMBOL, quantity=5, price=50_000, trade_id="BLOCK-3")
    client = create_app(runtime).test_client()

    def quintile(key):
        liquidation.sweep(runtime.uow, runtime.clock)  # the minutely sweep ranks the queues
        return client.get("/api/v1/positions", headers=key).json["items"][0]["adl_quintile"]

    # both shorts at the mark: tied, the lower account id first
    assert (quintile(m.keys["miner"]), quintile({"Authorization": f"Bearer {short_key}"})) == (5, 3)
    protection.book_protection(runtime.uow(), runtime.clock, buyer_id=m.ids["miner"], seller_id=m.ids["seller"],
                               reference_id=m.ids["miner"], reference_instrument=SYMBOL, notional_sats=5_000_000,
                               premium_bps="20", maturity=date(2027, 3, 20), settlement="cash")
    assert quintile(m.keys["miner"]) == 5  # not in force before tomorrow
    runtime.clock.advance(timedelta(days=1))
    assert (quintile(m.keys["miner"]), quintile({"Authorization": f"Bearer {short_key}"})) == (3, 5)

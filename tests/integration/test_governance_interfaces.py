"""Governance's interfaces on SQLite and PostgreSQL: the registry and proposals over the API
(public reads, the key's account proposes and votes), JSON errors with field messages for every
refusal, the CLI (``hashedge governance parameters --json``, refusals as one ``error:`` line), and
the scheduler's ``governance`` job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hashedge.domain.parameters import RiskParameters
from hashedge.jobs.scheduler import JobContext, governance_job, slot_of
from hashedge.services import accounts
from hashedge.web import create_app

HASHEDGE = str(Path(sys.executable).with_name("hashedge"))


@pytest.fixture
def client(runtime):
    return create_app(runtime).test_client()


@pytest.fixture
def member(runtime):
    account, key = accounts.create_account(runtime.uow(), runtime.clock, "alice")
    return account.id, {"Authorization": f"Bearer {key}"}


def test_the_registry_is_public_with_every_parameter_its_bounds_unit_and_history(client):
    answer = client.get("/api/v1/governance/parameters")
    assert answer.status_code == 200
    body = answer.json
    names = [p["name"] for p in body["parameters"]]
    assert names == list(RiskParameters().as_registry())
    penalty = next(p for p in body["parameters"] if p["name"] == "liquidation.penalty_ratio")
    assert penalty == {"name": "liquidation.penalty_ratio", "value": "0.01", "default": "0.01", "low": "0",
                       "high": "0.05", "unit": "ratio", "description": penalty["description"]}
    committee = next(p for p in body["parameters"] if p["name"] == "governance.risk_committee")
    assert (committee["unit"], committee["low"], committee["high"]) == ("text", None, None)
    assert body["version"]["id"] == 1 and body["version"]["source"] == "defaults"
    assert [v["id"] for v in body["history"]] == [1]


def test_proposals_are_listed_publicly_and_a_missing_one_is_a_404(client):
    assert client.get("/api/v1/governance/proposals").json == {"items": [], "total": 0, "page": 1, "page_size": 100}
    missing = client.get("/api/v1/governance/proposals/7")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert client.get("/api/v1/governance/proposals?page=0").status_code == 400
    assert client.get("/api/v1/governance/proposals/1193418356310").status_code == 404  # beyond INTEGER


def test_proposing_and_voting_need_a_key_and_refusals_are_json_with_field_messages(client, member):
    _, key = member
    body = {"changes": {"liquidation.penalty_ratio": "0.02"}, "rationale": "penalties too low"}
    assert client.post("/api/v1/governance/proposals", json=body).status_code == 401
    no_shares = client.post("/api/v1/governance/proposals", json=body, headers=key)
    assert no_shares.status_code == 403 and "no shares" in no_shares.json["error"]["message"]
    out_of_bounds = client.post("/api/v1/governance/proposals", headers=key,
                                json={**body, "changes": {"liquidation.penalty_ratio": "0.5"}})
    assert out_of_bounds.status_code == 400
    assert "outside its bound" in out_of_bounds.json["error"]["fields"]["changes"][0]
    unknown = client.post("/api/v1/governance/proposals", headers=key, json={**body, "changes": {"nope": "1"}})
    assert unknown.status_code == 400 and unknown.json["error"]["fields"]["changes"] == [
        "nope: is not a governed parameter"]
    not_a_number = client.post("/api/v1/governance/proposals", headers=key,
                               json={**body, "changes": {"fees.maker_bps": "two"}})
    assert not_a_number.status_code == 400
    empty = client.post("/api/v1/governance/proposals", headers=key, json={"changes": {}, "rationale": "x"})
    assert empty.status_code == 400 and "changes" in empty.json["error"]["fields"]
    assert client.post("/api/v1/governance/proposals/1/votes", headers=key, json={"choice": "maybe"}).status_code == 400
    assert client.post("/api/v1/governance/proposals/1/votes", headers=key, json={"choice": "yes"}).status_code == 404
    assert client.post("/api/v1/governance/proposals/1/ragequit", headers=key).status_code == 404


def test_the_cli_prints_the_registry_and_refuses_in_one_line(runtime, database_url, member):
    env = {**os.environ, "HASHEDGE_DATABASE_URL": database_url}
    shown = subprocess.run([HASHEDGE, "governance", "parameters", "--json"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    registry = json.loads(shown.stdout)
    assert {p["name"]: p["value"] for p in registry["parameters"]}["governance.timelock_days"] == "2"
    refused = subprocess.run([HASHEDGE, "governance", "propose", "alice", "--set", "liquidation.penalty_ratio=0.9",
                              "--rationale", "why not"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1 and refused.stderr.startswith("error: ") and len(refused.stderr.splitlines()) == 1
    assert "outside its bound" in refused.stderr
    malformed = subprocess.run([HASHEDGE, "governance", "propose", "alice", "--set", "penalty", "--rationale", "r"],
                               env=env, capture_output=True, text=True, timeout=120)
    assert malformed.returncode == 1 and "expected NAME=VALUE" in malformed.stderr
    listed = subprocess.run([HASHEDGE, "governance", "list", "--json"], env=env, capture_output=True, text=True,
                            timeout=120)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_the_governance_job_runs_once_per_slot(runtime):
    slot = slot_of(runtime.clock.now(), 60)
    assert governance_job(JobContext(runtime, None), slot) == {"closed": []}
    assert governance_job(JobContext(runtime, None), slot) is None

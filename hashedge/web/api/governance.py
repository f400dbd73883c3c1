"""REST endpoints for governance: the parameter registry and proposals (public reads), proposing,
voting and ragequit (the API key's account). Each parses, calls one service, and renders."""

from __future__ import annotations

from flask import current_app, g
from marshmallow import RAISE

from hashedge.services import accounts, governance
from hashedge.web.api import examples as ex
from hashedge.web.api.accounts import _bearer_token, _secured
from hashedge.web.api.governance_schemas import (
    ProposalPageSchema,
    ProposalRequestSchema,
    ProposalSchema,
    ProposalsQuerySchema,
    RagequitSchema,
    RegistrySchema,
    VoteRequestSchema,
    proposal_view,
    registry_view,
)
from hashedge.web.api.parsing import Blueprint
from hashedge.web.api.schemas import ErrorSchema

public_blp = Blueprint("governance", __name__, description="Governed parameters and proposals (public)")
blp = Blueprint("governance_members", __name__, description="Propose, vote and ragequit with your pool shares")


def _runtime():
    return current_app.extensions["hashedge"]


@blp.before_request
def _authenticate() -> None:
    g.account_id = accounts.authenticate_api_key(_runtime().uow(), _bearer_token())


@public_blp.route("/governance/parameters", methods=["GET"])
@public_blp.response(200, RegistrySchema, example=ex.GOVERNANCE_REGISTRY)
def parameters():
    """Every governed parameter in force: value, default, hard bounds, unit, description.

    With the version in force (what records cite as ``parameters_version``) and the history of
    versions, newest first: who changed what, through which proposal or emergency action, and
    when it took effect."""
    return registry_view(governance.registry(_runtime().uow()))


@public_blp.route("/governance/proposals", methods=["GET"])
@public_blp.arguments(ProposalsQuerySchema, location="query", unknown=RAISE)
@public_blp.response(200, ProposalPageSchema, example=ex.PROPOSAL_PAGE)
@public_blp.alt_response(400, schema=ErrorSchema, description="Invalid parameters, with field messages")
def list_proposals(query: dict):
    """Proposals, newest first, with their status and tally (votes listed on the proposal itself).

    A page of the list convention. Status: voting, failed, timelock (passed, ragequit open),
    executable, executed or expired."""
    runtime = _runtime()
    found = governance.proposal_page(runtime.uow(), runtime.clock, **query)
    return {"items": [proposal_view(p) for p in found.items], "total": found.total, "page": found.page,
            "page_size": found.page_size}


@public_blp.route("/governance/proposals/<int:proposal_id>", methods=["GET"])
@public_blp.response(200, ProposalSchema, example=ex.PROPOSAL)
@public_blp.alt_response(404, schema=ErrorSchema, description="No such proposal")
def get_proposal(proposal_id: int):
    """One proposal: its changes, tally against quorum and support, timeline, votes and ragequits.

    ``yes_weight`` and ``no_weight`` are pool shares at the snapshot taken when it was created;
    ``executes_at`` is the end of its timelock, when the governance job applies a passed proposal."""
    runtime = _runtime()
    return proposal_view(governance.get_proposal(runtime.uow(), runtime.clock, proposal_id))


@blp.route("/governance/proposals", methods=["POST"])
@blp.arguments(ProposalRequestSchema, unknown=RAISE, example=ex.PROPOSAL_REQUEST)
@blp.response(201, ProposalSchema, example=ex.PROPOSAL)
@blp.alt_response(400, schema=ErrorSchema, description="A change outside its hard bound or step limit, with field messages")
@blp.alt_response(403, schema=ErrorSchema, description="Fewer pool shares than the proposal threshold")
@_secured
def propose(body: dict):
    """Propose changes to one or more governed parameters, with a rationale.

    Refused at once outside a hard bound or the per-proposal step of a margin ratio. The account
    must hold at least ``governance.proposal_threshold_ratio`` of all pool shares; every member's
    shares are snapshotted now and are the votes' weights."""
    runtime = _runtime()
    created = governance.propose(runtime.uow(), runtime.clock, governance.pool_shares(runtime), g.account_id,
                                 body["changes"], body["rationale"])
    return proposal_view(created), 201


@blp.route("/governance/proposals/<int:proposal_id>/votes", methods=["POST"])
@blp.arguments(VoteRequestSchema, unknown=RAISE, example=ex.VOTE_REQUEST)
@blp.response(201, ProposalSchema, example=ex.PROPOSAL)
@blp.alt_response(404, schema=ErrorSchema, description="No such proposal")
@blp.alt_response(409, schema=ErrorSchema, description="Voting over, already voted, or no shares at the snapshot")
@_secured
def vote(body: dict, proposal_id: int):
    """Vote yes or no with the account's pool shares at the proposal's snapshot.

    One vote per account, final. The answer is the proposal with its tally after the vote."""
    runtime = _runtime()
    return proposal_view(governance.cast_vote(runtime.uow(), runtime.clock, proposal_id, g.account_id,
                                              body["choice"])), 201


@blp.route("/governance/proposals/<int:proposal_id>/ragequit", methods=["POST"])
@blp.response(201, RagequitSchema, example=ex.RAGEQUIT)
@blp.alt_response(404, schema=ErrorSchema, description="No such proposal")
@blp.alt_response(409, schema=ErrorSchema, description="Not in its timelock, voted yes, or already left")
@_secured
def ragequit(proposal_id: int):
    """Leave the backstop pool at NAV now, without the withdrawal delay.

    Open during a passed proposal's timelock to members of its snapshot who voted no or did not
    vote, once; all the account's free shares are paid out at the pool's NAV."""
    runtime = _runtime()
    quit_ = governance.ragequit(runtime.uow, runtime.clock, governance.pool_shares(runtime), proposal_id,
                                g.account_id)
    return vars(quit_), 201

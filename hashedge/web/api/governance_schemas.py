"""Marshmallow schemas for governance: the parameter registry, proposals, votes and ragequits.
Parameter values travel as text (exact decimals, or the text of a text parameter)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hashedge.web.api.schemas import PageQuerySchema


class ParameterSchema(Schema):
    name = fields.String(required=True, metadata={"description": "registry name, e.g. liquidation.penalty_ratio"})
    value = fields.String(required=True, metadata={"description": "the value in force, as exact text"})
    default = fields.String(required=True, metadata={"description": "the documented default"})
    low = fields.String(required=True, allow_none=True, metadata={"description": "hard lower bound (null: text)"})
    high = fields.String(required=True, allow_none=True, metadata={"description": "hard upper bound (null: text)"})
    unit = fields.String(required=True, metadata={"description": "ratio, bps, sats, days, minutes or text"})
    description = fields.String(required=True)


class ChangeSchema(Schema):
    from_ = fields.String(required=True, data_key="from", metadata={"description": "value before"})
    to = fields.String(required=True, metadata={"description": "value after"})


class VersionSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "what records cite (parameters_version)"})
    effective_at = fields.DateTime(required=True, format="iso")
    source = fields.String(required=True, metadata={"description": "defaults, proposal or emergency"})
    actor = fields.String(required=True, metadata={"description": "the proposer's account or the committee member"})
    proposal_id = fields.Integer(required=True, allow_none=True)
    reason = fields.String(required=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(ChangeSchema), required=True)


class RegistrySchema(Schema):
    version = fields.Nested(VersionSchema, required=True, metadata={"description": "the version in force"})
    parameters = fields.List(fields.Nested(ParameterSchema), required=True)
    history = fields.List(fields.Nested(VersionSchema), required=True, metadata={"description": "newest first"})


class ProposalRequestSchema(Schema):
    changes = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                          validate=validate.Length(min=1, max=50),
                          metadata={"description": "registry name -> proposed value as text"})
    rationale = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class VoteRequestSchema(Schema):
    choice = fields.String(required=True, validate=validate.OneOf(["yes", "no"]))


class VoteSchema(Schema):
    account_id = fields.Integer(required=True)
    choice = fields.String(required=True)
    weight = fields.Integer(required=True, metadata={"description": "pool shares at the snapshot"})
    cast_at = fields.DateTime(required=True, format="iso")


class RagequitSchema(Schema):
    account_id = fields.Integer(required=True)
    shares = fields.Integer(required=True, allow_none=True, metadata={"description": "null until the pool paid"})
    amount_sats = fields.Integer(required=True, allow_none=True, metadata={"description": "paid at NAV, no delay"})
    at = fields.DateTime(required=True, format="iso")


class ProposalSchema(Schema):
    id = fields.Integer(required=True)
    proposer_account_id = fields.Integer(required=True)
    rationale = fields.String(required=True)
    changes = fields.Dict(keys=fields.String(), values=fields.Nested(ChangeSchema), required=True,
                          metadata={"description": "from: the value in force at creation; to: proposed"})
    status = fields.String(required=True, metadata={
        "description": "voting, failed, timelock (passed; ragequit open), executable, executed or expired"})
    yes_weight = fields.Integer(required=True)
    no_weight = fields.Integer(required=True)
    snapshot_shares = fields.Integer(required=True, metadata={"description": "every pool share at the snapshot"})
    snapshot_at = fields.DateTime(required=True, format="iso")
    quorum = fields.String(required=True, metadata={"description": "votes cast must be strictly above this share"})
    support = fields.String(required=True, metadata={"description": "yes must be strictly above this share of votes"})
    quorum_reached = fields.Boolean(required=True)
    support_reached = fields.Boolean(required=True)
    voting_ends_at = fields.DateTime(required=True, format="iso")
    executes_at = fields.DateTime(required=True, format="iso", metadata={"description": "end of the timelock"})
    expires_at = fields.DateTime(required=True, format="iso")
    executed_version = fields.Integer(required=True, allow_none=True)
    refused_reason = fields.String(required=True, allow_none=True)
    votes = fields.List(fields.Nested(VoteSchema), required=True)
    ragequits = fields.List(fields.Nested(RagequitSchema), required=True)


class ProposalPageSchema(Schema):
    items = fields.List(fields.Nested(ProposalSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class ProposalsQuerySchema(PageQuerySchema):
    pass


def _text(value) -> str | None:
    return None if value is None else (value if isinstance(value, str) else format(value, "f"))


def version_view(version) -> dict:
    return {"id": version.id, "effective_at": version.effective_at, "source": version.source, "actor": version.actor,
            "proposal_id": version.proposal_id, "reason": version.reason,
            "changes": {name: {"from_": old, "to": new} for name, (old, new) in version.changes.items()}}


def registry_view(found) -> dict:
    return {"version": version_view(found.version),
            "parameters": [{"name": p.name, "value": _text(p.value), "default": _text(p.default), "low": _text(p.low),
                            "high": _text(p.high), "unit": p.unit, "description": p.description}
                           for p in found.parameters],
            "history": [version_view(v) for v in found.history]}


def proposal_view(p) -> dict:
    return {"id": p.id, "proposer_account_id": p.proposer_account_id, "rationale": p.rationale,
            "changes": {name: {"from_": c["from"], "to": c["to"]} for name, c in p.changes.items()},
            "status": p.status, "yes_weight": p.yes_weight, "no_weight": p.no_weight,
            "snapshot_shares": p.snapshot_shares, "snapshot_at": p.snapshot_at, "quorum": p.quorum_ratio,
            "support": p.support_ratio, "quorum_reached": p.quorum_reached, "support_reached": p.support_reached,
            "voting_ends_at": p.voting_ends_at, "executes_at": p.executes_at, "expires_at": p.expires_at,
            "executed_version": p.executed_version_id, "refused_reason": p.refused_reason,
            "votes": [vars(v) for v in p.votes], "ragequits": [vars(q) for q in p.ragequits]}

"""The parameter registry on SQLite and PostgreSQL: version 1 is the defaults, services read the
version in force at the event's time, the single read point answers from the registry, and the
ORM describes the migrated tables."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hashedge.adapters.orm import Base
from hashedge.domain.governance.registry import DEFAULTS_VERSION_ID, apply_changes
from hashedge.domain.parameters import RiskParameters
from hashedge.services.margin import parameter_version, parameters_in_force, risk_parameters

TABLES = {"parameter_versions", "governance_proposals", "governance_weights", "governance_votes",
          "governance_ragequits", "liquidations"}


def test_the_orm_describes_the_migrated_governance_tables(runtime):
    with runtime.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to: type_ != "table" or name in TABLES})
        assert compare_metadata(context, Base.metadata) == []


def test_the_defaults_are_version_one_in_force_since_1970(runtime):
    version, params = parameter_version(runtime.uow())
    assert version.id == DEFAULTS_VERSION_ID and version.source == "defaults"
    assert version.effective_at.year == 1970 and params == RiskParameters()


def test_services_read_the_version_in_force_at_the_events_time(runtime):
    now = runtime.clock.now()
    later = now + timedelta(hours=1)
    with runtime.uow() as uow:
        current = risk_parameters(uow)
        after, changes, overrides = apply_changes(current, {}, {"liquidation.penalty_ratio": Decimal("0.02")})
        written = uow.parameters.add(effective_at=later, recorded_at=later, source="emergency", actor="alice",
                                     proposal_id=None, reason="test", changes=changes, overrides=overrides)
        uow.commit()
    with runtime.uow() as uow:
        assert risk_parameters(uow, now).liquidation_penalty_ratio == Decimal("0.01")  # 10:00 reads 10:00's
        assert risk_parameters(uow, later - timedelta(microseconds=1)).liquidation_penalty_ratio == Decimal("0.01")
        version, params = parameter_version(uow, later)
        assert version.id == written.id and params == after
        assert risk_parameters().liquidation_penalty_ratio == Decimal("0.02")  # the open unit of work's latest
    assert risk_parameters(runtime.uow()) == after  # an unopened unit of work reads in its own transaction
    assert risk_parameters() == RiskParameters()  # outside any unit of work: the documented defaults
    simulated = RiskParameters(liquidation_penalty_ratio=Decimal("0.03"))
    with parameters_in_force(simulated), runtime.uow() as uow:
        assert parameter_version(uow) == (None, simulated)  # a simulation's choice wins

"""The desk's navigation: one list of entries, grouped by section, each behind a permission.

The layout renders ``NAV`` (only the entries the user's role may see); a page of a new area adds
its ``NavEntry`` here. ``PLANNED`` names the areas whose pages land with their capabilities, so
their section order is already decided; ``ACCOUNT_PANELS`` lets an area add a panel to the account
page (e.g. an account's liquidations) without touching the accounts view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hashedge.domain.desk_access import Permission, allows


@dataclass(frozen=True)
class NavEntry:
    section: str
    label: str
    endpoint: str
    permission: Permission = Permission.VIEW
    matches: tuple[str, ...] = field(default=())  # other endpoints that highlight this entry


SECTIONS = ("Overview", "Counterparties", "Cash", "Trading", "Risk", "Protection", "Operations", "Governance",
            "Analytics", "Audit")

NAV: list[NavEntry] = [
    NavEntry("Overview", "Status", "desk.home"),
    NavEntry("Counterparties", "Accounts", "desk.accounts", matches=("desk.account",)),
    NavEntry("Cash", "Deposits & withdrawals", "desk.cash"),
    NavEntry("Cash", "Approvals", "desk.approvals"),
    NavEntry("Trading", "Instruments", "desk.instruments", matches=("desk.instrument",)),
    NavEntry("Trading", "Block trades", "desk.block_trades", matches=("desk.new_block_trade", "desk.book_block_trade")),
    NavEntry("Risk", "Margin monitor", "desk.risk"),
    NavEntry("Risk", "Liquidation queue", "desk.liquidation_queue"),
    NavEntry("Risk", "Liquidation records", "desk.liquidations", matches=("desk.liquidation",)),
    NavEntry("Risk", "Insurance fund", "desk.insurance_fund"),
    NavEntry("Risk", "ADL ranks", "desk.adl_ranks"),
    NavEntry("Risk", "Penalty distributions", "desk.penalties"),
    NavEntry("Risk", "Backstop pool & offers", "desk.backstop"),
    NavEntry("Protection", "Quote", "desk.protection_quote"),
    NavEntry("Protection", "Book", "desk.new_protection", Permission.BLOCK_TRADE, matches=("desk.book_protection",)),
    NavEntry("Protection", "Contracts", "desk.protection_contracts", matches=("desk.protection_contract",)),
    NavEntry("Protection", "Credit events", "desk.protection_events"),
    NavEntry("Operations", "Settlement", "desk.settlement"),
    NavEntry("Operations", "Jobs", "desk.jobs"),
    NavEntry("Operations", "Fixings", "desk.fixings"),
    NavEntry("Governance", "Parameters & history", "desk.governance_parameters"),
    NavEntry("Governance", "Proposals & votes", "desk.governance_proposals", matches=("desk.governance_proposal",)),
    NavEntry("Analytics", "Indices", "desk.indices"),
    NavEntry("Analytics", "Contracts & hedging", "desk.analytics"),
    NavEntry("Audit", "Audit log", "desk.audit"),
]

# Areas whose pages come with their capabilities (issue #14: built when each lands).
PLANNED: dict[str, list[str]] = {}


@dataclass(frozen=True)
class AccountPanel:
    """A section of the account page: ``load(uow_factory, account_id)`` returns what ``template`` shows."""

    title: str
    template: str
    load: Callable


ACCOUNT_PANELS: list[AccountPanel] = []


def sections_for(role: str) -> list[tuple[str, list[NavEntry]]]:
    visible = [entry for entry in NAV if allows(role, entry.permission)]
    return [(section, [e for e in visible if e.section == section]) for section in SECTIONS
            if any(e.section == section for e in visible)]

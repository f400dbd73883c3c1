"""The parameter registry: what each governed parameter is, and the versions of their values.

Every registry name of ``RiskParameters.as_registry`` is governed; nothing here lists them, so a
parameter added to ``RiskParameters`` (with its bound in ``parameters.BOUNDS``) is governed with
no further code. Its unit comes from its name (``_bps``, ``_sats``, ``_days``, ``_ratio``, ...),
its description from ``DESCRIPTIONS`` when one is written there.

A version is the whole set in force from its ``effective_at`` on: the documented defaults with
the ``overrides`` governance has made (cumulative, so a default changed in code applies to every
parameter governance never touched). Version 1 is the defaults. Versions are never updated:
a change is a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from hashedge.domain.errors import InvalidValue
from hashedge.domain.parameters import TEXT_PARAMETERS, ParameterOutOfBounds, RiskParameters, bound_of

DEFAULTS_VERSION_ID = 1


class Source:
    DEFAULTS = "defaults"  # version 1: the documented defaults
    PROPOSAL = "proposal"  # a passed proposal executed at the end of its timelock
    EMERGENCY = "emergency"  # the risk committee tightened margins


DESCRIPTIONS = {
    "margin.initial": "initial margin as a fraction of notional (margin call below it)",
    "margin.maintenance": "maintenance margin as a fraction of notional (liquidation below it)",
    "fees.maker_bps": "fee charged to the maker of a book fill, basis points of notional",
    "fees.taker_bps": "fee charged to the taker of a book fill (and both sides of a block trade)",
    "otc.band_ratio": "an OTC block trade's price must lie within this fraction of the mark",
    "orders.market_band_ratio": "a market order fills at most this fraction away from the mark",
    "orders.price_band_ratio": "a limit price must lie within this fraction of the mark",
    "mark.anchoring": "how the mark uses the order book (median, model_clipped_to_book, book_mid, model_only)",
    "mark.min_book_notional_sats": "depth a side the book needs before it moves the mark",
    "mark.book_band_ratio": "only orders within this fraction of the model count as depth",
    "mark.band_ratio": "the mark never strays further than this fraction from the model",
    "mark.max_change_ratio": "the most the mark moves per re-mark, as a fraction of the model",
    "mark.trade_window_minutes": "recent trades averaged by the median mark rule",
    "liquidation.penalty_ratio": "liquidation penalty, a fraction of the notional closed",
    "liquidation.step_fraction": "each liquidation step closes at most this fraction of a position",
    "liquidation.buffer_ratio": "liquidation stops once equity covers maintenance plus this fraction of notional",
    "liquidation.book_band_ratio": "liquidation orders take the book only within this fraction of the mark",
    "penalty.split.takers": "share of a date's penalties paid to the takers of liquidation fills",
    "penalty.split.otc_counterparties": "share paid to defaulted accounts' OTC counterparties",
    "penalty.split.insurance_fund": "share of a date's penalties paid to the insurance fund",
    "penalty.split.community_fund": "share of a date's penalties paid to the community fund",
    "fees.split.makers": "share of a date's fees paid to makers, pro rata to that date's maker volume",
    "fees.split.insurance_fund": "share of a date's fees paid to the insurance fund",
    "fees.split.community_fund": "share of a date's fees paid to the community fund",
    "fees.split.backstop_pool": "share of a date's fees paid to the backstop pool",
    "governance.support_ratio": "a proposal passes with yes strictly above this share of the votes cast",
    "governance.quorum_ratio": "votes cast must be strictly above this share of the snapshot's shares",
    "governance.proposal_threshold_ratio": "share of all pool shares a proposer must hold",
    "governance.voting_period_days": "how long a proposal is open for votes",
    "governance.timelock_days": "delay between a passed vote and its effect (ragequit window)",
    "governance.execution_grace_days": "a passed proposal not executed within this after its timelock expires",
    "governance.margin_step_ratio": "a proposal moves a margin ratio by at most this fraction of its value",
    "governance.risk_committee": "desk users who may tighten margins at once (comma-separated)",
}

UNIT_SUFFIXES = (("_bps", "bps"), ("_sats", "sats"), ("_days", "days"), ("_minutes", "minutes"),
                 ("_ratio", "ratio"), ("_fraction", "ratio"))


def family(name: str) -> str:
    """``margin.initial.DIFF_EPOCH`` -> ``margin.initial``; other names are their own family."""
    return name.rsplit(".", 1)[0] if name.startswith(("margin.initial.", "margin.maintenance.")) else name


def unit_of(name: str) -> str:
    """The unit a parameter's value is in, read from its name (fractions of one are ``ratio``)."""
    if name in TEXT_PARAMETERS:
        return "text"
    leaf = family(name).replace(".", "_")
    for suffix, unit in UNIT_SUFFIXES:
        if leaf.endswith(suffix):
            return unit
    return "ratio"  # margin ratios and split shares: fractions of one


def description_of(name: str) -> str:
    return DESCRIPTIONS.get(family(name)) or name.replace(".", " ").replace("_", " ")


@dataclass(frozen=True)
class ParameterInfo:
    """One governed parameter as the registry shows it."""

    name: str
    value: Decimal | str
    default: Decimal | str
    low: Decimal | None
    high: Decimal | None
    unit: str
    description: str


def describe(params: RiskParameters) -> list[ParameterInfo]:
    """Every governed parameter of ``params``, in registry order."""
    defaults = RiskParameters().as_registry()
    infos = []
    for name, value in params.as_registry().items():
        bound = None if name in TEXT_PARAMETERS else bound_of(name)
        infos.append(ParameterInfo(name, value, defaults.get(name, value), bound.low if bound else None,
                                   bound.high if bound else None, unit_of(name), description_of(name)))
    return infos


def parse_value(name: str, text: object) -> Decimal | str:
    """A registry value from its text (a number, or the text itself for text parameters)."""
    known = RiskParameters().as_registry()
    if name not in known:
        raise InvalidValue("name", name, "is not a governed parameter")
    if name in TEXT_PARAMETERS:
        return str(text)
    if isinstance(text, Decimal):
        return text
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidValue(name, text, "must be a number") from None
    if not value.is_finite():
        raise InvalidValue(name, text, "must be a finite number")
    return value


def value_text(value: Decimal | str) -> str:
    return value if isinstance(value, str) else format(value, "f")


@dataclass(frozen=True)
class ParameterVersion:
    """The parameters in force from ``effective_at`` until the next version."""

    id: int
    effective_at: datetime
    source: str  # Source.*
    actor: str  # who: the proposer's account, the committee member, "defaults"
    proposal_id: int | None
    reason: str
    changes: Mapping[str, tuple[str, str]]  # name -> (old value, new value), as text
    overrides: Mapping[str, str]  # every value governance has set, as text

    def parameters(self) -> RiskParameters:
        """The parameters of this version: defaults with the overrides still governed today."""
        known = RiskParameters().as_registry()
        return RiskParameters.from_registry({name: parse_value(name, text) for name, text in self.overrides.items()
                                             if name in known})


def apply_changes(current: RiskParameters, overrides: Mapping[str, str],
                  changes: Mapping[str, Decimal | str]) -> tuple[RiskParameters, dict[str, tuple[str, str]],
                                                                 dict[str, str]]:
    """The parameters after ``changes`` (every bound and rule between parameters checked), what
    changed as (old, new) text, and the new cumulative overrides."""
    if not changes:
        raise InvalidValue("changes", {}, "name at least one parameter to change")
    before = current.as_registry()
    after = current.with_changes(changes)  # ParameterOutOfBounds / InvalidValue
    after_values = after.as_registry()
    diff = {name: (value_text(before[name]), value_text(after_values[name])) for name in changes
            if before[name] != after_values[name]}
    if not diff:
        raise InvalidValue("changes", ", ".join(sorted(changes)), "changes nothing: every value is already in force")
    new_overrides = dict(overrides) | {name: new for name, (_old, new) in diff.items()}
    return after, diff, new_overrides


def check_step_limits(current: RiskParameters, changes: Mapping[str, Decimal | str]) -> None:
    """A margin ratio moves by at most ``governance.margin_step_ratio`` of its value per proposal."""
    step = current.governance_margin_step_ratio
    values = current.as_registry()
    for name, new in changes.items():
        if family(name) not in ("margin.initial", "margin.maintenance"):
            continue
        old = values[name]
        low, high = old * (1 - step), old * (1 + step)
        if not isinstance(new, Decimal) or not low <= new <= high:
            raise ParameterOutOfBounds(name, new, low, high,
                                       f"a proposal moves a margin ratio by at most {step} of its value "
                                       f"(governance.margin_step_ratio) from {old}")


def tightens_margins_only(current: RiskParameters, changes: Mapping[str, Decimal | str]) -> list[str]:
    """Why ``changes`` is not an emergency tightening (empty when it is): only margin ratios, each
    raised (a higher ratio asks for more margin)."""
    values = current.as_registry()
    reasons = []
    for name, new in changes.items():
        if family(name) not in ("margin.initial", "margin.maintenance"):
            reasons.append(f"{name}: only margin ratios can change without a vote")
        elif name in values and not (isinstance(new, Decimal) and new > values[name]):
            reasons.append(f"{name}: {new} does not tighten {values[name]}; loosening needs a vote")
    return reasons

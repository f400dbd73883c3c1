"""The margin engine applied to stored state: an account's collateral, positions and resting
orders at the latest marks. The rules are ``hashedge.domain.margin``'s; this module only loads.

Every function runs inside the caller's open unit of work (it reads what the caller has locked).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal

from hashedge.adapters.repositories.governance import ParameterRepository
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.unit_of_work import UnitOfWork, active_unit_of_work
from hashedge.domain.governance.registry import ParameterVersion
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import AccountMargin, AccountState, MarginMemo, account_margin, withdrawable_sats
from hashedge.domain.order_levels import order_total, summing_bounds
from hashedge.domain.parameters import RiskParameters
from hashedge.errors import DataUnavailable


_IN_FORCE: ContextVar[RiskParameters | None] = ContextVar("risk_parameters_in_force", default=None)


class SharedMarginMemo:
    """A process's margin memo (``domain.margin.MarginMemo``), shared by its threads and kept
    across calls: an account's positions and orders in an instrument at the same mark give the
    same terms as the last time. ``using`` swaps in a new memo when the parameters change or it is
    full; a caller keeps the memo it was given, so one that started under other parameters never
    sees another's terms. The matching engine keeps one across its batches
    (``services.exchange``); the account reads keep another (``margin_of``)."""

    def __init__(self, *, max_entries: int = 200_000) -> None:
        self._memo = MarginMemo(max_entries=max_entries)
        self._lock = threading.Lock()

    def using(self, params: RiskParameters) -> MarginMemo:
        with self._lock:
            self._memo = self._memo.using(params)
            return self._memo


# The account reads' terms (``margin_of``): an account read again with nothing of it changed, or
# changed in one instrument only, works out only what changed. Smaller than the engine's: every
# web worker holds one, and an entry keeps a position, a contract and a tuple of orders alive.
_READ_MEMO = SharedMarginMemo(max_entries=20_000)


def risk_parameters(uow: UnitOfWork | None = None, at: datetime | None = None) -> RiskParameters:
    """The governed parameters in force: the registry's version in force at ``at`` (the latest
    when None) read through ``uow`` (else the unit of work whose block this thread is in), or what a
    simulation set with ``parameters_in_force``; the documented defaults outside any unit of work.
    Every service reads them through this function (or ``parameter_version``)."""
    return parameter_version(uow, at)[1]


def parameter_version(uow: UnitOfWork | None = None,
                      at: datetime | None = None) -> tuple[ParameterVersion | None, RiskParameters]:
    """``risk_parameters`` with the version they come from (None for a simulation's or the defaults
    outside a unit of work), for records that say which version they used."""
    override = _IN_FORCE.get()
    if override is not None:
        return None, override
    uow = uow if uow is not None else active_unit_of_work()
    if uow is None:
        return None, RiskParameters()
    version = uow.parameters_in_force(at)
    return version, ParameterRepository.parameters_of(version)


ParametersWindow = tuple[RiskParameters, datetime, datetime | None]


def risk_parameters_window(uow: UnitOfWork, at: datetime, known: ParametersWindow | None = None
                           ) -> ParametersWindow:
    """``risk_parameters(uow, at)`` with the times between which they stay in force while no
    version is written: from their version's ``effective_at`` until the next version's (None:
    none written after ``at``). ``known``, such a window read earlier with nothing written since
    (the exchange's engine keeps it between batches), is the answer without a read when ``at``
    falls in it. A simulation's parameters come first and hold at ``at`` only (an empty window)."""
    override = _IN_FORCE.get()
    if override is not None:
        return override, at, at
    if known is not None and known[1] <= at and (known[2] is None or at < known[2]):
        return known
    version, next_effective_at = uow.parameters.in_force_until(at)
    return ParameterRepository.parameters_of(version), version.effective_at, next_effective_at


def simulating() -> bool:
    """Whether a simulation's parameters are in force in this context (``parameters_in_force``):
    what is read then is not the database's answer and is not kept."""
    return _IN_FORCE.get() is not None


@contextmanager
def parameters_in_force(params: RiskParameters) -> Iterator[RiskParameters]:
    """Run the services inside the block with ``params`` in force (the stress simulation compares
    parameter choices this way); the context is this thread's, so nothing else sees them."""
    token = _IN_FORCE.set(params)
    try:
        yield params
    finally:
        _IN_FORCE.reset(token)


def account_state(uow: UnitOfWork, account_id: int, *, with_orders: bool = True) -> AccountState:
    """Collateral, positions and resting orders; ``with_orders=False`` leaves the orders out (for
    what they do not change: equity and maintenance margin)."""
    account = collateral_of(account_id)
    collateral_sats = uow.ledger.balances([account]).get(account, 0)
    return AccountState(account_id=str(account_id), collateral_sats=collateral_sats,
                        positions=tuple(uow.positions.of_account(account_id)),
                        open_orders=tuple(uow.orders.resting_of(account_id)) if with_orders else ())


def order_check_state(uow: UnitOfWork, account_id: int, symbol: str | None, params: RiskParameters,
                      collateral_sats: int | None = None, *, except_order: str | None = None
                      ) -> tuple[AccountState, dict[str, Decimal], dict[str, ContractSpec]]:
    """What the pre-trade check of an order in ``symbol`` (or margin, without one) needs, in a fixed number of statements
    whatever the number of the account's resting orders: collateral, positions, the resting
    orders summed by the database per instrument and side (``domain.order_levels``: the check
    decides exactly as over every order; orders priced through the mark come one by one), and
    the marks and specs of every instrument involved. ``except_order`` leaves out the order
    being amended; ``collateral_sats`` the balance the caller read under the account's lock."""
    if collateral_sats is None:
        account = collateral_of(account_id)
        collateral_sats = uow.ledger.balances([account]).get(account, 0)
    positions = tuple(uow.positions.of_account(account_id))
    ordered = uow.orders.resting_instruments_of(account_id)
    symbols = {p.instrument_id for p in positions} | ordered | ({symbol} if symbol else set())
    marks = latest_marks(uow, symbols)
    specs = uow.instruments.specs(symbols)
    bounds = {}
    for instrument in sorted(ordered & set(specs)):
        found = summing_bounds(specs[instrument], marks[instrument], params.taker_fee_bps)
        if found is not None:
            bounds[instrument] = found
    totals, each = uow.orders.resting_totals_of(account_id, bounds, except_order=except_order)
    orders = (*(order_total(str(account_id), *row) for row in totals), *each)
    return (AccountState(account_id=str(account_id), collateral_sats=collateral_sats, positions=positions,
                         open_orders=orders), marks, specs)


def account_states(uow: UnitOfWork, account_ids) -> dict[str, AccountState]:
    """Several accounts' states in three queries (collateral, positions, resting orders)."""
    ids = [int(a) for a in account_ids]
    if not ids:
        return {}
    balances = uow.ledger.balances([collateral_of(a) for a in ids])
    positions = uow.positions.of_accounts(ids)
    orders = uow.orders.resting_of_accounts(ids)
    return {str(a): AccountState(account_id=str(a), collateral_sats=balances.get(collateral_of(a), 0),
                                 positions=tuple(positions.get(str(a), ())), open_orders=tuple(orders.get(str(a), ())))
            for a in ids}


def latest_marks(uow: UnitOfWork, symbols) -> dict[str, Decimal]:
    """The latest mark of each of ``symbols``; ``DataUnavailable`` if one has none yet."""
    symbols = set(symbols)
    return require_marks({symbol: record.price for symbol, record in uow.marks.latest(symbols).items()}, symbols)


def require_marks(marks: dict[str, Decimal], symbols) -> dict[str, Decimal]:
    """``marks`` (read before) restricted to ``symbols``; ``DataUnavailable`` if one has none."""
    marks = {symbol: marks[symbol] for symbol in symbols if symbol in marks}
    missing = sorted(set(symbols) - set(marks))
    if missing:
        raise DataUnavailable(f"no mark yet for {', '.join(missing)}: run `hashedge instruments refresh`",
                              fields={"instrument": [f"{symbol} has no mark" for symbol in missing]})
    return marks


def marks_and_specs(uow: UnitOfWork, state: AccountState,
                    extra: tuple[str, ...] = ()) -> tuple[dict[str, Decimal], dict[str, ContractSpec]]:
    """Latest marks and specs of every instrument the account touches (plus ``extra``)."""
    symbols = ({p.instrument_id for p in state.positions} | {o.instrument_id for o in state.open_orders}
               | set(extra))
    marks = latest_marks(uow, symbols)
    return marks, uow.instruments.specs(symbols)


def margin_of(uow: UnitOfWork, account_id: int, collateral_sats: int | None = None) -> AccountMargin:
    """The account's margin; its resting orders summed by the database (``order_check_state``);
    ``collateral_sats``, its balance when the caller has read it in this unit of work."""
    params = risk_parameters(uow)
    state, marks, specs = order_check_state(uow, account_id, None, params, collateral_sats)
    return read_account_margin(state, marks, params, specs)


def read_account_margin(state: AccountState, marks: dict[str, Decimal], params: RiskParameters,
                        specs: dict[str, ContractSpec]) -> AccountMargin:
    """``domain.margin.account_margin`` through the account reads' memo (``_READ_MEMO``)."""
    return account_margin(state, marks, params, specs=specs, memo=_READ_MEMO.using(params))


def withdrawal_requirement_sats(account_id: int, uow: UnitOfWork) -> int:
    """What must stay in collateral: everything above ``domain.margin.withdrawable_sats``
    (initial margin, order margin and unrealized losses; unrealized gains do not count)."""
    params = risk_parameters(uow)
    state, marks, specs = order_check_state(uow, account_id, None, params)
    if not state.positions and not state.open_orders:
        return 0
    return state.collateral_sats - withdrawable_sats(state, marks, params, specs=specs)


def margin_figures(account_id: int, uow: UnitOfWork, collateral_sats: int | None = None):
    """``services.accounts.MarginFigures`` from the real margin engine (``collateral_sats``: as
    ``margin_of``)."""
    from hashedge.services.accounts import MarginFigures

    summary = margin_of(uow, account_id, collateral_sats)
    return MarginFigures(initial_margin_sats=summary.initial_margin_sats + summary.order_margin_sats,
                         maintenance_margin_sats=summary.maintenance_margin_sats,
                         unrealized_pnl_sats=summary.unrealized_pnl_sats, status=summary.status.value)

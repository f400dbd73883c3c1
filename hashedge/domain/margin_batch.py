"""Margin for every account at once (the risk sweep), vectorized, equal to ``margin`` to the sat.

The one module of the domain that uses numpy and pandas (DESIGN section 2: "pandas where
vectorized"); nothing else in the domain imports it.

Input: a positions frame with one row per (account, instrument) position and the columns
``account_id``, ``instrument_id``, ``quantity`` (signed int) and ``open_value`` (the
``Position.open_value`` Decimal), the collateral of every account, marks, specs and parameters.
Output: one row per account (indexed by ``account_id``, sorted) with ``collateral_sats``,
``unrealized_pnl_sats``, ``equity_sats``, ``initial_margin_sats``, ``maintenance_margin_sats``,
``free_collateral_sats`` and ``status``: the same figures as ``margin.account_margin`` for the
account's positions. Open orders are not part of the sweep (status ignores them); the order
margin is the scalar check's business.

Exactness: every figure is the scalar one, computed with the same exact rationals. Per
instrument the mark, the multiplier and the per-contract requirement are exact fractions
``n / d`` (a handful of instruments, computed with ``margin``'s own functions); per position
the arithmetic is done on numpy arrays of Python ints (``object`` dtype: no overflow, no
float), with floor and ceiling divisions exactly where ``Position.unrealized_pnl_sats`` and
``margin`` round. Sums per account are int64 when they fit, Python ints otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd

from hashedge.domain.errors import InvalidValue
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import (
    AccountState,
    MarginStatus,
    MissingMark,
    effective_mark,
    ratios_for,
    requirement_per_contract,
)
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.units import require_sats

POSITION_COLUMNS = ("account_id", "instrument_id", "quantity", "open_value")
RESULT_COLUMNS = ("collateral_sats", "unrealized_pnl_sats", "equity_sats", "initial_margin_sats",
                  "maintenance_margin_sats", "free_collateral_sats", "status")
_INT64_SAFE = 2**62


def positions_frame(accounts: Iterable[AccountState]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The batch inputs built from account states (for tests, benchmarks and small callers)."""
    rows, collateral = [], {}
    for account in accounts:
        collateral[account.account_id] = account.collateral_sats
        rows += [(account.account_id, p.instrument_id, p.quantity, p.open_value) for p in account.positions]
    return pd.DataFrame(rows, columns=list(POSITION_COLUMNS)), collateral


def _instrument_table(instruments: pd.Index, marks: Mapping[str, Decimal], specs: Mapping[str, ContractSpec],
                      params: RiskParameters) -> dict[str, np.ndarray]:
    """Per instrument, exact numerators and denominators of what positions multiply by."""
    names = ("mark", "mult", "im_long", "im_short", "mm_long", "mm_short")
    columns: dict[str, list[int]] = {name + part: [] for name in names for part in ("_n", "_d")}

    def put(name: str, value: Fraction) -> None:
        columns[name + "_n"].append(value.numerator)
        columns[name + "_d"].append(value.denominator)

    for instrument_id in instruments:
        if instrument_id not in specs:
            raise MissingMark(instrument_id, "contract spec")
        if instrument_id not in marks:
            raise MissingMark(instrument_id)
        spec, mark = specs[instrument_id], marks[instrument_id]
        price = effective_mark(spec, mark)
        initial, maintenance = ratios_for(spec, params)
        put("mark", Fraction(price))
        put("mult", Fraction(spec.multiplier))
        for name, ratio in (("im", initial), ("mm", maintenance)):
            put(name + "_long", requirement_per_contract(spec, price, ratio, long=True))
            put(name + "_short", requirement_per_contract(spec, price, ratio, long=False))
    return {name: np.array(values, dtype=object) for name, values in columns.items()}


def _requirement(quantity: np.ndarray, long: np.ndarray, table: dict[str, np.ndarray], codes: np.ndarray,
                 name: str) -> np.ndarray:
    """ceil(|q| x per-contract requirement of the position's side), exactly."""
    numerator = np.where(long, table[name + "_long_n"][codes], table[name + "_short_n"][codes])
    denominator = np.where(long, table[name + "_long_d"][codes], table[name + "_short_d"][codes])
    return -((-(np.abs(quantity) * numerator)) // denominator)


def _sum_by(codes: np.ndarray, values: np.ndarray, groups: int) -> np.ndarray:
    """Exact sums of ``values`` per group code."""
    if len(values) == 0:
        return np.zeros(groups, dtype=np.int64)
    largest = max(abs(int(values.max())), abs(int(values.min())))
    if largest * max(len(values), 1) < _INT64_SAFE:
        totals = np.zeros(groups, dtype=np.int64)
        np.add.at(totals, codes, values.astype(np.int64))
        return totals
    totals = np.zeros(groups, dtype=object)
    totals[:] = 0
    np.add.at(totals, codes, values)
    return totals


def margin_batch(positions: pd.DataFrame, collateral_sats: Mapping[str, int] | pd.Series,
                 marks: Mapping[str, Decimal], params: RiskParameters, *,
                 specs: Mapping[str, ContractSpec]) -> pd.DataFrame:
    """Equity, margin and status of every account in ``collateral_sats`` (module docstring)."""
    missing_columns = [c for c in POSITION_COLUMNS if c not in positions.columns]
    if missing_columns:
        raise InvalidValue("positions", missing_columns, "lacks these columns")
    collateral = pd.Series(collateral_sats, dtype=object)
    unknown = set(positions["account_id"].unique()) - set(collateral.index)
    if unknown:
        raise InvalidValue("collateral_sats", sorted(unknown)[:5], "has no collateral for these accounts")
    accounts = pd.Index(sorted(collateral.index), name="account_id")
    account_codes = accounts.get_indexer(positions["account_id"])
    instrument_codes, instruments = pd.factorize(positions["instrument_id"], sort=True)
    table = _instrument_table(pd.Index(instruments), marks, specs, params)

    quantity = np.array([_contracts(q) for q in positions["quantity"].tolist()], dtype=object)
    ratios = [_exact_ratio(v) for v in positions["open_value"].tolist()]
    open_n = np.array([n for n, _ in ratios], dtype=object)
    open_d = np.array([d for _, d in ratios], dtype=object)
    mark_n, mark_d = table["mark_n"][instrument_codes], table["mark_d"][instrument_codes]
    mult_n, mult_d = table["mult_n"][instrument_codes], table["mult_d"][instrument_codes]
    # Position.unrealized_pnl_sats: floor((mark x q - open_value) x multiplier)
    pnl = ((mark_n * quantity * open_d - open_n * mark_d) * mult_n) // (mark_d * open_d * mult_d)
    long = quantity > 0
    initial = _requirement(quantity, long, table, instrument_codes, "im")
    maintenance = _requirement(quantity, long, table, instrument_codes, "mm")

    groups = len(accounts)
    result = pd.DataFrame(index=accounts)
    result["collateral_sats"] = _as_ints(collateral.reindex(accounts).to_numpy())
    result["unrealized_pnl_sats"] = _sum_by(account_codes, pnl, groups)
    result["equity_sats"] = result["collateral_sats"] + result["unrealized_pnl_sats"]
    result["initial_margin_sats"] = _sum_by(account_codes, initial, groups)
    result["maintenance_margin_sats"] = _sum_by(account_codes, maintenance, groups)
    result["free_collateral_sats"] = result["equity_sats"] - result["initial_margin_sats"]
    equity = result["equity_sats"].to_numpy()
    status = np.where(equity < result["maintenance_margin_sats"].to_numpy(), MarginStatus.LIQUIDATABLE.value,
                      np.where(equity < result["initial_margin_sats"].to_numpy(), MarginStatus.MARGIN_CALL.value,
                               MarginStatus.HEALTHY.value))
    result["status"] = status
    return result


def _contracts(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, (int, np.integer)):
        raise InvalidValue("quantity", quantity, "must be an int number of contracts")
    return int(quantity)


def _exact_ratio(open_value: object) -> tuple[int, int]:
    if not isinstance(open_value, (Decimal, int)) or isinstance(open_value, bool):
        raise InvalidValue("open_value", open_value, "must be a Decimal (as Position.open_value)")
    return Decimal(open_value).as_integer_ratio()


def _as_ints(values: np.ndarray) -> np.ndarray:
    ints = [int(v) if isinstance(v, np.integer) else require_sats(v, "collateral_sats") for v in values]
    if ints and max(abs(v) for v in ints) >= _INT64_SAFE:
        return np.array(ints, dtype=object)
    return np.array(ints, dtype=np.int64)

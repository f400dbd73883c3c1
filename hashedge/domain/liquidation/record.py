"""A liquidation's inputs and outcome: plain frozen values, and their JSON form.

The inputs are everything the engine reads (the account and its resting orders, the marks and
contract specs, the parameters in force, the book the liquidation order can reach, the opposite
positions that can be deleveraged, what each shortfall stage can pay): the service loads them
under the liquidation's locks and stores them with the outcome, so ``engine.liquidate`` on the
stored inputs must give the stored outcome again (``hashedge liquidations replay ID``).

JSON: decimals as fixed-point text, times as ISO 8601, parameters as their registry pairs,
contract specs as the fields ``instruments.spec_for`` rebuilds them from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from hashedge.domain.account_events import Standing
from hashedge.domain.backstop.offers import BackstopOffer, OfferFill, SkippedOffer
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec, spec_for
from hashedge.domain.margin import AccountState
from hashedge.domain.orders import Order, Side
from hashedge.domain.parameters import TEXT_PARAMETERS, RiskParameters
from hashedge.domain.positions import Position
from hashedge.domain.protection.contract import ProtectionContract, contract_from_json, contract_json


@dataclass(frozen=True, kw_only=True)
class LiquidationInputs:
    liquidation_id: str
    occurred_at: datetime
    account: AccountState  # collateral, positions and resting orders of the account liquidated
    marks: Mapping[str, Decimal]  # every instrument of the account and of the counterparties
    specs: Mapping[str, ContractSpec]
    params: RiskParameters
    books: Mapping[str, tuple[Order, ...]]  # other accounts' resting orders the liquidation order can reach
    last_sequences: Mapping[str, int]  # each instrument's last order sequence
    counterparties: Mapping[str, AccountState]  # accounts whose opposite positions may be deleveraged
    complete_queues: frozenset[str] = frozenset()  # instruments whose every opposite position is above
    closed_instruments: frozenset[str] = frozenset()  # trading closed: left to final settlement
    available_sats: Mapping[str, int] = field(default_factory=dict)  # per shortfall stage: what it can pay
    otc_exposure_sats: Mapping[str, int] = field(default_factory=dict)  # OTC counterparties' open exposure
    backstop_offers: Mapping[str, tuple[BackstopOffer, ...]] = field(default_factory=dict)  # per instrument
    pool_account_id: str | None = None  # the backstop pool's account (its state is in counterparties)
    # default protection (protection/PROTECTION.md): the contracts in force on the account and on the
    # positions that may be deleveraged, and what each cash contract's seller can pay of the shortfall
    protection: tuple[ProtectionContract, ...] = ()
    protection_capacity_sats: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LiquidationStep:
    number: int
    instrument_id: str
    side: Side  # the account's side: sell closes a long
    quantity: int  # contracts the step set out to close
    closed: int
    equity_sats: int  # before the step
    maintenance_margin_sats: int
    target_sats: int


@dataclass(frozen=True)
class LiquidationFill:
    stage: str  # book | backstop_offers | backstop_pool | adl
    step: int
    fill: Fill
    counterparty: str
    fees_sats: Mapping[str, int]


@dataclass(frozen=True)
class Cover:
    stage: str
    amount_sats: int


@dataclass(frozen=True)
class AdlEvent:
    """One counterparty's positions closed by auto-deleveraging, and its standing afterwards."""

    account_id: str
    instrument_id: str
    quantity: int  # contracts closed
    notional_sats: int  # sum of price x quantity x multiplier, rounded down
    standing: Standing


@dataclass(frozen=True, kw_only=True)
class LiquidationOutcome:
    liquidation_id: str
    trigger: Standing
    target_sats: int
    cancelled_orders: tuple[Order, ...]
    orders: tuple[Order, ...]  # the liquidation's own IOC orders, as they ended
    maker_updates: tuple[Order, ...]  # resting orders the IOC orders traded with, as they ended
    steps: tuple[LiquidationStep, ...]
    fills: tuple[LiquidationFill, ...]
    notional_closed_sats: int
    penalty_sats: int
    shortfall_sats: int  # below zero after closing, plus what auto-deleveraging absorbed
    covers: tuple[Cover, ...]
    uncovered_sats: int
    collateral_after_sats: int
    after: Standing
    adl_events: tuple[AdlEvent, ...]
    unabsorbed: bool  # a step no stage could close (nothing left to take it)
    offer_fills: tuple[OfferFill, ...] = ()  # contracts each backstop offer took
    skipped_offers: tuple[SkippedOffer, ...] = ()  # offers passed over, per step, and why

    def covered_by(self, stage: str) -> int:
        return sum(c.amount_sats for c in self.covers if c.stage == stage)


# --- JSON -------------------------------------------------------------------------------------


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _time(value: datetime) -> str:
    return value.isoformat()


def order_json(order: Order) -> dict:
    return {"order_id": order.order_id, "account_id": order.account_id, "instrument_id": order.instrument_id,
            "side": order.side.value, "quantity": order.quantity, "sequence": order.sequence,
            "created_at": _time(order.created_at), "order_type": order.order_type.value, "price": _text(order.price),
            "time_in_force": order.time_in_force.value, "post_only": order.post_only,
            "self_trade_prevention": order.self_trade_prevention.value, "status": order.status.value,
            "filled_quantity": order.filled_quantity,
            "cancel_reason": order.cancel_reason.value if order.cancel_reason else None}


def order_from_json(data: dict) -> Order:
    return Order(**{**data, "created_at": datetime.fromisoformat(data["created_at"]), "price": _decimal(data["price"])})


def fill_json(fill: Fill) -> dict:
    return {"fill_id": fill.fill_id, "instrument_id": fill.instrument_id, "price": _text(fill.price),
            "quantity": fill.quantity, "occurred_at": _time(fill.occurred_at),
            "buyer_account_id": fill.buyer_account_id, "seller_account_id": fill.seller_account_id,
            "buy_order_id": fill.buy_order_id, "sell_order_id": fill.sell_order_id,
            "aggressor": fill.aggressor.value if fill.aggressor else None}


_FILL_FIELDS = ("fill_id", "instrument_id", "quantity", "buyer_account_id", "seller_account_id", "buy_order_id",
                "sell_order_id", "aggressor")


def fill_from_json(data: dict) -> Fill:
    """A ``Fill`` from its JSON (an outcome's fill carries its stage, step and fees beside it)."""
    return Fill(**{name: data[name] for name in _FILL_FIELDS}, price=Decimal(data["price"]),
                occurred_at=datetime.fromisoformat(data["occurred_at"]))


def _position_json(position: Position) -> dict:
    return {"instrument_id": position.instrument_id, "multiplier": _text(position.multiplier),
            "quantity": position.quantity, "open_value": _text(position.open_value),
            "realized_pnl_sats": position.realized_pnl_sats}


def account_json(state: AccountState) -> dict:
    return {"account_id": state.account_id, "collateral_sats": state.collateral_sats,
            "positions": [_position_json(p) for p in state.positions],
            "open_orders": [order_json(o) for o in state.open_orders]}


def account_from_json(data: dict) -> AccountState:
    positions = tuple(Position(account_id=data["account_id"], instrument_id=p["instrument_id"],
                               multiplier=Decimal(p["multiplier"]), quantity=p["quantity"],
                               open_value=Decimal(p["open_value"]), realized_pnl_sats=p["realized_pnl_sats"])
                      for p in data["positions"])
    return AccountState(account_id=data["account_id"], collateral_sats=data["collateral_sats"], positions=positions,
                        open_orders=tuple(order_from_json(o) for o in data["open_orders"]))


def _spec_json(spec: ContractSpec) -> dict:
    return {"symbol": spec.symbol, "last_trading_time": _time(spec.last_trading_time), "floor": _text(spec.floor),
            "cap": _text(spec.cap)}


def _spec_from_json(data: dict) -> ContractSpec:
    return spec_for(data["symbol"], last_trading_time=datetime.fromisoformat(data["last_trading_time"]),
                    floor=_decimal(data["floor"]), cap=_decimal(data["cap"]))


def parameters_json(params: RiskParameters) -> dict:
    return {name: value if isinstance(value, str) else _text(value) for name, value in params.as_registry().items()}


def parameters_from_json(data: dict) -> RiskParameters:
    return RiskParameters.from_registry({name: value if name in TEXT_PARAMETERS else Decimal(value)
                                         for name, value in data.items()})


def inputs_json(inputs: LiquidationInputs) -> dict:
    return {
        "liquidation_id": inputs.liquidation_id, "occurred_at": _time(inputs.occurred_at),
        "account": account_json(inputs.account),
        "marks": {s: _text(p) for s, p in sorted(inputs.marks.items())},
        "specs": [_spec_json(inputs.specs[s]) for s in sorted(inputs.specs)],
        "parameters": parameters_json(inputs.params),
        "books": {s: [order_json(o) for o in orders] for s, orders in sorted(inputs.books.items())},
        "last_sequences": dict(sorted(inputs.last_sequences.items())),
        "counterparties": [account_json(inputs.counterparties[a]) for a in sorted(inputs.counterparties, key=_key)],
        "complete_queues": sorted(inputs.complete_queues),
        "closed_instruments": sorted(inputs.closed_instruments),
        "available_sats": dict(sorted(inputs.available_sats.items())),
        "otc_exposure_sats": {a: inputs.otc_exposure_sats[a] for a in sorted(inputs.otc_exposure_sats, key=_key)},
    } | _backstop_inputs_json(inputs) | _protection_inputs_json(inputs)


def _protection_inputs_json(inputs: LiquidationInputs) -> dict:
    """The protection contracts in force and the cash sellers' capacity (absent before issue #12's records)."""
    if not inputs.protection:
        return {}
    return {"protection": [contract_json(c) for c in inputs.protection],
            "protection_capacity_sats": dict(sorted(inputs.protection_capacity_sats.items()))}


def _backstop_inputs_json(inputs: LiquidationInputs) -> dict:
    """The offers considered and the pool's account (absent before issue #11's records)."""
    extra: dict = {}
    if inputs.backstop_offers:
        extra["backstop_offers"] = {s: [{"offer_id": o.offer_id, "account_id": o.account_id, "side": o.side.value,
                                         "remaining": o.remaining, "max_discount_bps": o.max_discount_bps}
                                        for o in offers] for s, offers in sorted(inputs.backstop_offers.items())}
    if inputs.pool_account_id is not None:
        extra["pool_account_id"] = inputs.pool_account_id
    return extra


def inputs_from_json(data: dict) -> LiquidationInputs:
    counterparties = [account_from_json(a) for a in data["counterparties"]]
    return LiquidationInputs(
        liquidation_id=data["liquidation_id"], occurred_at=datetime.fromisoformat(data["occurred_at"]),
        account=account_from_json(data["account"]), marks={s: Decimal(p) for s, p in data["marks"].items()},
        specs={s["symbol"]: _spec_from_json(s) for s in data["specs"]},
        params=parameters_from_json(data["parameters"]),
        books={s: tuple(order_from_json(o) for o in orders) for s, orders in data["books"].items()},
        last_sequences=dict(data["last_sequences"]), counterparties={c.account_id: c for c in counterparties},
        complete_queues=frozenset(data["complete_queues"]), closed_instruments=frozenset(data["closed_instruments"]),
        available_sats=dict(data["available_sats"]),
        otc_exposure_sats=dict(data["otc_exposure_sats"]),
        backstop_offers={s: tuple(BackstopOffer(offer_id=o["offer_id"], account_id=o["account_id"], instrument_id=s,
                                                side=Side(o["side"]), remaining=o["remaining"],
                                                max_discount_bps=o["max_discount_bps"]) for o in offers)
                         for s, offers in data.get("backstop_offers", {}).items()},
        pool_account_id=data.get("pool_account_id"),
        protection=tuple(contract_from_json(c) for c in data.get("protection", ())),
        protection_capacity_sats=dict(data.get("protection_capacity_sats", {})),
    )


def _standing_json(standing: Standing) -> dict:
    return {"equity_sats": standing.equity_sats, "initial_margin_sats": standing.initial_margin_sats,
            "maintenance_margin_sats": standing.maintenance_margin_sats, "status": standing.status.value}


def outcome_json(outcome: LiquidationOutcome) -> dict:
    return {
        "liquidation_id": outcome.liquidation_id, "trigger": _standing_json(outcome.trigger),
        "target_sats": outcome.target_sats,
        "cancelled_orders": [order_json(o) for o in outcome.cancelled_orders],
        "orders": [order_json(o) for o in outcome.orders],
        "maker_updates": [order_json(o) for o in outcome.maker_updates],
        "steps": [{"number": s.number, "instrument_id": s.instrument_id, "side": s.side.value, "quantity": s.quantity,
                   "closed": s.closed, "equity_sats": s.equity_sats,
                   "maintenance_margin_sats": s.maintenance_margin_sats, "target_sats": s.target_sats}
                  for s in outcome.steps],
        "fills": [{"stage": f.stage, "step": f.step, "counterparty": f.counterparty,
                   "fees_sats": dict(sorted(f.fees_sats.items())), **fill_json(f.fill)} for f in outcome.fills],
        "notional_closed_sats": outcome.notional_closed_sats, "penalty_sats": outcome.penalty_sats,
        "shortfall_sats": outcome.shortfall_sats,
        "covers": [{"stage": c.stage, "amount_sats": c.amount_sats} for c in outcome.covers],
        "uncovered_sats": outcome.uncovered_sats, "collateral_after_sats": outcome.collateral_after_sats,
        "after": _standing_json(outcome.after),
        "adl_events": [{"account_id": e.account_id, "instrument_id": e.instrument_id, "quantity": e.quantity,
                        "notional_sats": e.notional_sats, "standing": _standing_json(e.standing)}
                       for e in outcome.adl_events],
        "unabsorbed": outcome.unabsorbed,
    } | ({"offer_fills": [{"offer_id": f.offer_id, "quantity": f.quantity} for f in outcome.offer_fills],
          "skipped_offers": [{"offer_id": o.offer_id, "step": o.step, "reason": o.reason}
                             for o in outcome.skipped_offers]}
         if outcome.offer_fills or outcome.skipped_offers else {})


def canonical(data: dict) -> str:
    """The stored text of a JSON record: sorted keys, so equal records are equal text."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def differences(stored: dict, recomputed: dict, path: str = "") -> list[str]:
    """Where two JSON records differ, as ``path: stored != recomputed`` lines."""
    if isinstance(stored, dict) and isinstance(recomputed, dict):
        lines = []
        for key in sorted(set(stored) | set(recomputed)):
            lines += differences(stored.get(key), recomputed.get(key), f"{path}.{key}" if path else key)
        return lines
    if isinstance(stored, list) and isinstance(recomputed, list) and len(stored) == len(recomputed):
        return [line for i, (a, b) in enumerate(zip(stored, recomputed)) for line in differences(a, b, f"{path}[{i}]")]
    return [] if stored == recomputed else [f"{path}: {stored!r} != {recomputed!r}"]


def _key(account_id: str) -> tuple[int, str]:
    return (int(account_id), "") if account_id.isdigit() else (0, account_id)

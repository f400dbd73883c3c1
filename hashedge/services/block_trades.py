"""OTC block trades: a negotiated trade between two named accounts, booked by the desk.

The price must be on the tick and within the OTC band around the mark
(``domain.marks.otc_price_check``); each side must pass the pre-trade margin check as if it
had sent the trade as an order (``domain.margin.pre_trade_check``, taker fee included). The
trade then goes through the same path as a book fill (``services.trading.record_fill``): a
trade record, both positions, both fees (the taker rate, ``domain.fees``) and realized PnL.
Locks: the instrument's sequence row, then both collateral rows in key order.

``preview_block_trade`` runs the same checks on the same state without writing anything, and
adds what each side's margin would be after the trade (the desk shows it before submitting).

``reverse_block_trade`` cancels a booked block trade with its mirror image: the seller buys the
same quantity back from the buyer at the original price, so both positions and the PnL are as if
the trade had not happened (variation margin paid since is given back through the realized PnL
of the reversal). The fees of the original trade are refunded (a ``reversal`` entry of each fee
entry) and the reversal itself is free: it corrects a booking, it is not a new trade. Each side
passes the pre-trade margin check (a reduction always does); the band is not checked (the price
is the original's by construction). A trade is reversed at most once, with a reason kept beside
it; a correction is a reversal followed by a new booking.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.repositories.trading import TradeRecord
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.denials import Rejected
from hashedge.domain.fees import fill_fees_sats
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.margin import AccountMargin, AccountState, account_margin, notional_sats, pre_trade_check
from hashedge.domain.marks import otc_price_check, price_band
from hashedge.domain.orders import Order, Side, TimeInForce
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.positions import Position
from hashedge.errors import Conflict, InvalidInput, NotFound
from hashedge.services.accounts import require_account
from hashedge.services.instruments import get_instrument
from hashedge.services.ledger import post
from hashedge.services.margin import marks_and_specs, order_check_state, risk_parameters
from hashedge.services.trading import (
    InsufficientMargin,
    OrderRejected,
    parse_price,
    parse_quantity,
    record_fill,
    require_trading_open,
)

MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class SideCheck:
    account_id: int
    side: Side
    state: AccountState
    marks: dict[str, Decimal]
    specs: dict[str, ContractSpec]
    denial: Rejected | None


@dataclass(frozen=True)
class SidePreview:
    """One side of a previewed block trade: its margin now and after the trade, and any refusal."""

    account_id: int
    name: str
    side: str
    fee_sats: int
    before: AccountMargin
    after: AccountMargin
    refusal: str | None
    shortfall_sats: int | None


@dataclass(frozen=True)
class BlockTradePreview:
    instrument: str
    quantity: int
    price: Decimal
    mark_price: Decimal
    band_low: Decimal
    band_high: Decimal
    band_ratio: Decimal
    notional_sats: int
    price_refusal: str | None
    buyer: SidePreview
    seller: SidePreview

    @property
    def ok(self) -> bool:
        return self.price_refusal is None and self.buyer.refusal is None and self.seller.refusal is None


@dataclass(frozen=True)
class OtcBand:
    instrument: str
    mark_price: Decimal
    low: Decimal
    high: Decimal
    ratio: Decimal


def _inputs(buyer_id: int, seller_id: int, quantity: object, price: object) -> tuple[int, Decimal]:
    quantity, price = parse_quantity(quantity), parse_price(price)
    if price is None:
        raise InvalidInput("a block trade needs a price", fields={"price": ["required"]})
    if buyer_id == seller_id:
        raise InvalidInput("buyer and seller must be different accounts", fields={"seller": ["same as buyer"]})
    return quantity, price


def _check_side(uow: UnitOfWork, spec: ContractSpec, account_id: int, side: Side, quantity: int, price: Decimal,
                trade_id: str, now: datetime, params: RiskParameters) -> SideCheck:
    """The pre-trade margin check of one side, as if it had sent the trade as an order."""
    # The account's resting orders summed by the database (``order_check_state``): the check
    # decides as over every order, whatever their number.
    state, marks, specs = order_check_state(uow, account_id, spec.symbol, params)
    as_order = Order(order_id=f"{trade_id}-{side.value}", account_id=str(account_id), instrument_id=spec.symbol,
                     side=side, quantity=quantity, sequence=0, created_at=now, price=price,
                     time_in_force=TimeInForce.IOC)
    denial = pre_trade_check(state, as_order, marks, params, specs=specs)
    if denial is not None:
        denial = dataclasses.replace(denial, message=f"{side.value}er {account_id}: {denial.message}")
    return SideCheck(account_id, side, state, marks, specs, denial)


def _raise_denials(checks: list[SideCheck]) -> None:
    for check in checks:
        if check.denial is not None:
            raise InsufficientMargin(check.denial)


def book_block_trade(uow: UnitOfWork, clock: Clock, *, buyer_id: int, seller_id: int, instrument: str,
                     quantity: int, price: Decimal | int | str, trade_id: str | None = None) -> TradeRecord:
    """Book a block trade (module docstring); returns the stored trade with both fees."""
    quantity, price = _inputs(buyer_id, seller_id, quantity, price)
    now, params = clock.now(), risk_parameters(uow)
    trade_id = trade_id or f"BLOCK-{uuid.uuid4().hex[:16]}"
    with uow:
        for account_id in (buyer_id, seller_id):
            require_account(uow, account_id)
        record = get_instrument(uow, instrument)
        spec = record.spec
        require_trading_open(uow, record, now)
        uow.instruments.lock_sequence(spec.symbol)
        uow.ledger.lock_balances([collateral_of(buyer_id), collateral_of(seller_id)])
        for account_id, side in ((buyer_id, Side.BUY), (seller_id, Side.SELL)):
            check = _check_side(uow, spec, account_id, side, quantity, price, trade_id, now, params)
            denial = otc_price_check(spec, price, check.marks[spec.symbol], params)
            if denial is not None:
                raise OrderRejected(denial)
            _raise_denials([check])
        fill = Fill.block_trade(fill_id=trade_id, instrument_id=spec.symbol, buyer_account_id=str(buyer_id),
                                seller_account_id=str(seller_id), quantity=quantity, price=price, occurred_at=now)
        fees = record_fill(uow, spec, fill, kind="block", params=params, now=now)
        uow.commit()
    return TradeRecord(fill, "block", fees.get(str(buyer_id), 0), fees.get(str(seller_id), 0))


def otc_band(uow: UnitOfWork, instrument: str) -> OtcBand:
    """The OTC band around the instrument's latest mark."""
    params = risk_parameters(uow)
    with uow.read_only():
        spec = get_instrument(uow, instrument).spec
        marks, _ = marks_and_specs(uow, AccountState(account_id="-", collateral_sats=0), (spec.symbol,))
    mark = marks[spec.symbol]
    low, high = price_band(spec, mark, params.otc_band_ratio)
    return OtcBand(spec.symbol, mark, low, high, params.otc_band_ratio)


def _after(check: SideCheck, fill: Fill, fee_sats: int, params: RiskParameters) -> AccountMargin:
    """The side's margin once ``fill`` is applied: positions moved, fee and realized PnL posted."""
    positions, realized = [], 0
    found = False
    for position in check.state.positions:
        if position.instrument_id == fill.instrument_id:
            after = position.apply(fill)
            realized = after.realized_pnl_sats - position.realized_pnl_sats
            positions.append(after)
            found = True
        else:
            positions.append(position)
    if not found:
        spec = check.specs[fill.instrument_id]
        flat = Position(account_id=str(check.account_id), instrument_id=spec.symbol, multiplier=spec.multiplier)
        positions.append(flat.apply(fill))
    state = AccountState(account_id=check.state.account_id,
                         collateral_sats=check.state.collateral_sats - fee_sats + realized,
                         positions=tuple(positions), open_orders=check.state.open_orders)
    return account_margin(state, check.marks, params, specs=check.specs)


def preview_block_trade(uow: UnitOfWork, clock: Clock, *, buyer_id: int, seller_id: int, instrument: str,
                        quantity: int, price: Decimal | int | str) -> BlockTradePreview:
    """What booking would do (module docstring): the band check, each side's margin check and
    each side's margin before and after. Writes nothing; bad input raises as booking would."""
    quantity, price = _inputs(buyer_id, seller_id, quantity, price)
    now, params = clock.now(), risk_parameters(uow)
    with uow.read_only():
        names = {a: require_account(uow, a).name for a in (buyer_id, seller_id)}
        record = get_instrument(uow, instrument)
        spec = record.spec
        require_trading_open(uow, record, now)
        checks = [_check_side(uow, spec, account_id, side, quantity, price, "PREVIEW", now, params)
                  for account_id, side in ((buyer_id, Side.BUY), (seller_id, Side.SELL))]
    mark = checks[0].marks[spec.symbol]
    low, high = price_band(spec, mark, params.otc_band_ratio)
    price_denial = otc_price_check(spec, price, mark, params)
    fill = Fill.block_trade(fill_id="PREVIEW", instrument_id=spec.symbol, buyer_account_id=str(buyer_id),
                            seller_account_id=str(seller_id), quantity=quantity, price=price, occurred_at=now)
    fees = fill_fees_sats(fill, spec, params)
    sides = []
    for check in checks:
        fee = fees.get(str(check.account_id), 0)
        before = account_margin(check.state, check.marks, params, specs=check.specs)
        sides.append(SidePreview(check.account_id, names[check.account_id], check.side.value, fee, before,
                                 _after(check, fill, fee, params),
                                 check.denial.message if check.denial else None,
                                 check.denial.shortfall_sats if check.denial else None))
    return BlockTradePreview(spec.symbol, quantity, price, mark, low, high, params.otc_band_ratio,
                             notional_sats(spec, quantity, price),
                             price_denial.message if price_denial else None, sides[0], sides[1])


def block_notional_sats(uow: UnitOfWork, *, instrument: str, quantity: int, price: Decimal | int | str) -> int:
    """``|q| x price x multiplier`` of a block trade, in sats (what four eyes is sized on)."""
    quantity, price = parse_quantity(quantity), parse_price(price)
    if price is None:
        raise InvalidInput("a block trade needs a price", fields={"price": ["required"]})
    with uow.read_only():
        spec = get_instrument(uow, instrument).spec
    return notional_sats(spec, quantity, price)


def reverse_block_trade(uow: UnitOfWork, clock: Clock, *, trade_id: str, reason: str,
                        reversal_id: str | None = None) -> TradeRecord:
    """Cancel a block trade by its mirror trade (module docstring); returns the reversal."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not 1 <= len(reason) <= MAX_REASON_LENGTH:
        raise InvalidInput("a reversal needs a reason", fields={"reason": [f"1 to {MAX_REASON_LENGTH} characters"]})
    now, params = clock.now(), risk_parameters(uow)
    reversal_id = reversal_id or f"BLOCK-{uuid.uuid4().hex[:16]}"
    with uow:
        original = uow.trades.get(trade_id)
        if original is None or original.kind != "block":
            raise NotFound(f"no block trade {trade_id!r}", fields={"trade_id": ["unknown block trade"]})
        fill = original.fill
        record = get_instrument(uow, fill.instrument_id)
        spec = record.spec
        require_trading_open(uow, record, now)
        uow.instruments.lock_sequence(spec.symbol)
        buyer, seller = int(fill.seller_account_id), int(fill.buyer_account_id)
        uow.ledger.lock_balances([collateral_of(buyer), collateral_of(seller)])
        existing = uow.reversals.of_trades([trade_id]).get(trade_id)  # read under the instrument's lock
        if existing is not None:
            what = "was reversed by" if existing.original_trade_id == trade_id else "is the reversal of"
            other = existing.reversal_trade_id if existing.original_trade_id == trade_id else existing.original_trade_id
            raise Conflict(f"block trade {trade_id} {what} {other}", fields={"trade_id": [f"{what} {other}"]})
        _raise_denials([_check_side(uow, spec, account_id, side, fill.quantity, fill.price, reversal_id, now, params)
                        for account_id, side in ((buyer, Side.BUY), (seller, Side.SELL))])
        mirror = Fill.block_trade(fill_id=reversal_id, instrument_id=spec.symbol, buyer_account_id=str(buyer),
                                  seller_account_id=str(seller), quantity=fill.quantity, price=fill.price,
                                  occurred_at=now)
        record_fill(uow, spec, mirror, kind="block", params=params, now=now, charge_fees=False)
        for owner in (fill.buyer_account_id, fill.seller_account_id):
            fee_entry = uow.ledger.find(f"trade:{trade_id}:fee:{owner}")
            if fee_entry is not None:
                post(uow, ledger.reversal(fee_entry.entry, idempotency_key=f"trade:{reversal_id}:fee-refund:{owner}",
                                          occurred_at=now, memo=f"fee refund: {trade_id} reversed by {reversal_id}"),
                     now)
        uow.reversals.add(trade_id, reversal_id, reason, now)
        uow.commit()
    return TradeRecord(mirror, "block", 0, 0)


@dataclass(frozen=True)
class BlockTradeLine:
    trade: TradeRecord
    buyer_name: str
    seller_name: str
    reversed_by: str | None
    reverses: str | None
    reason: str | None


def recent_block_trades(uow: UnitOfWork, *, page: int = 1, page_size: int = 25) -> tuple[list[BlockTradeLine], int]:
    """Block trades, newest first, with their reversal links; and how many there are."""
    if not 1 <= page <= 100_000 or not 1 <= page_size <= 500:
        raise InvalidInput("page out of range", fields={"page": ["page 1 to 100000, size 1 to 500"]})
    with uow.read_only():
        trades = uow.trades.recent_blocks(limit=page_size, offset=(page - 1) * page_size)
        total = uow.trades.count_blocks()
        links = uow.reversals.of_trades([t.fill.fill_id for t in trades])
        names = uow.accounts.names()
    lines = []
    for trade in trades:
        link = links.get(trade.fill.fill_id)
        is_original = link is not None and link.original_trade_id == trade.fill.fill_id
        lines.append(BlockTradeLine(
            trade, names.get(int(trade.fill.buyer_account_id), "?"), names.get(int(trade.fill.seller_account_id), "?"),
            link.reversal_trade_id if is_original else None,
            link.original_trade_id if link is not None and not is_original else None,
            link.reason if link else None))
    return lines, total

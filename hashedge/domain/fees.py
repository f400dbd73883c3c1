"""Trading fees: basis points of the traded notional, rounded up to the sat.

A book fill charges its maker ``maker_fee_bps`` and its taker ``taker_fee_bps`` of
``quantity x price x multiplier``, each computed exactly and rounded up once (``FEE_ROUNDING``).
An OTC block trade has no maker and no taker: both parties pay the taker rate (the desk's
service is liquidity taken from it). The service posts each fee from the payer's collateral to
the ``fees`` account (``ledger.fee``).
"""

from __future__ import annotations

from decimal import Decimal

from hashedge.domain.errors import InstrumentMismatch, InvalidValue
from hashedge.domain.fills import Fill
from hashedge.domain.instruments import ContractSpec
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.units import FEE_ROUNDING, exact, require_price, to_sats

BPS = 10_000


def fee_sats(spec: ContractSpec, quantity: int, price: Decimal, fee_bps: Decimal) -> int:
    """``fee_bps`` of |quantity| x price x multiplier, rounded up."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidValue("quantity", quantity, "must be an int number of contracts")
    if require_price(fee_bps, "fee_bps") < 0:
        raise InvalidValue("fee_bps", fee_bps, "must not be negative")
    notional = abs(quantity) * exact(require_price(price)) * exact(spec.multiplier)
    return to_sats(notional * exact(fee_bps) / BPS, FEE_ROUNDING)


def fill_fees_sats(fill: Fill, spec: ContractSpec, params: RiskParameters) -> dict[str, int]:
    """``{account_id: fee}`` for both parties of ``fill`` (maker/taker, or taker rate twice for OTC)."""
    if fill.instrument_id != spec.symbol:
        raise InstrumentMismatch(spec.symbol, fill.instrument_id)
    if fill.aggressor is None:
        rate = params.taker_fee_bps
        return {fill.buyer_account_id: fee_sats(spec, fill.quantity, fill.price, rate),
                fill.seller_account_id: fee_sats(spec, fill.quantity, fill.price, rate)}
    maker, taker = fill.maker_account_id, fill.taker_account_id
    assert maker is not None and taker is not None
    return {maker: fee_sats(spec, fill.quantity, fill.price, params.maker_fee_bps),
            taker: fee_sats(spec, fill.quantity, fill.price, params.taker_fee_bps)}

"""A small market for protection tests: a miner short a month of hashprice to a trader (block trade
at 50,000), a protection seller with 2 BTC, an insurance fund; marks set by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.services import accounts, block_trades, insurance, ledger

SYMBOL = "HP-2026-12"


def mark(runtime, price: int) -> None:
    runtime.clock.advance(timedelta(minutes=1))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, runtime.clock.now(), Decimal(price), "model", Decimal(price))
        uow.commit()


@dataclass
class Market:
    ids: dict[str, int]
    keys: dict[str, dict[str, str]]


def market(runtime, *, trader_sats: int = 3_000_000, contracts: int = 10, fund_sats: int = 0) -> Market:
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2026, 12), runtime.clock.now())
        uow.commit()
    mark(runtime, 50_000)
    ids, keys = {}, {}
    for name, sats in (("miner", 20_000_000), ("trader", trader_sats), ("seller", 200_000_000)):
        account, key = accounts.create_account(runtime.uow(), runtime.clock, name)
        ledger.deposit(runtime.uow(), runtime.clock, account.id, sats, f"seed-{name}")
        ids[name], keys[name] = account.id, {"Authorization": f"Bearer {key}"}
    block_trades.book_block_trade(runtime.uow(), runtime.clock, buyer_id=ids["trader"], seller_id=ids["miner"],
                                  instrument=SYMBOL, quantity=contracts, price=50_000, trade_id="BLOCK-1")
    if fund_sats:
        insurance.contribute(runtime.uow(), runtime.clock, fund_sats, "seed-fund")
    return Market(ids, keys)

"""The README's worked example, number for number, on SQLite and PostgreSQL.

A miner with 100 PH/s hedges January 2027's revenue: deposits 0.3 BTC, sells 100 HP-2027-01
(1 PH/s for each of the month's 31 days per contract) at 45,000 sats/PH/day through the API, is
re-marked once in January, and settles at the average of January's daily fixings, 42,000. If
these figures change, the README must change with them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.parameters import RiskParameters
from hashedge.services import accounts, ledger, settlement
from hashedge.web import create_app
from indices.fixings import FixingValue

SYMBOL = "HP-2027-01"
UTC = timezone.utc
DEPOSIT_SATS = 30_000_000  # 0.3 BTC
QUANTITY = 100  # contracts of 1 PH/s x 31 days: the miner's 100 PH/s for the month
NOTIONAL_SATS = 100 * 45_000 * 31  # 139,500,000
TAKER_FEE_SATS = 69_750  # 5 bps of the notional
MAKER_FEE_SATS = 27_900  # 2 bps


def hashprice_fixing(day: datetime, value: int) -> FixingValue:
    return FixingValue(index="HASHPRICE", kind="daily", as_of=day, value=Decimal(value), unit="sats/PH/day",
                       methodology_version="1", start_height=1, end_height=2, confirmations=6,
                       input_digest="0" * 64)


def test_a_miner_hedges_a_month_of_revenue_from_deposit_to_final_settlement(runtime):
    clock = runtime.clock
    clock.set(datetime(2026, 12, 15, 12, tzinfo=UTC))
    with runtime.uow() as uow:
        uow.instruments.add(hashprice_monthly(2027, 1), clock.now())
        uow.marks.add(SYMBOL, clock.now(), Decimal(45000), "model", Decimal(45000))
        uow.commit()
    client = create_app(runtime).test_client()
    miner, miner_key = accounts.create_account(runtime.uow(), clock, "miner")
    trader, trader_key = accounts.create_account(runtime.uow(), clock, "trader")
    ledger.deposit(runtime.uow(), clock, miner.id, DEPOSIT_SATS, "deposit-miner")
    ledger.deposit(runtime.uow(), clock, trader.id, 100_000_000, "deposit-trader")
    as_miner = {"Authorization": f"Bearer {miner_key}"}
    as_trader = {"Authorization": f"Bearer {trader_key}"}

    bid = {"instrument": SYMBOL, "side": "buy", "type": "limit", "quantity": QUANTITY, "price": "45000"}
    assert client.post("/api/v1/orders", json=bid, headers=as_trader).status_code == 201
    sold = client.post("/api/v1/orders", json={**bid, "side": "sell"}, headers=as_miner)
    assert sold.status_code == 201 and sold.json["status"] == "filled"

    account = client.get("/api/v1/account", headers=as_miner).json
    assert account["balances"]["collateral_sats"] == DEPOSIT_SATS - TAKER_FEE_SATS == 29_930_250
    assert account["initial_margin_sats"] == 20_925_000  # 15% of 139,500,000
    assert account["maintenance_margin_sats"] == 13_950_000  # 10%
    assert account["free_collateral_sats"] == 29_930_250 - 20_925_000
    assert client.get("/api/v1/positions", headers=as_miner).json["items"][0]["quantity"] == -QUANTITY

    # 10 January: hashprice has fallen; the contract is marked at 43,500 and settled daily.
    clock.set(datetime(2027, 1, 10, 20, tzinfo=UTC))
    with runtime.uow() as uow:
        uow.marks.add(SYMBOL, clock.now(), Decimal(43500), "model", Decimal(43500))
        uow.commit()
    clock.set(datetime(2027, 1, 11, 0, 30, tzinfo=UTC))
    daily = settlement.run_daily_settlement(runtime.uow(), clock, date(2027, 1, 10))
    assert daily.variation_margin_sats[SYMBOL] == {str(miner.id): 4_650_000, str(trader.id): -4_650_000}

    # February: January's 31 daily fixings (00:00 UTC on 2 January .. 1 February) average 42,000.
    days = [datetime(2027, 1, 2, tzinfo=UTC) + timedelta(days=d) for d in range(31)]
    with runtime.uow() as uow:
        uow.fixings.add([hashprice_fixing(day, 42_000 + 100 * (d - 15)) for d, day in enumerate(days)],
                        datetime(2027, 2, 1, 0, 10, tzinfo=UTC))
        uow.commit()
    clock.set(datetime(2027, 2, 1, 1, tzinfo=UTC))
    final = settlement.run_daily_settlement(runtime.uow(), clock, date(2027, 1, 31))
    assert final.settlement_prices[SYMBOL] == "42000"
    assert final.final_settlements[SYMBOL] == {str(miner.id): 4_650_000, str(trader.id): -4_650_000}

    account = client.get("/api/v1/account", headers=as_miner).json
    hedge_gain_sats = 9_300_000  # (45,000 - 42,000) x 3,100 PH-days
    assert account["balances"]["collateral_sats"] == DEPOSIT_SATS - TAKER_FEE_SATS + hedge_gain_sats == 39_230_250
    assert account["initial_margin_sats"] == 0 and client.get("/api/v1/positions", headers=as_miner).json["items"] == []
    trader_account = client.get("/api/v1/account", headers=as_trader).json
    # the night after the trade shared the date's fees out: the makers' share to the only maker
    maker_rebate_sats = int((TAKER_FEE_SATS + MAKER_FEE_SATS) * RiskParameters().fee_split_makers)  # 19,530
    assert trader_account["balances"]["collateral_sats"] == (100_000_000 - MAKER_FEE_SATS + maker_rebate_sats
                                                             - hedge_gain_sats)
    # The hedge locked the price: mined at 42,000 plus the hedge's gain is exactly 45,000 a PH-day.
    mined_sats = 100 * 31 * 42_000
    assert mined_sats + hedge_gain_sats == NOTIONAL_SATS
    assert ledger.check_balances(runtime.uow()).ok

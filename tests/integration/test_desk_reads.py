"""The desk's read services over real chain data (SQLite and PostgreSQL): fixings newest first with
full pages and their verification, contract analytics against pricing, the hedge calculator, the
margin monitor's order, and the status overview."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hashedge.domain.instruments import Product
from hashedge.services import accounts, analytics, block_trades, instruments, ledger, operations, risk
from pricing.difficulty_curve import implied_difficulty
from pricing.futures import epoch_subsidy_btc


@pytest.fixture
def market(populated_runtime):
    runtime = populated_runtime
    instruments.run_listing(runtime.uow(), runtime.clock)
    instruments.update_marks(runtime.uow(), runtime.clock)
    return runtime


def test_fixings_come_newest_first_in_full_pages_that_cover_every_fixing(market):
    first, _ = operations.fixings(market.uow(), index="DIFF", page=1, page_size=7)
    assert len(first.items) == 7 and first.total > 14
    as_of = [line.fixing.as_of for line in first.items]
    assert as_of == sorted(as_of, reverse=True)
    seen = []
    for page in range(1, -(-first.total // 7) + 1):
        result, _ = operations.fixings(market.uow(), index="DIFF", page=page, page_size=7)
        seen += [(line.fixing.kind, line.fixing.as_of) for line in result.items]
    assert len(seen) == len(set(seen)) == first.total
    verified, checked = operations.fixings(market.uow(), index="DIFF", page=1, page_size=7, verify=True)
    assert checked >= first.total and all(line.verified for line in verified.items)


def test_contract_analytics_match_pricing_at_each_mark(market):
    state, rows = analytics.contract_analytics(market.uow(), market.clock)
    by_product = {}
    for row in rows:
        by_product.setdefault(row.view.record.spec.product, []).append(row)
    bme = by_product[Product.BME14_EPOCH][0]
    epoch = bme.view.record.spec.window.last
    expected = implied_difficulty(float(bme.view.mark_price) / 10**11, epoch_subsidy_btc(epoch))
    assert bme.implied_difficulty == pytest.approx(expected, rel=1e-12)
    # one quote from the current epoch: D_k = D0 (1+g)^(k-c)
    assert state.difficulty * (1 + bme.implied_growth_per_epoch) ** (epoch - state.epoch) == pytest.approx(expected)
    assert bme.leverage_long == bme.leverage_short == pytest.approx(1 / 0.15)
    diff = by_product[Product.DIFF_EPOCH][0]
    assert diff.implied_difficulty == float(diff.view.mark_price) * 10**12
    assert diff.leverage_long == pytest.approx(1 / 0.13)
    capped = by_product[Product.BME14_CAPPED][0]
    spec, mark = capped.view.record.spec, capped.view.mark_price
    assert capped.leverage_long == pytest.approx(float(mark / (mark - spec.floor)))
    assert capped.leverage_short == pytest.approx(float(mark / (spec.cap - mark)))
    monthly = by_product[Product.HASHPRICE_MONTHLY][-1]
    assert monthly.implied_difficulty > 0 and monthly.implied_growth_per_epoch is not None


def test_the_hedge_calculator_sizes_notional_and_margin_from_the_mark(market):
    views = instruments.list_instruments(market.uow(), market.clock)
    monthly = next(v for v in views if v.record.spec.product is Product.HASHPRICE_MONTHLY and v.mark_price)
    quote = analytics.hedge(market.uow(), market.clock, hashrate_phs="100", instrument=monthly.record.symbol)
    spec = monthly.record.spec
    notional = 100 * monthly.mark_price * spec.multiplier
    assert (quote.side, quote.contracts, quote.notional_sats) == ("sell", 100, int(notional))
    assert quote.initial_margin_sats == -(-notional * Decimal("0.15") // 1)
    diff = next(v for v in views if v.record.spec.product is Product.DIFF_EPOCH and v.mark_price)
    diff_quote = analytics.hedge(market.uow(), market.clock, hashrate_phs="100", instrument=diff.record.symbol)
    assert diff_quote.side == "buy" and 20 <= diff_quote.contracts <= 80  # ~39 at 150 T and 42,000 sats/PH/day
    from hashedge.errors import InvalidInput
    with pytest.raises(InvalidInput):
        analytics.hedge(market.uow(), market.clock, hashrate_phs="lots", instrument=diff.record.symbol)


def test_the_margin_monitor_lists_the_most_used_accounts_first(market):
    views = instruments.list_instruments(market.uow(), market.clock)
    monthly = next(v for v in views if v.record.spec.product is Product.HASHPRICE_MONTHLY and v.trading_open)
    ids = {}
    for name, deposit in (("thin", 3_000_000), ("thick", 300_000_000), ("flat", 1_000)):
        account, _ = accounts.create_account(market.uow(), market.clock, name)
        ledger.deposit(market.uow(), market.clock, account.id, deposit, f"seed-{account.id}")
        ids[name] = account.id
    block_trades.book_block_trade(market.uow(), market.clock, buyer_id=ids["thin"], seller_id=ids["thick"],
                                  instrument=monthly.record.symbol, quantity=1, price=monthly.mark_price)
    sweep, lines = risk.margin_monitor(market.uow(), market.clock)
    assert [line.name for line in lines] == ["thin", "thick"]  # the flat account has nothing to monitor
    assert lines[0].margin_usage > lines[1].margin_usage > 0
    assert lines[0].margin_usage == lines[0].initial_margin_sats / lines[0].equity_sats
    overview = operations.overview(market.uow(), market.clock)
    assert overview.accounts == 3 and overview.risk_counts["healthy"] == 3 and overview.instruments_listed >= 12

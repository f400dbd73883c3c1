"""The waterfall's backstop stages on hand-built accounts (the long of ``test_engine``: 10 HP at
50,000 on 2,000,000 sats, 31 PH-days a contract, marked at 48,000: equity 1,380,000 below its
maintenance margin of 1,488,000; the book's limit for it is the 3% band edge, 46,560)."""

from __future__ import annotations

from hashedge.domain.backstop.offers import BackstopOffer
from hashedge.domain.liquidation import liquidate
from hashedge.domain.liquidation.record import canonical, inputs_from_json, inputs_json, outcome_json
from hashedge.domain.orders import Side
from liquidation_builders import D, HP, PARAMS, account, inputs, position


def thin_long(collateral=2_000_000):
    return account("1", collateral, position("1", 10, 50_000))


def offer(offer_id: int, owner: str, bps: int, remaining: int = 1, side: Side = Side.BUY) -> BackstopOffer:
    return BackstopOffer(offer_id=offer_id, account_id=owner, instrument_id=HP.symbol, side=side,
                         remaining=remaining, max_discount_bps=bps)


def with_backstops(case, offers=(), pool: str | None = None, pool_free: int = 0):
    from dataclasses import replace

    return replace(case, backstop_offers={HP.symbol: tuple(offers)} if offers else {}, pool_account_id=pool,
                   available_sats={**case.available_sats, **({"backstop_pool": pool_free} if pool else {})})


def replays(case, outcome) -> bool:
    again = liquidate(inputs_from_json(inputs_json(case)))
    return canonical(outcome_json(again)) == canonical(outcome_json(outcome))


def test_offers_fill_best_price_first_then_by_time_each_at_its_own_price():
    rich = [account(owner, 10_000_000) for owner in ("20", "21", "22")]
    # buy offers pay the mark less their discount: 48,000 x 98% = 47,040; x 99.5% = 47,760 (twice)
    case = with_backstops(inputs(thin_long(), mark=48_000, counterparties=rich),
                          offers=[offer(1, "20", 200), offer(2, "21", 50), offer(3, "22", 50)])
    outcome = liquidate(case)
    assert [(f.stage, f.counterparty, f.fill.price, f.fill.quantity, f.fees_sats) for f in outcome.fills] == [
        ("backstop_offers", "21", D(47_760), 1, {}), ("backstop_offers", "22", D(47_760), 1, {}),
        ("backstop_offers", "20", D(47_040), 1, {})]
    assert [(f.offer_id, f.quantity) for f in outcome.offer_fills] == [(1, 1), (2, 1), (3, 1)]
    assert all(f.fill.aggressor is Side.BUY for f in outcome.fills)  # the backstopper takes
    assert outcome.skipped_offers == () and replays(case, outcome)


def test_an_offer_whose_owner_would_breach_initial_margin_is_skipped_and_recorded_each_step():
    # one contract at 48,000 needs 15% x 1,488,000 = 223,200 of initial margin: 100,000 is short of it
    poor, rich = account("20", 100_000), account("21", 10_000_000)
    case = with_backstops(inputs(thin_long(), mark=48_000, counterparties=[poor, rich]),
                          offers=[offer(1, "20", 0, remaining=5), offer(2, "21", 300, remaining=5)])
    outcome = liquidate(case)
    assert {f.counterparty for f in outcome.fills} == {"21"}
    assert [(s.offer_id, s.step, s.reason) for s in outcome.skipped_offers] == [
        (1, step.number, "initial_margin") for step in outcome.steps]
    assert "skipped_offers" in outcome_json(outcome) and replays(case, outcome)


def test_an_offer_is_never_filled_beyond_what_it_has_left_nor_worse_than_the_books_limit():
    rich = [account("20", 10_000_000), account("21", 10_000_000), account("2", 10_000_000, position("2", -20, 49_000))]
    # 400 bps: 46,080, below the band edge of 46,560: never for this account
    case = with_backstops(inputs(thin_long(), mark=48_000, counterparties=rich),
                          offers=[offer(1, "20", 400, remaining=5), offer(2, "21", 100, remaining=1)])
    outcome = liquidate(case)
    by_stage = [(f.stage, f.counterparty, f.fill.quantity) for f in outcome.fills]
    assert by_stage[0] == ("backstop_offers", "21", 1) and {s[0] for s in by_stage[1:]} == {"adl"}
    assert {(s.offer_id, s.reason) for s in outcome.skipped_offers} == {(1, "price")}


def test_the_pool_takes_at_the_mark_less_its_discount_within_its_cap_per_liquidation():
    # NAV 10,000,000; a quarter of it (2,500,000) per liquidation: one contract at 48,000 x 99% = 47,520
    # is 1,473,120, two would be 2,946,240: it takes one, the rest goes to ADL
    params = PARAMS.with_changes({"pool.max_takeover_ratio": D("0.25")})
    others = [account("90", 10_000_000), account("2", 10_000_000, position("2", -20, 49_000))]
    case = with_backstops(inputs(thin_long(), mark=48_000, counterparties=others, params=params), pool="90",
                          pool_free=10_000_000)
    outcome = liquidate(case)
    pool_fills = [(f.fill.price, f.fill.quantity) for f in outcome.fills if f.stage == "backstop_pool"]
    assert pool_fills == [(D(47_520), 1)]
    assert {f.stage for f in outcome.fills} == {"backstop_pool", "adl"} and replays(case, outcome)


def test_the_pool_takes_no_more_of_an_instrument_than_its_cap():
    # 50% of NAV 10,000,000 = 5,000,000 of exposure at the mark: 3 contracts (1,488,000 each); it
    # holds 2 already, so it takes one more
    params = PARAMS.with_changes({"pool.max_takeover_ratio": D("0.25")})
    pool = account("90", 10_000_000, position("90", 2, 48_000))
    others = [pool, account("2", 10_000_000, position("2", -22, 49_000))]
    case = with_backstops(inputs(thin_long(), mark=48_000, counterparties=others, params=params), pool="90",
                          pool_free=10_000_000)
    outcome = liquidate(case)
    assert sum(f.fill.quantity for f in outcome.fills if f.stage == "backstop_pool") == 1


def test_a_bankrupt_account_costs_the_pool_at_most_its_loss_cap():
    # mark 40,000: equity 2,000,000 - 3,100,000 = -1,100,000; no insurance fund; the pool's NAV is
    # 50,000,000 and it reserves at most 1% of it (500,000); ADL takes the rest at the bankruptcy
    # price after that reserve, on the tick in the account's disfavour, so what is left below zero
    # for the pool is the reserve less under a tick per contract (31 sats x 10)
    others = [account("90", 50_000_000), account("2", 100_000_000, position("2", -10, 49_000))]
    case = with_backstops(inputs(thin_long(), mark=40_000, counterparties=others), pool="90", pool_free=50_000_000)
    outcome = liquidate(case)
    assert 500_000 - 310 < outcome.covered_by("backstop_pool") <= 500_000
    assert outcome.covered_by("backstop_pool") + outcome.covered_by("adl") == outcome.shortfall_sats
    assert "backstop_pool" not in {f.stage for f in outcome.fills} and outcome.uncovered_sats == 0
    # and never more than its free collateral
    poor_pool = with_backstops(inputs(thin_long(), mark=40_000, counterparties=others), pool="90", pool_free=120_000)
    assert 120_000 - 310 < liquidate(poor_pool).covered_by("backstop_pool") <= 120_000
    assert replays(case, outcome)

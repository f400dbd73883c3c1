"""Property-based, through the real services on SQLite and PostgreSQL (derandomized): the
liquidation state machine of ``test_liquidation_properties`` with backstop offers and a funded pool
in its population, LPs depositing, requesting and executing withdrawals. Besides that machine's
invariants (the journal balances, custody and the insurance fund reconcile, records replay):

- no offer ever fills beyond its max quantity, and the records' offer fills add up to what each
  offer says it took; every offer fill is at the offer's price;
- no liquidation takes the pool beyond its caps: the notional taken at most
  ``pool.max_takeover_ratio`` x its NAV at the start, the shortfall paid at most
  ``pool.max_loss_ratio`` x that NAV and never more than its free collateral;
- NAV per share never moves with deposits or withdrawals (it may only rise by their rounding), and
  the shares outstanding are exactly the sum of the append-only share movements.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test
from test_liquidation_properties import ACCOUNTS, SYMBOLS, LiquidationMachine, sqlite_template  # noqa: F401

from hashedge.domain.backstop.offers import offer_price
from hashedge.domain.liquidation.record import inputs_from_json
from hashedge.domain.margin import account_margin
from hashedge.errors import Conflict, InsufficientCollateral, InvalidInput
from hashedge.services import accounts, backstop_offers, pool

EXAMPLES = {"sqlite": 6, "postgresql": 2}
STEPS = 40


class BackstopMachine(LiquidationMachine):
    seen: Counter  # what the examples exercised (per liquidation record, counted at every check)

    def __init__(self):
        super().__init__()
        self.keys = 0
        lp, _ = accounts.create_account(self.runtime.uow(), self.clock, "lp")  # funds the pool: 5 BTC
        self.deposit_sats(lp.id, 500_000_000)
        pool.deposit(self.runtime.uow(), self.clock, lp.id, 500_000_000, "seed-pool")

    def key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def nav_per_share(self) -> Fraction | None:
        return pool.overview(self.runtime.uow()).nav_per_share

    @rule(who=st.integers(0, ACCOUNTS - 1), sats=st.sampled_from([10_000, 500_000, 5_000_000]))
    def lp_deposits(self, who, sats):
        before = self.nav_per_share()
        try:
            pool.deposit(self.runtime.uow(), self.clock, self.ids[who], sats, self.key())
            event("pool deposit")
        except (InsufficientCollateral, InvalidInput, Conflict):
            return
        after = self.nav_per_share()
        assert before is None or after >= before
        self.tick()

    @rule(who=st.integers(0, ACCOUNTS - 1), percent=st.sampled_from([10, 50, 100]), now=st.booleans())
    def lp_withdraws(self, who, percent, now):
        shares = pool.lp_shares(self.runtime.uow(), self.ids[who])
        wanted = (shares.shares - shares.queued_shares) * percent // 100
        if wanted <= 0:
            return
        before = self.nav_per_share()
        try:
            if now:  # governance's ragequit path
                pool.execute_withdrawal_now(self.runtime.uow(), self.clock, self.ids[who], wanted, self.key())
                event("pool withdrawal now")
            else:
                pool.request_withdrawal(self.runtime.uow(), self.clock, self.ids[who], wanted, self.key())
                event("pool withdrawal queued")
        except (InvalidInput, Conflict):
            return
        after = self.nav_per_share()
        assert before is None or after is None or after >= before
        self.tick()

    @rule(who=st.integers(0, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS), quantity=st.integers(1, 4),
          bps=st.sampled_from([0, 10, 50, 300]))
    def offer(self, who, symbol, quantity, bps):
        """A backstopper offers to take over both sides of a contract."""
        for side in ("buy", "sell"):
            backstop_offers.post_offer(self.runtime.uow(), self.clock, self.ids[who], instrument=symbol, side=side,
                                       max_quantity=quantity, max_discount_bps=bps)
        self.tick()

    @rule()
    def night(self):
        super().night()
        before = self.nav_per_share()
        if pool.execute_due_withdrawals(self.runtime.uow(), self.clock):
            event("pool withdrawals executed")
            after = self.nav_per_share()
            assert before is None or after is None or after >= before
        pool.record_nav(self.runtime.uow(), self.clock, self.clock.now().date() - timedelta(days=1))

    @invariant()
    def backstops_keep_their_limits(self):
        with self.runtime.uow() as uow:
            offers = {o.id: o for o in uow.backstop_offers.all_active()}
            for account_id in self.ids:
                offers |= {o.id: o for o in uow.backstop_offers.of_account(account_id)}
            records = uow.liquidations.listing(limit=1000)
            total, events = uow.pool.total_shares(), uow.pool.events(limit=10_000)
        assert total == sum(e.shares for e in events if e.kind in ("mint", "burn"))
        taken: dict[int, int] = {}
        for record in records:
            outcome, inputs = record.outcome, inputs_from_json(record.inputs)
            for item in outcome.get("offer_fills", []):
                taken[item["offer_id"]] = taken.get(item["offer_id"], 0) + item["quantity"]
            considered = {o.account_id: o for found in inputs.backstop_offers.values() for o in found}
            if considered:
                self.seen["offers considered"] += 1
            for skipped in outcome.get("skipped_offers", []):
                self.seen[f"offer skipped: {skipped['reason']}"] += 1
            for fill in outcome["fills"]:
                if fill["stage"] == "backstop_offers":
                    event("offer filled")
                    self.seen["offer filled"] += 1
                    candidates = [o for found in inputs.backstop_offers.values() for o in found
                                  if o.account_id == fill["counterparty"] and o.instrument_id == fill["instrument_id"]]
                    prices = {offer_price(o, inputs.marks[o.instrument_id], inputs.specs[o.instrument_id].tick_size)
                              for o in candidates}
                    assert Decimal(fill["price"]) in prices and fill["counterparty"] in considered
            if inputs.pool_account_id is None:
                continue
            nav = account_margin(inputs.counterparties[inputs.pool_account_id], inputs.marks, inputs.params,
                                 specs=inputs.specs).equity_sats
            notional = sum(Fraction(Decimal(f["price"])) * f["quantity"] * Fraction(
                inputs.specs[f["instrument_id"]].multiplier) for f in outcome["fills"] if f["stage"] == "backstop_pool")
            if notional:
                event("pool took over")
                self.seen["pool took over"] += 1
            assert notional <= Fraction(inputs.params.pool_max_takeover_ratio) * nav
            paid = sum(c["amount_sats"] for c in outcome["covers"] if c["stage"] == "backstop_pool")
            if paid:
                event("pool covered a shortfall")
                self.seen["pool covered a shortfall"] += 1
            assert paid <= Fraction(inputs.params.pool_max_loss_ratio) * max(nav, 0)
            assert paid <= inputs.available_sats.get("backstop_pool", 0)
        for offer_id, quantity in taken.items():
            assert offers[offer_id].filled_quantity == quantity <= offers[offer_id].max_quantity


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_backstops_conserve_money_and_keep_their_caps(backend, sqlite_template, postgres_templates,  # noqa: F811
                                                      tmp_path_factory):
    if backend == "postgresql" and postgres_templates is None:
        pytest.skip("no PostgreSQL server: set HASHEDGE_TEST_POSTGRES_URL")

    class Machine(BackstopMachine):
        pass

    Machine.backend, Machine.sqlite_template, Machine.postgres_templates = backend, sqlite_template, postgres_templates
    Machine.folder = tmp_path_factory.mktemp(f"backstop-{backend}")
    Machine.seen = Counter()
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=EXAMPLES[backend], stateful_step_count=STEPS, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    print(dict(Machine.seen))
    if backend == "sqlite":  # the examples reach every backstop (a machine that never did would prove nothing)
        assert Machine.seen["offer filled"] and Machine.seen["pool took over"], Machine.seen

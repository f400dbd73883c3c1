"""Property-based: a hypothesis state machine drives random sequences of deposits, withdrawals,
quotes, trades, mark moves (gaps of up to 25%), liquidation sweeps, platform contributions to the
insurance fund and daily settlements (with the nightly penalty split) through the real services,
on SQLite and PostgreSQL, derandomized. After every step:

- the journal balances, stored balances match it and all of them sum to zero; external custody is
  exactly minus what came in (deposits and contributions) less what went out;
- positions net to zero per instrument;
- the insurance fund reconciles: contributions + its penalty shares - the shortfalls it covered
  (as the liquidation records state them) = its balance; the penalty escrow holds exactly the
  penalties not yet distributed;
- every liquidation record keeps its promises: a penalty never leaves the account below zero, the
  shortfall equals what the stages covered plus what is recorded as uncovered, and it replays;

and after every sweep: no account is left below maintenance margin while a stage could still act
(every account still below it holds no position that could be closed), and an account left with
negative collateral is flat with its loss recorded as uncovered.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import defaultdict
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hashedge.adapters.database import make_engine, upgrade_database
from hashedge.bootstrap import bootstrap
from hashedge.clock import FixedClock
from hashedge.config import load_settings
from hashedge.domain import ledger as journal
from hashedge.domain.instruments import hashprice_monthly
from hashedge.domain.margin import MarginStatus
from hashedge.errors import InsufficientCollateral, InvalidInput
from hashedge.services import accounts, insurance, ledger, liquidation, liquidation_records, settlement, trading
from hashedge.services.margin import margin_of, withdrawal_requirement_sats

START = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
SYMBOLS = ("HP-2026-12", "HP-2027-01")
SPECS = {"HP-2026-12": hashprice_monthly(2026, 12), "HP-2027-01": hashprice_monthly(2027, 1)}
SEED_SATS = (200_000_000, 6_000_000, 3_000_000, 1_500_000, 1_000_000)  # a deep maker and thin traders
ACCOUNTS = len(SEED_SATS)
EXAMPLES = {"sqlite": 12, "postgresql": 4}
STEPS = 40


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("liquidation-properties") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@contextlib.contextmanager
def fresh_database(backend, sqlite_template, postgres_templates, folder):
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (folder / f"example.sqlite{suffix}").unlink(missing_ok=True)
        shutil.copyfile(sqlite_template, folder / "example.sqlite")
        url = f"sqlite:///{folder / 'example.sqlite'}"
    else:
        url = postgres_templates.clone()
    try:
        yield url
    finally:
        if backend != "sqlite":
            postgres_templates.drop(url)


class LiquidationMachine(RuleBasedStateMachine):
    backend: str
    sqlite_template = None
    postgres_templates = None
    folder = None

    def __init__(self):
        super().__init__()
        self._database = fresh_database(self.backend, self.sqlite_template, self.postgres_templates, self.folder)
        url = self._database.__enter__()
        self.clock = FixedClock(START)
        self.runtime = bootstrap(load_settings({"HASHEDGE_DATABASE_URL": url, "HASHEDGE_INSTANCE_DIR": str(self.folder)},
                                               secret_key="property-tests"), clock=self.clock)
        self.marks = {"HP-2026-12": Decimal(50000), "HP-2027-01": Decimal(48000)}
        with self.runtime.uow() as uow:
            for symbol, spec in SPECS.items():
                uow.instruments.add(spec, self.clock.now())
                uow.marks.add(symbol, self.clock.now(), self.marks[symbol], "model", self.marks[symbol])
            uow.commit()
        self.ids = []
        self.flows = defaultdict(int)  # what came in (+) and went out (-) through custody
        for n, sats in enumerate(SEED_SATS):
            account, _ = accounts.create_account(self.runtime.uow(), self.clock, f"trader-{n}")
            self.ids.append(account.id)
            self.deposit_sats(account.id, sats)
        self.contributions = 0
        self.settled = set()

    def teardown(self):
        self.runtime.close()
        self._database.__exit__(None, None, None)

    # --- helpers ------------------------------------------------------------------------------

    def tick(self):
        self.clock.advance(timedelta(seconds=11))

    def deposit_sats(self, account_id: int, sats: int) -> None:
        ledger.deposit(self.runtime.uow(), self.clock, account_id, sats, f"d-{sum(self.flows.values())}-{sats}")
        self.flows[account_id] += sats

    def place(self, who: int, symbol: str, side: str, quantity: int, price: Decimal, style: str = "limit"):
        try:
            return trading.place_order(self.runtime.uow(), self.clock, self.ids[who], instrument=symbol, side=side,
                                       order_type=style, quantity=quantity, price=price)
        except (trading.OrderRejected, InvalidInput) as refused:
            event(f"order refused: {type(refused).__name__}")
            return None

    def price(self, symbol: str, offset_permille: int) -> Decimal:
        return (self.marks[symbol] * (1000 + offset_permille) / 1000).to_integral_value()

    # --- rules --------------------------------------------------------------------------------

    @rule(who=st.integers(1, ACCOUNTS - 1), sats=st.sampled_from([300_000, 1_000_000]))
    def deposit(self, who, sats):
        self.deposit_sats(self.ids[who], sats)
        self.tick()

    @rule(who=st.integers(1, ACCOUNTS - 1))
    def withdraw_what_may_leave(self, who):
        account_id = self.ids[who]
        with self.runtime.uow() as uow:
            collateral = margin_of(uow, account_id).collateral_sats if uow.positions.of_account(account_id) else None
            requirement = withdrawal_requirement_sats(account_id, uow)
            balance = uow.ledger.balances([journal.collateral(str(account_id))]).get(
                journal.collateral(str(account_id)), 0)
        amount = (balance - requirement) // 2
        if amount <= 0:
            return
        try:
            ledger.withdraw(self.runtime.uow(), self.clock, account_id, amount, f"w-{self.clock.now().timestamp()}")
            self.flows[account_id] -= amount
        except InsufficientCollateral:
            assert collateral is not None  # refused only with positions to margin
        self.tick()

    @rule(symbol=st.sampled_from(SYMBOLS), spread=st.integers(2, 25), quantity=st.integers(1, 8))
    def maker_quotes(self, symbol, spread, quantity):
        """The deep account quotes both sides: what liquidation orders can hit."""
        self.place(0, symbol, "buy", quantity, self.price(symbol, -spread))
        self.place(0, symbol, "sell", quantity, self.price(symbol, spread))
        self.tick()

    @rule(maker=st.integers(0, ACCOUNTS - 1), taker=st.integers(1, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS),
          side=st.sampled_from(["buy", "sell"]), quantity=st.integers(1, 6), offset=st.integers(-15, 15))
    def trade(self, maker, taker, symbol, side, quantity, offset):
        """One account rests an order, another (leveraged) takes it."""
        if maker == taker:
            return
        price = self.price(symbol, offset)
        if self.place(maker, symbol, side, quantity, price) is not None:
            placed = self.place(taker, symbol, "sell" if side == "buy" else "buy", quantity, price)
            if placed is not None and placed.fills:
                event("trade")
        self.tick()

    @rule(who=st.integers(1, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(["buy", "sell"]),
          use=st.sampled_from([50, 90, 100]))
    def lever_up(self, who, symbol, side, use):
        """A trader opens a position using ``use``% of its free collateral, against the deep account."""
        with self.runtime.uow() as uow:
            free = margin_of(uow, self.ids[who]).free_collateral_sats
        per_contract = self.marks[symbol] * 31 * Decimal("0.1505")  # initial margin and the taker fee
        quantity = int(free * use // 100 // per_contract)
        if quantity < 1:
            return
        self.place(0, symbol, "sell" if side == "buy" else "buy", quantity, self.marks[symbol])
        placed = self.place(who, symbol, side, quantity, self.marks[symbol])
        if placed is not None and placed.fills:
            event("levered up")
        self.tick()

    @rule(symbol=st.sampled_from(SYMBOLS), permille=st.sampled_from([-250, -120, -60, -25, 25, 60, 120, 250]))
    def move_mark(self, symbol, permille):
        price = self.price(symbol, permille)
        with self.runtime.uow() as uow:
            uow.marks.add(symbol, self.clock.now(), price, "model", price)
            uow.commit()
        self.marks[symbol] = price
        self.tick()

    @rule(symbol=st.sampled_from(SYMBOLS), permille=st.sampled_from([-300, -180, -110, -70, 70, 110, 180, 300]))
    def shock(self, symbol, permille):
        """A gap (a retarget the market did not expect), then the sweep that follows every re-marking."""
        self.move_mark(symbol, permille)
        self.sweep()

    @rule(who=st.integers(1, ACCOUNTS - 1), symbol=st.sampled_from(SYMBOLS), side=st.sampled_from(["buy", "sell"]),
          permille=st.sampled_from([90, 130, 170, 260, 400]), counter=st.integers(1, ACCOUNTS - 1),
          then_night=st.booleans())
    def levered_trader_gapped(self, who, symbol, side, permille, counter, then_night):
        """A trader goes all in against another thin one (its ADL counterparty to be), and the market
        gaps against it by ``permille``; perhaps the day then closes (and its penalties are shared)."""
        if counter != who:
            with self.runtime.uow() as uow:
                free = margin_of(uow, self.ids[counter]).free_collateral_sats
            quantity = max(1, int(free // (self.marks[symbol] * 31 * Decimal("0.1505") * 2)))
            other = "sell" if side == "buy" else "buy"
            if self.place(counter, symbol, other, quantity, self.marks[symbol]) is not None:
                self.place(who, symbol, side, quantity, self.marks[symbol])
        self.lever_up(who, symbol, side, 100)
        self.shock(symbol, -permille if side == "buy" else permille)
        if then_night:
            self.night()

    @rule(sats=st.sampled_from([100_000, 2_000_000]))
    def contribute(self, sats):
        insurance.contribute(self.runtime.uow(), self.clock, sats, f"c-{self.contributions}-{sats}")
        self.contributions += sats
        self.tick()

    @rule()
    def sweep(self):
        report = liquidation.sweep(self.runtime.uow, self.clock)
        for result in report.liquidations:
            outcome = result.outcome
            event("liquidation" + (" with shortfall" if outcome.shortfall_sats else "")
                  + (" and ADL" if outcome.adl_events else "") + (" uncovered" if outcome.uncovered_sats else ""))
        with self.runtime.uow() as uow:
            for account_id in self.ids:
                held = uow.positions.of_account(account_id)
                summary = margin_of(uow, account_id)
                if summary.status is MarginStatus.LIQUIDATABLE:  # no stage can act: nothing left to close
                    assert not held, (account_id, summary, report.as_dict())
                if summary.collateral_sats < 0:
                    assert not held
                    [last] = uow.liquidations.listing(account_id=account_id, limit=1)
                    assert last.uncovered_sats >= -summary.collateral_sats
        self.tick()

    @rule()
    def night(self):
        """Midnight passes: yesterday settles (variation margin, then its penalties are shared out)."""
        self.clock.set(datetime.combine(self.clock.now().date() + timedelta(days=1), time(0, 5), tzinfo=timezone.utc))
        yesterday = self.clock.now().date() - timedelta(days=1)
        if yesterday not in self.settled:
            summary = settlement.run_daily_settlement(self.runtime.uow(), self.clock, yesterday)
            self.settled.add(yesterday)
            if summary.penalties_sats:
                event("penalties distributed")
        self.clock.advance(timedelta(hours=9))

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def money_is_whole(self):
        check = ledger.check_balances(self.runtime.uow())
        assert check.ok, check
        with self.runtime.uow() as uow:
            balances = uow.ledger.balances()
            records = uow.liquidations.listing(limit=1000)
            distributed = [run for day in self.settled if (run := uow.settlement_runs.get(day, "penalties"))]
            extra_days = uow.liquidations.dates_with_penalties(self.clock.now().date())
            distributed += [run for day in extra_days if day not in self.settled
                            and (run := uow.settlement_runs.get(day, "penalties"))]
            fee_runs = uow.settlement_runs.recent(limit=1000, kind="fees")
            for symbol in SYMBOLS:
                assert uow.positions.net_quantity(symbol) == 0
        assert balances[journal.EXTERNAL_CUSTODY] == -(sum(self.flows.values()) + self.contributions)
        fund_shares = sum(run.summary["insurance_fund_sats"] for run in distributed)
        covered = sum(r.insurance_fund_sats for r in records)
        fee_shares = sum(run.summary["insurance_fund_sats"] for run in fee_runs)  # the nightly fee split's
        assert balances[journal.INSURANCE_FUND] == self.contributions + fund_shares + fee_shares - covered
        assert balances[journal.PENALTY_ESCROW] == (sum(r.penalty_sats for r in records)
                                                    - sum(run.summary["total_sats"] for run in distributed))
        for record in records:
            outcome = record.outcome
            assert outcome["shortfall_sats"] == sum(c["amount_sats"] for c in outcome["covers"]) + record.uncovered_sats
            if record.penalty_sats:
                assert outcome["after"]["equity_sats"] >= 0 and outcome["collateral_after_sats"] >= 0

    @invariant()
    def records_replay(self):
        with self.runtime.uow() as uow:
            ids = [r.id for r in uow.liquidations.listing(limit=3)]  # the newest (each is checked once new)
        for liquidation_id in ids:
            assert liquidation_records.replay(self.runtime.uow(), liquidation_id).ok, liquidation_id


@pytest.mark.timeout(900)
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_liquidations_keep_the_books_whole(backend, sqlite_template, postgres_templates, tmp_path_factory):
    if backend == "postgresql" and postgres_templates is None:
        pytest.skip("no PostgreSQL server: set HASHEDGE_TEST_POSTGRES_URL")

    class Machine(LiquidationMachine):
        pass

    Machine.backend, Machine.sqlite_template, Machine.postgres_templates = backend, sqlite_template, postgres_templates
    Machine.folder = tmp_path_factory.mktemp(f"liquidation-{backend}")
    run_state_machine_as_test(Machine, settings=settings(
        max_examples=EXAMPLES[backend], stateful_step_count=STEPS, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))

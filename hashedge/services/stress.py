"""The stress simulation: a seeded population of leveraged accounts through the real services, over
historical index paths, to see what the liquidation parameters do when the chain moves like it did.

Paths (``SCENARIOS``, from the mainnet epoch history in the shared data): each epoch's change of
difficulty D and of the hashprice it implies without fees (``subsidy / D``: it halves at a halving
and jumps when difficulty falls) is replayed on today's marks, one quarter of an epoch's move per
re-mark (``SUBSTEPS``), the segments one after the other:

- the 2020 halving (epochs 310-316: hashprice halves at epoch 313);
- the 2021 mining ban (epochs 338-345: five retargets between -28% and +22%, the -27.9% of
  epoch 342 the largest drop in Bitcoin's history, hashprice up by 39% in one retarget);
- the 2024 halving (epochs 414-420).

Population (``--accounts N``, seeded): one in ten a market maker (5 BTC, quotes both sides of each
contract within 2% of the mark, refreshed each epoch), a quarter hedging miners (short the
hashprice months, 30-60% of their collateral as initial margin), the rest leveraged traders (long
or short any contract, 60-100% of their collateral as initial margin). They trade with one another
at the mark through ``services.trading`` (the makers take what is left over). At the start of each
segment every flat account comes back with fresh collateral (a new cohort). After every re-mark
the liquidation sweep runs (``services.liquidation``); the insurance fund starts with a platform
contribution of 2% of the population's collateral. Backstop liquidity (BACKSTOP.md): one in twenty
accounts (at least one) is a backstopper (2 BTC) that posts, at the start of each segment, an offer
on each contract and side for 5-20 contracts at 50-300 bps from the mark; an LP funds the backstop
pool with 5% of the population's collateral, and after every sweep the pool offers a tenth of what
it holds back to the book at the mark (``services.pool_unwind``, the hourly job's work). The report
gives the pool's NAV per share at the start and the end.

Default protection (``protection/PROTECTION.md``): a protection seller (5 BTC) is enrolled with the
makers, and at the start of each segment every hedging miner buys protection on a trader drawn at
random (half of the miner's collateral as notional, 3 months, novation or cash at random) at the
fair premium of that moment; the segment starts the next day, when the protection is in force.
``credit_events`` counts the contracts the segment's liquidations
triggered, ``protection_cover_sats`` what cash protection paid of their shortfalls.

It writes to the configured database like any user would (accounts ``stress<seed>r<n>-...``,
marks with source ``stress``, orders, trades, liquidation records that ``hashedge liquidations
list/replay`` show) and moves the marks of the contracts it trades: run it on a fresh database or a
demo you do not mind stressing. It never settles a date (the nightly settlement shares out its
penalties later, as any day's).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from decimal import Decimal

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock, FixedClock
from hashedge.domain.instruments import Product, hashprice_monthly
from hashedge.domain.marks import price_band
from hashedge.domain.units import Rounding, round_to_tick
from hashedge.errors import DataUnavailable, HashEdgeError
from hashedge.services import (
    accounts,
    backstop_offers,
    insurance,
    ledger,
    liquidation,
    pool,
    pool_unwind,
    protection,
    trading,
)
from hashedge.services.instruments import list_instruments
from hashedge.services.margin import margin_of, risk_parameters
from pricing.history import EpochHistory

SUBSTEPS = 4  # re-marks per epoch
REFERENCE_HASHPRICE = Decimal(45_000)  # sats/PH/day: the monthly contracts' mark on a fresh database
MAKER_SATS = 500_000_000
BACKSTOPPER_SATS = 200_000_000


@dataclass(frozen=True)
class Scenario:
    name: str
    first: int  # the epoch the path starts from
    last: int


SCENARIOS = (Scenario("2020 halving", 310, 316), Scenario("2021 mining ban", 338, 345),
             Scenario("2024 halving", 414, 420))


@dataclass
class Participant:
    account_id: int
    role: str  # maker | miner | trader | backstopper
    collateral_sats: int
    use: float  # share of collateral taken as initial margin when opening


@dataclass
class StressReport:
    seed: int
    accounts: int
    instruments: list[str]
    parameters: dict
    scenarios: list[dict] = field(default_factory=list)
    insurance_fund_start_sats: int = 0
    insurance_fund_end_sats: int = 0
    pool_nav_per_share_start: str | None = None  # sats per share, 12 places
    pool_nav_per_share_end: str | None = None
    journal_balanced: bool = False
    liquidation_ids: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0

    def totals(self) -> dict:
        keys = ("liquidations", "penalties_sats", "insurance_fund_drawdown_sats", "adl_events", "uncovered_loss_sats",
                "margin_calls", "backstop_fills", "pool_takeovers", "pool_cover_sats", "credit_events",
                "protection_cover_sats", "protection_contracts")
        return {k: sum(s[k] for s in self.scenarios) for k in keys}

    def as_dict(self) -> dict:
        return {"seed": self.seed, "accounts": self.accounts, **self.totals(),
                "journal_balanced": self.journal_balanced, "instruments": self.instruments,
                "insurance_fund_start_sats": self.insurance_fund_start_sats,
                "insurance_fund_end_sats": self.insurance_fund_end_sats,
                "pool_nav_per_share_start": self.pool_nav_per_share_start,
                "pool_nav_per_share_end": self.pool_nav_per_share_end, "scenarios": self.scenarios,
                "parameters": self.parameters, "liquidation_ids": self.liquidation_ids,
                "duration_seconds": round(self.duration_seconds, 1)}


def path_factors(history: EpochHistory, scenario: Scenario) -> list[tuple[int, float, float]]:
    """(epoch, hashprice factor, difficulty factor) of each epoch after the scenario's first."""
    index = {int(e): i for i, e in enumerate(history.epochs)}
    factors = []
    for epoch in range(scenario.first + 1, scenario.last + 1):
        now, before = index[epoch], index[epoch - 1]
        difficulty = float(history.difficulty[now] / history.difficulty[before])
        subsidy = float(history.subsidy_btc[now] / history.subsidy_btc[before])
        factors.append((epoch, subsidy / difficulty, difficulty))
    return factors


class _Simulation:
    def __init__(self, new_uow: Callable[[], UnitOfWork], clock: FixedClock, rng: random.Random,
                 protection_rng: random.Random | None = None):
        self.new_uow, self.clock, self.rng = new_uow, clock, rng
        self.protection_rng = protection_rng or random.Random(0)
        self.specs, self.marks, self.people = {}, {}, []
        self.contracts: list[str] = []

    def tick(self) -> None:
        self.clock.advance(timedelta(seconds=1))

    # --- market --------------------------------------------------------------------------------

    def choose_instruments(self) -> None:
        views = [v for v in list_instruments(self.new_uow(), self.clock) if v.trading_open and v.mark_price]
        months = [v for v in views if v.record.spec.product is Product.HASHPRICE_MONTHLY][:2]
        epochs = [v for v in views if v.record.spec.product is Product.DIFF_EPOCH][:1]
        chosen = months + epochs
        if not months:  # a fresh database: list the next two months at the reference hashprice
            now = self.clock.now()
            with self.new_uow() as uow:
                for offset in (1, 2):
                    year, month = now.year + (now.month - 1 + offset) // 12, (now.month - 1 + offset) % 12 + 1
                    spec = hashprice_monthly(year, month)
                    if uow.instruments.get(spec.symbol) is None:
                        uow.instruments.add(spec, now)
                    uow.marks.add(spec.symbol, now, REFERENCE_HASHPRICE, "stress", REFERENCE_HASHPRICE)
                    self.specs[spec.symbol], self.marks[spec.symbol] = spec, REFERENCE_HASHPRICE
                uow.commit()
            return
        for view in chosen:
            self.specs[view.record.symbol], self.marks[view.record.symbol] = view.record.spec, view.mark_price

    def remark(self, hashprice: float, difficulty: float) -> None:
        with self.new_uow() as uow:
            for symbol, spec in self.specs.items():
                factor = difficulty if spec.product is Product.DIFF_EPOCH else hashprice
                price = round_to_tick(self.marks[symbol] * Decimal(repr(factor)), spec.tick_size, Rounding.DOWN)
                self.marks[symbol] = max(price, spec.tick_size)
                uow.marks.add(symbol, self.clock.now(), self.marks[symbol], "stress", self.marks[symbol])
            uow.commit()
        self.tick()

    def order(self, account_id: int, symbol: str, side: str, quantity: int, price: Decimal, style: str = "limit"):
        try:
            return trading.place_order(self.new_uow(), self.clock, account_id, instrument=symbol, side=side,
                                       order_type=style, quantity=quantity, price=price)
        except HashEdgeError:
            return None
        finally:
            self.tick()

    def cancel_all(self, account_id: int) -> None:
        trading.cancel_all_orders(self.new_uow(), self.clock, account_id)

    # --- population ----------------------------------------------------------------------------

    def enrol(self, prefix: str, size: int) -> None:
        makers, miners, backstoppers = max(2, size // 10), size // 4, max(1, size // 20)
        roles = (["maker"] * makers + ["miner"] * miners + ["backstopper"] * backstoppers
                 + ["trader"] * max(size - makers - miners - backstoppers, 0))
        for n, role in enumerate(roles):
            account, _ = accounts.create_account(self.new_uow(), self.clock, f"{prefix}-{role}-{n}")
            sats = {"maker": MAKER_SATS, "miner": self.rng.randint(30_000_000, 100_000_000),
                    "trader": self.rng.randint(5_000_000, 30_000_000), "backstopper": BACKSTOPPER_SATS}[role]
            use = {"maker": 0.0, "miner": self.rng.uniform(0.3, 0.6), "trader": self.rng.uniform(0.6, 1.0),
                   "backstopper": 0.0}[role]
            self.people.append(Participant(account.id, role, sats, use))
            ledger.deposit(self.new_uow(), self.clock, account.id, sats, f"stress-seed-{prefix}-{n}")
        # the protection seller draws nothing from the population's generator: the population is the
        # same as without protection, and its choices come from their own (``protect``)
        seller, _ = accounts.create_account(self.new_uow(), self.clock, f"{prefix}-protector")
        self.people.append(Participant(seller.id, "protector", MAKER_SATS, 0.0))
        ledger.deposit(self.new_uow(), self.clock, seller.id, MAKER_SATS, f"stress-seed-{prefix}-protector")

    def refill_and_open(self, tag: str) -> None:
        """Flat accounts come back with fresh collateral and open a position at the mark."""
        params = risk_parameters(self.new_uow())
        wanted = []
        for person in (p for p in self.people if p.role in ("miner", "trader")):
            with self.new_uow() as uow:
                if uow.positions.of_account(person.account_id):
                    continue
                summary = margin_of(uow, person.account_id)
            if summary.collateral_sats < person.collateral_sats:
                ledger.deposit(self.new_uow(), self.clock, person.account_id,
                               person.collateral_sats - summary.collateral_sats, f"stress-refill-{tag}-{person.account_id}")
            months = [s for s, spec in self.specs.items() if spec.product is Product.HASHPRICE_MONTHLY]
            symbol = self.rng.choice(months) if person.role == "miner" else self.rng.choice(sorted(self.specs))
            side = "sell" if person.role == "miner" else self.rng.choice(["buy", "sell"])
            spec, mark = self.specs[symbol], self.marks[symbol]
            ratio = params.ratios(spec.product).initial
            per_contract = float(mark * spec.multiplier * ratio) * 1.01
            quantity = int(person.collateral_sats * person.use / per_contract)
            if quantity >= 1:
                wanted.append((person.account_id, symbol, side, quantity))
        self.rng.shuffle(wanted)
        for account_id, symbol, side, quantity in wanted:  # they meet at the mark; the first rests
            self.order(account_id, symbol, side, quantity, self.marks[symbol])
        makers = [p.account_id for p in self.people if p.role == "maker"]
        for symbol in self.specs:  # the makers take what is left on either side, then it is cancelled
            for side in ("buy", "sell"):
                self.order(self.rng.choice(makers), symbol, side, 1_000_000, self.marks[symbol], "ioc")
        for account_id, *_ in wanted:
            self.cancel_all(account_id)

    def post_offers(self) -> None:
        """Each backstopper offers to take over both sides of every contract (BACKSTOP.md §4)."""
        for person in (p for p in self.people if p.role == "backstopper"):
            for symbol in self.specs:
                for side in ("buy", "sell"):
                    backstop_offers.post_offer(self.new_uow(), self.clock, person.account_id, instrument=symbol,
                                               side=side, max_quantity=self.rng.randint(5, 20),
                                               max_discount_bps=self.rng.choice([50, 100, 200, 300]))

    def fund_pool(self, prefix: str) -> None:
        sats = sum(p.collateral_sats for p in self.people if p.role != "protector") // 20
        account, _ = accounts.create_account(self.new_uow(), self.clock, f"{prefix}-lp")
        ledger.deposit(self.new_uow(), self.clock, account.id, sats, f"stress-seed-{prefix}-lp")
        pool.deposit(self.new_uow(), self.clock, account.id, sats, f"stress-pool-{prefix}")

    def protect(self) -> int:
        """Each miner buys protection on a random trader at the fair premium (module docstring)."""
        sellers = [p.account_id for p in self.people if p.role == "protector"]
        traders = [p.account_id for p in self.people if p.role == "trader"]
        booked = 0
        for person in (p for p in self.people if p.role == "miner"):
            if not sellers or not traders:
                break
            reference = self.protection_rng.choice(traders)
            settlement = self.protection_rng.choice(["novation", "cash"])
            try:
                quote = protection.quote_protection(self.new_uow(), self.clock, reference_account_id=reference,
                                                    notional_sats=person.collateral_sats // 2, tenor="3M")
                stored = protection.book_protection(
                    self.new_uow(), self.clock, buyer_id=person.account_id, seller_id=sellers[0],
                    reference_id=reference, notional_sats=person.collateral_sats // 2,
                    premium_bps=quote.fair.premium_bps, tenor="3M", settlement=settlement)
            except HashEdgeError:
                continue
            finally:
                self.tick()
            self.contracts.append(stored.id)
            booked += 1
        self.clock.advance(timedelta(days=1))  # protection is in force from the day after the trade
        return booked

    def credit_events(self) -> int:
        with self.new_uow() as uow:
            return sum(1 for c in self.contracts if uow.protection.get(c).contract.status.value == "triggered")

    def quote(self) -> None:
        params = risk_parameters(self.new_uow())
        for person in (p for p in self.people if p.role == "maker"):
            self.cancel_all(person.account_id)
            for symbol, spec in self.specs.items():
                low, high = price_band(spec, self.marks[symbol], params.liquidation_book_band_ratio)
                spread = Decimal(repr(self.rng.uniform(0.003, 0.02)))
                bid = max(round_to_tick(self.marks[symbol] * (1 - spread), spec.tick_size, Rounding.DOWN), low)
                ask = min(round_to_tick(self.marks[symbol] * (1 + spread), spec.tick_size, Rounding.UP), high)
                size = self.rng.randint(5, 20)
                self.order(person.account_id, symbol, "buy", size, bid)
                self.order(person.account_id, symbol, "sell", size, ask)


def run_stress(new_uow: Callable[[], UnitOfWork], clock: Clock, history: EpochHistory, *, seed: int = 1,
               accounts_count: int = 60, scenarios: tuple[Scenario, ...] = SCENARIOS) -> StressReport:
    """Run the simulation (module docstring) and report what the liquidation engine did."""
    started = time.monotonic()
    rng = random.Random(seed)
    sim = _Simulation(new_uow, FixedClock(clock.now().astimezone(timezone.utc)), rng,
                      random.Random(f"{seed}-protection"))
    sim.choose_instruments()
    if not sim.specs:
        raise DataUnavailable("no contract to trade: list and mark instruments first (`hashedge instruments refresh`)")
    prefix = _free_prefix(new_uow, seed)
    sim.enrol(prefix, accounts_count)
    params = risk_parameters(new_uow())
    seed_fund = sum(p.collateral_sats for p in sim.people if p.role != "protector") // 50
    insurance.contribute(new_uow(), sim.clock, seed_fund, f"{prefix}-fund")
    sim.fund_pool(prefix)
    report = StressReport(seed, accounts_count, sorted(sim.specs), {
        name: str(value) for name, value in params.as_registry().items()
        if name.startswith(("liquidation.", "penalty.", "mark.band", "margin.", "pool."))})
    report.insurance_fund_start_sats = insurance.insurance_fund(new_uow(), page_size=1).balance_sats
    report.pool_nav_per_share_start = _nav_per_share(new_uow)
    for scenario in scenarios:
        sim.refill_and_open(f"{prefix}-{scenario.first}")
        sim.post_offers()
        triggered_before = sim.credit_events()
        totals = {"name": scenario.name, "epochs": [scenario.first, scenario.last], "liquidations": 0,
                  "penalties_sats": 0, "insurance_fund_drawdown_sats": 0, "adl_events": 0, "uncovered_loss_sats": 0,
                  "margin_calls": 0, "backstop_fills": 0, "pool_takeovers": 0, "pool_cover_sats": 0,
                  "protection_contracts": sim.protect(), "credit_events": 0, "protection_cover_sats": 0,
                  "hashprice_change": 1.0, "difficulty_change": 1.0}
        for epoch, hashprice, difficulty in path_factors(history, scenario):
            sim.quote()
            totals["hashprice_change"] *= hashprice
            totals["difficulty_change"] *= difficulty
            for _ in range(SUBSTEPS):
                sim.remark(hashprice ** (1 / SUBSTEPS), difficulty ** (1 / SUBSTEPS))
                swept = liquidation.sweep(new_uow, sim.clock).as_dict()
                report.liquidation_ids += swept["liquidation_ids"]
                for key, source in (("liquidations", "liquidations"), ("penalties_sats", "penalties_sats"),
                                    ("insurance_fund_drawdown_sats", "insurance_fund_sats"),
                                    ("adl_events", "adl_events"), ("uncovered_loss_sats", "uncovered_loss_sats"),
                                    ("margin_calls", "margin_calls"), ("backstop_fills", "backstop_fills"),
                                    ("pool_takeovers", "pool_takeovers"), ("pool_cover_sats", "pool_cover_sats"),
                                    ("protection_cover_sats", "protection_sats")):
                    totals[key] += swept[source]
                pool_unwind.unwind(new_uow, sim.clock)  # as the hourly job would between re-marks
                sim.tick()
        totals["credit_events"] = sim.credit_events() - triggered_before
        totals["hashprice_change"] = round(totals["hashprice_change"] - 1, 4)
        totals["difficulty_change"] = round(totals["difficulty_change"] - 1, 4)
        report.scenarios.append(totals)
    report.insurance_fund_end_sats = insurance.insurance_fund(new_uow(), page_size=1).balance_sats
    report.pool_nav_per_share_end = _nav_per_share(new_uow)
    report.journal_balanced = ledger.check_balances(new_uow()).ok
    report.duration_seconds = time.monotonic() - started
    return report


def _nav_per_share(new_uow: Callable[[], UnitOfWork]) -> str | None:
    value = pool.overview(new_uow()).nav_per_share
    return None if value is None else format(Decimal(value.numerator) / Decimal(value.denominator), ".12f")


def _free_prefix(new_uow: Callable[[], UnitOfWork], seed: int) -> str:
    with new_uow() as uow:
        names = set(uow.accounts.names().values())
    run = 1
    while any(name.startswith(f"stress{seed}r{run}-") for name in names):
        run += 1
    return f"stress{seed}r{run}"

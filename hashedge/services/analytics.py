"""Analytics for the desk: implied difficulty, implied growth and implied leverage of every listed
contract at its mark, and the hedge calculator. Figures come from ``pricing`` (plain floats: these
are analytics, nothing here moves money); sizes from ``domain.hedging``.

Per contract, with D0 the difficulty in force at the tip and c its epoch:

- BME14 / BME14C ``-E<k>``: implied difficulty ``pricing.difficulty_curve.implied_difficulty`` of
  the mark in BTC/TH/day with epoch k's subsidy; growth per epoch from c to k by
  ``pricing.term_structure.DifficultyTermStructure`` bootstrapped on that one quote;
- DIFF ``-E<k>``: the mark is the implied difficulty (in T); growth as above from a DIFF quote;
- HP monthly: the flat difficulty that gives the mark as hashprice with the trailing 2016 blocks'
  mean fees (``pricing.futures.hashprice_sats_per_phd`` is proportional to 1/D), and the growth per
  epoch that reaches it at the month's midpoint (``(D/D0) ** (14 / days) - 1``);
- implied leverage (notional over collateral): for the capped contract the long's and the short's
  from ``pricing.futures.CappedFlooredContract``; for margined futures 1 / initial margin ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain.hedging import hedge_size
from hashedge.domain.instruments import (
    BLOCKS_PER_EPOCH,
    EPOCH_NOMINAL_DAYS,
    SATS_PER_PHD_PER_BTC_PER_THD,
    DIFFICULTY_PER_T,
    EpochWindow,
    MonthWindow,
    Product,
)
from hashedge.domain.margin import initial_margin_sats, notional_sats
from hashedge.domain.orders import Side
from hashedge.domain.parameters import RiskParameters
from hashedge.domain.errors import InvalidValue
from hashedge.errors import DataUnavailable, InvalidInput
from hashedge.services.instruments import InstrumentView, get_instrument, list_instruments
from hashedge.services.margin import risk_parameters
from indices.chain import bits_to_difficulty
from pricing.difficulty_curve import implied_difficulty
from pricing.errors import PricingInputError
from pricing.forward import mean_fees_per_block_sats
from pricing.futures import CappedFlooredContract, epoch_subsidy_btc, hashprice_sats_per_phd
from pricing.term_structure import BmeFuturesQuote, DifficultyTermStructure, DiffFuturesQuote


@dataclass(frozen=True)
class ChainState:
    tip_height: int
    epoch: int
    difficulty: float
    tip_time: datetime
    fees_per_block_sats: float


@dataclass(frozen=True)
class ContractAnalytics:
    view: InstrumentView
    implied_difficulty: float | None
    implied_growth_per_epoch: float | None
    leverage_long: float | None
    leverage_short: float | None
    note: str = ""


@dataclass(frozen=True)
class HedgeQuote:
    instrument: str
    hashrate_phs: Decimal
    side: str
    contracts: int
    mark_price: Decimal
    notional_sats: int
    initial_margin_sats: int
    reason: str


def chain_state(uow: UnitOfWork) -> ChainState:
    """The tip's epoch and difficulty, and the mean fees of the last 2016 blocks (inside an open uow)."""
    tip = uow.blocks.tip_height()
    if tip is None:
        raise DataUnavailable("no blocks stored yet: ingest chain data first")
    height, time, bits = uow.blocks.headers_at([tip])[0]
    blocks = uow.blocks.load_frame(start_height=max(0, tip - BLOCKS_PER_EPOCH + 1))
    fees = mean_fees_per_block_sats(blocks["total_fees_sats"].tolist()) if len(blocks) else 0.0
    return ChainState(tip, tip // BLOCKS_PER_EPOCH, bits_to_difficulty(int(bits)),
                      datetime.fromtimestamp(int(time), tz=timezone.utc), float(fees))


def _epoch_growth(state: ChainState, quote) -> float | None:
    if quote.settlement_epoch <= state.epoch:
        return None
    try:
        return DifficultyTermStructure.from_quotes({state.epoch: state.difficulty}, [quote]).segment_growth[0]
    except PricingInputError:
        return None


def _analytics(view: InstrumentView, state: ChainState, now: datetime, params: RiskParameters) -> ContractAnalytics:
    spec, mark = view.record.spec, view.mark_price
    if mark is None:
        return ContractAnalytics(view, None, None, None, None, "no mark yet")
    price = float(mark)
    if spec.product is Product.BME14_CAPPED:
        contract = CappedFlooredContract(float(spec.floor), float(spec.cap), float(spec.multiplier))
        try:
            leverage = contract.implied_leverage(price)
            long_leverage, short_leverage = leverage.long, leverage.short
        except PricingInputError:  # a mark on the floor or the cap: no collateral on one side
            long_leverage = short_leverage = None
    else:
        long_leverage = short_leverage = float(1 / params.ratios(spec.product).initial)
    implied, growth, note = None, None, ""
    if isinstance(spec.window, EpochWindow):
        epoch = spec.window.last
        if spec.product is Product.DIFF_EPOCH:
            implied = price * DIFFICULTY_PER_T
            growth = _epoch_growth(state, DiffFuturesQuote(epoch, implied))
        else:
            bme = price / SATS_PER_PHD_PER_BTC_PER_THD
            implied = implied_difficulty(bme, epoch_subsidy_btc(epoch))
            growth = _epoch_growth(state, BmeFuturesQuote(epoch, 1, bme))
    elif isinstance(spec.window, MonthWindow):
        middle = spec.window.start + (spec.window.end - spec.window.start) / 2
        days = (middle - now).total_seconds() / 86_400
        epoch = state.epoch + max(0, int(days // EPOCH_NOMINAL_DAYS))
        implied = hashprice_sats_per_phd(epoch, 1.0, state.fees_per_block_sats) / price
        if days >= 1:
            growth = (implied / state.difficulty) ** (EPOCH_NOMINAL_DAYS / days) - 1
        else:
            note = "window under way"
    return ContractAnalytics(view, implied, growth, long_leverage, short_leverage, note)


def contract_analytics(uow: UnitOfWork, clock: Clock) -> tuple[ChainState, list[ContractAnalytics]]:
    views = list_instruments(uow, clock)
    with uow.read_only():
        state = chain_state(uow)
    now = clock.now()
    params = risk_parameters(uow)
    return state, [_analytics(view, state, now, params) for view in views if view.record.status == "listed"]


def hedge(uow: UnitOfWork, clock: Clock, *, hashrate_phs: Decimal | str, instrument: str) -> HedgeQuote:
    """Contracts, notional and initial margin of the hedge of ``hashrate_phs`` with ``instrument``."""
    try:
        hashrate = Decimal(str(hashrate_phs).strip())
    except ArithmeticError:
        raise InvalidInput("hashrate must be a number of PH/s", fields={"hashrate_phs": ["not a number"]}) from None
    with uow.read_only():
        spec = get_instrument(uow, instrument).spec
        marks = uow.marks.latest([spec.symbol])
        state = chain_state(uow) if spec.product is Product.DIFF_EPOCH else None
    if spec.symbol not in marks:
        raise DataUnavailable(f"{spec.symbol} has no mark yet", fields={"instrument": ["no mark yet"]})
    mark = marks[spec.symbol].price
    hashprice = None
    if state is not None:
        value = hashprice_sats_per_phd(spec.window.last, float(mark) * DIFFICULTY_PER_T, state.fees_per_block_sats)
        hashprice = Decimal(repr(value))
    try:
        size = hedge_size(spec, hashrate, mark=mark, hashprice_sats_per_phd=hashprice)
    except InvalidValue as exc:
        raise InvalidInput(f"hashrate {exc.reason}", fields={"hashrate_phs": [exc.reason]}) from None
    signed = size.contracts if size.side is Side.BUY else -size.contracts
    return HedgeQuote(spec.symbol, hashrate, size.side.value, size.contracts, mark,
                      notional_sats(spec, size.contracts, mark) if size.contracts else 0,
                      initial_margin_sats(spec, signed, mark, risk_parameters(uow)) if size.contracts else 0,
                      size.reason)

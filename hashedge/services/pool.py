"""The backstop pool's use cases (hashedge/domain/BACKSTOP.md): deposits for shares, withdrawals
requested and executed after the governed delay (or at once, for governance's ragequit), the
nightly NAV, and what LPs and the public see. One transaction per use case.

The pool is a system participant account (``backstop_pool`` names it; created with the first
deposit): its collateral is the pool's capital and its positions the pool's book, so margin,
variation margin, settlement and the penalty split apply to it unchanged. Its NAV is its equity at
the latest marks. Deposits move collateral from the LP's account to the pool's, withdrawals back;
both lock the LP's and the pool's collateral rows (in key order, one statement) before the NAV is
read, so a liquidation (which locks the pool's row too) cannot move the NAV in between.

Share movements are an append-only record (``pool_share_events``): ``shares_as_of`` and
``total_shares_as_of`` sum them up to an instant (governance's vote snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from hashedge.adapters.repositories.backstop import NavPoint, PoolWithdrawal
from hashedge.adapters.repositories.ledger import collateral_of
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.clock import Clock
from hashedge.domain import ledger
from hashedge.domain.backstop.shares import (
    PoolInsolvent,
    PoolValue,
    ShareMovement,
    executes_at,
    payout_for_shares,
    shares_for_deposit,
)
from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import account_margin
from hashedge.domain.positions import Position
from hashedge.errors import Conflict, IdempotencyKeyReused, InsufficientCollateral, InvalidInput, NotFound
from hashedge.services.accounts import require_account
from hashedge.services.ledger import post, request_key, require_amount
from hashedge.services.margin import account_state, latest_marks, risk_parameters, withdrawal_requirement_sats

POOL_ACCOUNT_NAME = "(backstop pool)"  # not a valid participant name: no one can take it
MAX_SHARES = 2**62


@dataclass(frozen=True)
class PoolMovement:
    """A deposit (shares minted) or an executed withdrawal (shares burnt)."""

    account_id: int
    kind: str  # deposit | withdrawal
    shares: int
    amount_sats: int
    nav_sats: int  # before the movement
    shares_outstanding: int  # before the movement
    occurred_at: datetime
    idempotency_key: str
    replayed: bool = False


@dataclass(frozen=True)
class LpShares:
    account_id: int
    shares: int
    queued_shares: int
    value_sats: int  # the shares at the NAV now, rounded down
    withdrawals: list[PoolWithdrawal]


@dataclass(frozen=True)
class PoolPosition:
    instrument_id: str
    quantity: int
    mark: Decimal
    notional_sats: int  # |quantity| x mark x multiplier, rounded down
    unrealized_pnl_sats: int


@dataclass(frozen=True)
class PoolOverview:
    account_id: int | None
    nav_sats: int
    shares_outstanding: int
    nav_per_share: Fraction | None
    collateral_sats: int
    exposure_sats: int
    positions: list[PoolPosition]
    penalties_earned_sats: int
    shortfalls_covered_sats: int
    deposits_sats: int
    withdrawals_sats: int
    queued_shares: int
    history: list[NavPoint]

    def pnl_by_day(self) -> list[tuple[date, int]]:
        """Each recorded date's PnL: the change in NAV per share since the date before, times the
        shares of the date before, rounded down. NAV per share moves only with PnL, penalties and
        discounts (never with LPs coming and going), so this counts what the pool earned or lost."""
        out = []
        for before, after in zip(self.history, self.history[1:]):
            if before.shares_outstanding == 0:
                continue
            per_share = Fraction(after.nav_sats, max(after.shares_outstanding, 1)) - Fraction(
                before.nav_sats, before.shares_outstanding)
            pnl = per_share * before.shares_outstanding
            out.append((after.business_date, pnl.numerator // pnl.denominator))
        return out


# --- the pool's account ----------------------------------------------------------------------------


def pool_account_id(uow: UnitOfWork) -> int | None:
    return uow.pool.account_id()


def _ensure_pool_account(uow: UnitOfWork, now: datetime) -> int:
    """The pool's account, created by the first deposit. Two first deposits at once queue on the
    ``backstop_pool`` platform balance row (nothing posts to it, so no commit ever locks it: no
    lock-order cycle) and the second finds the account the first created."""
    found = uow.pool.account_id()
    if found is not None:
        return found
    uow.ledger.lock_balances([ledger.BACKSTOP_POOL])
    found = uow.pool.account_id()
    if found is not None:
        return found
    account = uow.accounts.add(POOL_ACCOUNT_NAME, now)
    uow.pool.set_account(account.id, now)
    return account.id


def _value(uow: UnitOfWork, pool_id: int | None) -> PoolValue:
    if pool_id is None:
        return PoolValue(nav_sats=0, shares_outstanding=0)
    return PoolValue(nav_sats=pool_nav_sats(uow, pool_id), shares_outstanding=uow.pool.total_shares())


def pool_nav_sats(uow: UnitOfWork, pool_id: int) -> int:
    """The pool's equity at the latest marks (collateral + unrealized PnL)."""
    state = account_state(uow, pool_id)
    if not state.positions:
        return state.collateral_sats
    symbols = {p.instrument_id for p in state.positions}
    summary = account_margin(state, latest_marks(uow, symbols), risk_parameters(uow),
                             specs=uow.instruments.specs(symbols))
    return summary.equity_sats


def _priced(value: PoolValue) -> PoolValue:
    if value.shares_outstanding and value.nav_sats <= 0:
        error = PoolInsolvent(value.nav_sats, value.shares_outstanding)
        raise Conflict(error.message, fields={"pool": [error.message]})
    return value


def _shares(shares: object) -> int:
    if isinstance(shares, bool) or not isinstance(shares, int):
        raise InvalidInput("shares must be a whole number", fields={"shares": ["not an integer"]})
    if not 1 <= shares <= MAX_SHARES:
        raise InvalidInput(f"shares must be between 1 and {MAX_SHARES}, got {shares}",
                           fields={"shares": [f"must be between 1 and {MAX_SHARES}"]})
    return shares


# --- deposits -------------------------------------------------------------------------------------


def deposit(uow: UnitOfWork, clock: Clock, account_id: int, amount_sats: int, idempotency_key: str) -> PoolMovement:
    """Move ``amount_sats`` of the account's free collateral into the pool for shares at the NAV,
    rounded down (against the depositor). Idempotent by key: a retry answers the first deposit."""
    amount = require_amount(amount_sats)
    key = "pool-deposit:" + request_key(account_id, idempotency_key)
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        pool_id = _ensure_pool_account(uow, now)
        if pool_id == account_id:
            raise InvalidInput("the pool cannot deposit into itself", fields={"account": ["is the pool"]})
        uow.ledger.lock_balances([collateral_of(account_id), collateral_of(pool_id)])
        done = uow.pool.event_by_key(key)
        if done is not None:
            if done.account_id != account_id or done.amount_sats != amount:
                raise IdempotencyKeyReused(idempotency_key)
            return _movement(done, "deposit", idempotency_key, replayed=True)
        value = _priced(_value(uow, pool_id))
        _require_free(uow, account_id, amount)
        shares = _mint(amount, value)
        entry = ledger.transfer(collateral_of(account_id), collateral_of(pool_id), amount, idempotency_key=key,
                                occurred_at=now, kind=ledger.EntryKind.POOL_DEPOSIT,
                                memo=f"backstop pool deposit: {shares} shares")
        post(uow, entry, now)
        event = uow.pool.add_event(account_id=account_id, kind=ShareMovement.MINT.value, shares=shares,
                                   amount_sats=amount, nav_sats=value.nav_sats,
                                   shares_outstanding=value.shares_outstanding, request_key=key, occurred_at=now)
        uow.commit()
    return _movement(event, "deposit", idempotency_key)


def _mint(amount: int, value: PoolValue) -> int:
    try:
        return shares_for_deposit(amount, value)
    except InvalidValue as error:
        raise InvalidInput(error.message, fields={"amount_sats": [error.reason]}) from None


def _require_free(uow: UnitOfWork, account_id: int, amount: int) -> None:
    balance = uow.ledger.balances([collateral_of(account_id)]).get(collateral_of(account_id), 0)
    required = withdrawal_requirement_sats(account_id, uow)
    free = balance - required
    if amount > free:
        message = (f"not enough free collateral: {amount} sats asked, {max(free, 0)} sats free "
                   f"(collateral {balance} sats, initial margin {required} sats)")
        raise InsufficientCollateral(message, amount_sats=amount, balance_sats=balance, initial_margin_sats=required,
                                     free_collateral_sats=max(free, 0), shortfall_sats=amount - max(free, 0))


def _movement(event, kind: str, idempotency_key: str, *, replayed: bool = False) -> PoolMovement:
    return PoolMovement(account_id=event.account_id, kind=kind, shares=abs(event.shares),
                        amount_sats=event.amount_sats, nav_sats=event.nav_sats,
                        shares_outstanding=event.shares_outstanding, occurred_at=event.occurred_at,
                        idempotency_key=idempotency_key, replayed=replayed)


# --- withdrawals ----------------------------------------------------------------------------------


def request_withdrawal(uow: UnitOfWork, clock: Clock, account_id: int, shares: int,
                       idempotency_key: str) -> tuple[PoolWithdrawal, bool]:
    """Queue ``shares`` for withdrawal after the governed delay (``pool.withdrawal_delay_days``);
    they stay the LP's and at risk until then. Idempotent by key; answers (withdrawal, replayed)."""
    shares = _shares(shares)
    request_key(account_id, idempotency_key)  # validates the key
    now, params = clock.now(), risk_parameters(uow)
    with uow:
        require_account(uow, account_id)
        uow.ledger.lock_balances([collateral_of(account_id)])  # one request of this LP at a time
        found = uow.pool.withdrawal_by_key(account_id, idempotency_key)
        if found is not None:
            if found.shares != shares:
                raise IdempotencyKeyReused(idempotency_key)
            return found, True
        withdrawal = _queue(uow, account_id, shares, idempotency_key, now,
                            executes_at(now, int(params.pool_withdrawal_delay_days)))
        uow.commit()
    return withdrawal, False


def _queue(uow: UnitOfWork, account_id: int, shares: int, idempotency_key: str, now: datetime,
           due: datetime) -> PoolWithdrawal:
    owned, queued = uow.pool.shares_of(account_id), uow.pool.queued_shares(account_id)
    if shares > owned - queued:
        raise InvalidInput(f"{shares} shares asked, {owned - queued} shares free to withdraw "
                           f"({owned} owned, {queued} already queued)",
                           fields={"shares": [f"at most {owned - queued}"]})
    withdrawal = uow.pool.add_withdrawal(account_id=account_id, shares=shares, idempotency_key=idempotency_key,
                                         requested_at=now, executes_at=due)
    pool_id = uow.pool.account_id()
    value = _value(uow, pool_id)
    uow.pool.add_event(account_id=account_id, kind=ShareMovement.WITHDRAWAL_REQUESTED.value, shares=shares,
                       amount_sats=0, nav_sats=value.nav_sats, shares_outstanding=value.shares_outstanding,
                       request_key=f"pool-withdrawal:{withdrawal.id}:requested", occurred_at=now,
                       withdrawal_id=withdrawal.id)
    return withdrawal


def _execute(uow: UnitOfWork, withdrawal: PoolWithdrawal, now: datetime) -> PoolMovement | None:
    """Pay a queued withdrawal at the NAV now, rounded down; ``None`` (it stays queued) if the pool's
    free collateral cannot pay it without breaching its own initial margin."""
    pool_id = uow.pool.account_id()
    uow.ledger.lock_balances([collateral_of(withdrawal.account_id), collateral_of(pool_id)])
    value = _priced(_value(uow, pool_id))
    amount = payout_for_shares(withdrawal.shares, value)
    pool_balance = uow.ledger.balances([collateral_of(pool_id)]).get(collateral_of(pool_id), 0)
    if amount > pool_balance - withdrawal_requirement_sats(pool_id, uow):
        return None
    key = f"pool-withdrawal:{withdrawal.id}:executed"
    if amount:
        post(uow, ledger.transfer(collateral_of(pool_id), collateral_of(withdrawal.account_id), amount,
                                  idempotency_key=key, occurred_at=now,
                                  memo=f"backstop pool withdrawal {withdrawal.id}: {withdrawal.shares} shares"), now)
    if not uow.pool.mark_executed(withdrawal.id, now, amount):
        raise Conflict(f"pool withdrawal {withdrawal.id} is no longer queued")
    event = uow.pool.add_event(account_id=withdrawal.account_id, kind=ShareMovement.BURN.value,
                               shares=-withdrawal.shares, amount_sats=amount, nav_sats=value.nav_sats,
                               shares_outstanding=value.shares_outstanding, request_key=key, occurred_at=now,
                               withdrawal_id=withdrawal.id)
    return _movement(event, "withdrawal", withdrawal.idempotency_key)


def execute_due_withdrawals(uow: UnitOfWork, clock: Clock) -> list[PoolMovement]:
    """Execute every queued withdrawal whose delay has passed, oldest first, in one transaction
    (the nightly settlement calls it). One the pool cannot pay yet stays queued."""
    now = clock.now()
    with uow:
        due = uow.pool.due(now)
        if due:  # every LP's row and the pool's in one statement, in key order (the journal's lock order)
            uow.ledger.lock_balances([collateral_of(a) for a in {w.account_id for w in due} | {uow.pool.account_id()}])
        done = [m for w in uow.pool.due(now) if (m := _execute(uow, w, now)) is not None]
        uow.commit()
    return done


def execute_withdrawal_now(uow: UnitOfWork, clock: Clock, account_id: int, shares: int,
                           idempotency_key: str) -> PoolMovement:
    """Withdraw ``shares`` at once at the NAV, without the delay: governance's ragequit (governance
    decides who may). Idempotent by key; ``Conflict`` if the pool cannot pay it now."""
    shares = _shares(shares)
    request_key(account_id, idempotency_key)
    now = clock.now()
    with uow:
        require_account(uow, account_id)
        if uow.pool.account_id() is None:
            raise InvalidInput("the backstop pool has no shares yet", fields={"shares": ["none owned"]})
        uow.ledger.lock_balances([collateral_of(account_id)])
        found = uow.pool.withdrawal_by_key(account_id, idempotency_key)
        if found is not None:
            if found.shares != shares or found.status != "executed":
                raise IdempotencyKeyReused(idempotency_key)
            event = uow.pool.event_by_key(f"pool-withdrawal:{found.id}:executed")
            return _movement(event, "withdrawal", idempotency_key, replayed=True)
        withdrawal = _queue(uow, account_id, shares, idempotency_key, now, now)
        movement = _execute(uow, withdrawal, now)
        if movement is None:
            raise Conflict("the backstop pool cannot pay this withdrawal now without breaching its initial margin",
                           fields={"shares": ["the pool's free collateral is too small"]})
        uow.commit()
    return movement


# --- the nightly NAV, shares as of an instant ---------------------------------------------------


def record_nav(uow: UnitOfWork, clock: Clock, business_date: date) -> NavPoint | None:
    """Record the pool's NAV and share supply for ``business_date`` (once; ``None`` if no pool)."""
    now = clock.now()
    with uow:
        pool_id = uow.pool.account_id()
        if pool_id is None:
            return None
        value = _value(uow, pool_id)
        uow.pool.record_nav(business_date, value.nav_sats, value.shares_outstanding, now)
        uow.commit()
    return NavPoint(business_date, value.nav_sats, value.shares_outstanding)


def shares_as_of(uow: UnitOfWork, at: datetime) -> dict[int, int]:
    """Every LP's pool shares as of ``at`` (inclusive): governance's vote snapshot."""
    with uow.read_only():
        return uow.pool.shares_by_account(at)


def total_shares_as_of(uow: UnitOfWork, at: datetime) -> int:
    with uow.read_only():
        return uow.pool.total_shares(at)


# --- reading ---------------------------------------------------------------------------------------


def lp_shares(uow: UnitOfWork, account_id: int) -> LpShares:
    with uow.read_only():
        require_account(uow, account_id)
        owned = uow.pool.shares_of(account_id)
        queued = uow.pool.queued(account_id)
        value = _value(uow, uow.pool.account_id())
        worth = owned * value.nav_sats // value.shares_outstanding if value.shares_outstanding and owned else 0
        return LpShares(account_id, owned, sum(w.shares for w in queued), max(worth, 0), queued)


def withdrawal_queue(uow: UnitOfWork) -> list[PoolWithdrawal]:
    with uow.read_only():
        return uow.pool.queued()


def overview(uow: UnitOfWork) -> PoolOverview:
    with uow.read_only():
        pool_id = uow.pool.account_id()
        history = uow.pool.nav_history()
        if pool_id is None:
            return PoolOverview(None, 0, 0, None, 0, 0, [], 0, 0, 0, 0, 0, history)
        state = account_state(uow, pool_id)
        symbols = {p.instrument_id for p in state.positions}
        marks = latest_marks(uow, symbols) if symbols else {}
        positions = [_position(p, marks[p.instrument_id]) for p in state.positions]
        value = _value(uow, pool_id)
        account = collateral_of(pool_id)
        received = uow.ledger.totals_by_kind(account)
        totals = uow.pool.totals_by_kind()
        return PoolOverview(
            account_id=pool_id, nav_sats=value.nav_sats, shares_outstanding=value.shares_outstanding,
            nav_per_share=value.nav_per_share, collateral_sats=state.collateral_sats,
            exposure_sats=sum(p.notional_sats for p in positions), positions=positions,
            penalties_earned_sats=received.get(ledger.EntryKind.PENALTY_DISTRIBUTION.value, 0),
            shortfalls_covered_sats=-received.get(ledger.EntryKind.SHORTFALL_COVER.value, 0),
            deposits_sats=totals.get("mint", 0), withdrawals_sats=totals.get("burn", 0),
            queued_shares=sum(w.shares for w in uow.pool.queued()), history=history)


def _position(position: Position, mark: Decimal) -> PoolPosition:
    notional = abs(position.quantity) * Fraction(mark) * Fraction(position.multiplier)
    return PoolPosition(position.instrument_id, position.quantity, mark, notional.numerator // notional.denominator,
                        position.unrealized_pnl_sats(mark))


def require_pool(uow: UnitOfWork) -> int:
    found = uow.pool.account_id()
    if found is None:
        raise NotFound("the backstop pool has no deposits yet", fields={"pool": ["empty"]})
    return found

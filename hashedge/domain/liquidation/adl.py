"""Auto-deleveraging: who is closed against a liquidated position the book did not take, and at what price.

Ranking (BitMEX's, which every large venue follows in some form; longs and shorts apart, per
instrument): every position on the opposite side is a candidate. Its score is

- ``PnL% x effective leverage`` when in profit, ``PnL% / effective leverage`` when not, with
  ``PnL% = unrealized PnL / entry value`` and ``effective leverage = notional at the mark /
  the account's equity`` (cross margin: the account's whole equity backs each position);
- accounts with no equity left (at or below zero) come after every solvent one, ranked by
  ``PnL%`` alone: they are about to be liquidated themselves.

Highest score first (profitable and most leveraged first); ties by account id. Positions covered by
default protection in force (protection/PROTECTION.md) come after every unprotected one, in the same
order among themselves: protection bought against deleveraging is honoured by the queue first. Everything is
exact (fractions of sats), so the order does not depend on float rounding. A position's ADL
*quintile* is 5 for the first fifth of the queue down to 1 for the last fifth (BitMEX shows the
same as five lights): the higher, the sooner it is deleveraged.

Price: ``adl_price``. The liquidated account's **bankruptcy price after the waterfall's cover**:
the mark while its equity, with the cover reserved for it (protection, insurance fund, backstop
pool), is not negative: the position changes hands at what it is worth, and the liquidated
account pays its penalty separately. Past that, the price moves against the counterparty by
exactly the uncovered loss per contract (``prices.bankruptcy_price``), so the most profitable,
most leveraged opposite positions absorb what nobody else could. The price is bounded: never
beyond the counterparty's own entry price, so auto-deleveraging takes unrealized profit and never
turns a counterparty's position into a realized loss (GMX's audit found ADL orders without a
price bound; Hyperliquid's October 2025 ADL cut far more profit than needed). What no
counterparty's profit can absorb stays uncovered and is recorded as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from hashedge.domain.orders import Side
from hashedge.domain.units import Rounding, exact, require_price, require_sats, round_to_tick


@dataclass(frozen=True, kw_only=True)
class AdlCandidate:
    """One opposite position: its account's equity at the marks backs it."""

    account_id: str
    quantity: int  # signed
    open_value: Decimal  # Position.open_value: signed entry value of the open quantity
    multiplier: Decimal
    equity_sats: int
    protected: bool = False  # default protection covers its deleveraging: it goes after the unprotected

    def __post_init__(self) -> None:
        require_sats(self.equity_sats, "equity_sats")
        require_price(self.open_value, "open_value")
        if self.quantity == 0:
            raise ValueError(f"account {self.account_id} has no position to deleverage")

    @property
    def entry_price(self) -> Fraction:
        return Fraction(self.open_value) / self.quantity


def score(candidate: AdlCandidate, mark: Decimal) -> Fraction:
    """PnL% x effective leverage in profit, PnL% / leverage at a loss; PnL% alone without equity.

    With q contracts of entry value V (signed) at mark M, multiplier m and equity E:
    PnL% = (M q - V) / |V| (the multiplier cancels) and leverage = |q| M m / E, so the score is one
    exact fraction of integers (ranking tens of thousands of positions stays fast).
    """
    q, equity = candidate.quantity, candidate.equity_sats
    (mn, md), (vn, vd), (kn, kd) = (Decimal(mark).as_integer_ratio(), Decimal(candidate.open_value).as_integer_ratio(),
                                    Decimal(candidate.multiplier).as_integer_ratio())
    # PnL% = (mn/md q - vn/vd) / (|vn|/vd) = (mn q vd - vn md) / (md |vn|)
    pnl_n, pnl_d = mn * q * vd - vn * md, md * abs(vn)
    if equity <= 0:
        return Fraction(pnl_n, pnl_d)
    lev_n, lev_d = abs(q) * mn * kn, md * kd * equity
    if pnl_n >= 0:
        return Fraction(pnl_n * lev_n, pnl_d * lev_d)
    return Fraction(pnl_n * lev_d, pnl_d * lev_n)


def _account_key(account_id: str) -> tuple[int, str]:
    return (int(account_id), "") if account_id.isdigit() else (0, account_id)


def rank(candidates: Iterable[AdlCandidate], mark: Decimal) -> list[AdlCandidate]:
    """The deleveraging queue, first to go first (module docstring)."""
    return sorted(candidates, key=lambda c: (c.protected, c.equity_sats <= 0, -score(c, mark),
                                             _account_key(c.account_id)))


def quintiles(ranked: Sequence[AdlCandidate]) -> dict[str, int]:
    """5 for the first fifth of the queue, down to 1 for the last fifth."""
    count = len(ranked)
    return {c.account_id: 5 - (5 * index) // count for index, c in enumerate(ranked)}


def adl_price(side: Side, *, mark: Decimal, bankruptcy: Fraction | None, counterparty: AdlCandidate,
              tick_size: Decimal) -> Decimal:
    """The price of one ADL fill (module docstring). ``side`` is the liquidated account's side (SELL
    closes its long, so the counterparty buys back its short); ``bankruptcy`` is ``None`` while the
    liquidated account's covered equity is not negative (then the mark)."""
    if bankruptcy is None:
        return mark
    entry = counterparty.entry_price
    if side is Side.SELL:  # the counterparty buys: the higher, the more it gives up
        ceiling = max(round_to_tick(entry, tick_size, Rounding.DOWN), mark)
        return min(round_to_tick(bankruptcy, tick_size, Rounding.UP), ceiling) if bankruptcy > mark else mark
    floor = min(round_to_tick(entry, tick_size, Rounding.UP), mark)
    price = max(round_to_tick(bankruptcy, tick_size, Rounding.DOWN), floor) if bankruptcy < mark else mark
    return max(price, tick_size)

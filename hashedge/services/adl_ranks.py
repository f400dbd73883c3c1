"""Where each open position stands in its deleveraging queue, published at every liquidation sweep.

Ranking a queue needs every position on that side of the contract with its account's equity: a
whole risk sweep (~3 s at 100,000 positions). The liquidation sweep runs one every minute anyway,
so it publishes the ranks it computed (``publish``, called by ``services.liquidation.sweep``), and
``GET /api/v1/positions`` and the desk's account panel read an account's stored ranks
(``services.positions``) with the time they were ranked. The ranks are the engine's own
(``domain.liquidation.adl.rank`` on the sweep's snapshot, protected positions after every other);
the quintile is 5 for the first fifth of the queue, 1 for the last. Capped contracts are never
deleveraged and have no rank. Between sweeps a position keeps its last rank; one opened since the
last sweep has none yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from hashedge.adapters.repositories.liquidation import AdlRank
from hashedge.adapters.unit_of_work import UnitOfWork
from hashedge.domain.liquidation.adl import AdlCandidate, quintiles
from hashedge.services.risk import RiskSnapshot


def ranked_queues(queues, snapshot: RiskSnapshot | None, instrument: str | None = None
                  ) -> Iterator[tuple[str, str, list[AdlCandidate], dict[str, int]]]:
    """``(symbol, long|short, the queue first to go first, quintile by account)`` for every
    deleveraged contract (or ``instrument``) and side with positions; ``queues`` is the sweep's
    ``services.liquidation.AdlQueues``."""
    if snapshot is None:
        return
    for symbol in sorted(set(snapshot.positions["instrument_id"])):
        if (instrument and symbol != instrument) or snapshot.specs[symbol].is_capped:
            continue
        for longs, side in ((True, "long"), (False, "short")):
            ranked = queues.ranked(symbol, longs)
            if ranked:
                yield symbol, side, ranked, quintiles(ranked)


def publish(new_uow: Callable[[], UnitOfWork], queues, snapshot: RiskSnapshot | None, at: datetime) -> int:
    """Store the sweep's ranks in place of the last ones, all stamped ``at``; returns the rows
    whose rank changed (added, moved or gone)."""
    ranks = [AdlRank(symbol, int(c.account_id), side, place, len(ranked), fifths[c.account_id], at)
             for symbol, side, ranked, fifths in ranked_queues(queues, snapshot)
             for place, c in enumerate(ranked, start=1)]
    with new_uow() as uow:
        written = uow.adl_ranks.replace_all(ranks, at)
        uow.commit()
    return written


def of_account(uow: UnitOfWork, account_id: int) -> dict[str, AdlRank]:
    """The account's published ranks by instrument, inside the caller's unit of work."""
    return uow.adl_ranks.of_account(account_id)

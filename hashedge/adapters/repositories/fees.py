"""What the nightly fee split reads: the fees a business date collected and its makers' notional."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hashedge.adapters.orm.ledger import JournalEntryRow, JournalPostingRow
from hashedge.adapters.orm.trading import InstrumentRow, TradeRow
from hashedge.domain import ledger

DISTRIBUTION_KIND = "fee_distribution"


class FeeRepository:
    def __init__(self, session: Session):
        self.session = session

    def collected(self, start: datetime, end: datetime) -> int:
        """Net fees credited to the ``fees`` account by entries that occurred in [start, end)
        (fees less refunds), the fee distributions themselves left out."""
        total = self.session.scalar(
            select(func.sum(JournalPostingRow.amount_sats))
            .join(JournalEntryRow, JournalPostingRow.entry_id == JournalEntryRow.id)
            .where(JournalPostingRow.account_key == ledger.FEES.key, JournalEntryRow.occurred_at >= start,
                   JournalEntryRow.occurred_at < end, JournalEntryRow.kind != DISTRIBUTION_KIND))
        return int(total or 0)

    def first_fee_at(self) -> datetime | None:
        """When the first fee was credited (None before any)."""
        return self.session.scalar(
            select(func.min(JournalEntryRow.occurred_at))
            .join(JournalPostingRow, JournalPostingRow.entry_id == JournalEntryRow.id)
            .where(JournalPostingRow.account_key == ledger.FEES.key, JournalEntryRow.kind != DISTRIBUTION_KIND))

    def maker_fills(self, start: datetime, end: datetime) -> list[tuple[int, str, str, int, str]]:
        """(maker account, instrument, price text, quantity, multiplier text) of every book fill with a
        maker in [start, end)."""
        query = (select(TradeRow.buyer_account_id, TradeRow.seller_account_id, TradeRow.aggressor,
                        TradeRow.instrument, TradeRow.price, TradeRow.quantity, InstrumentRow.multiplier)
                 .join(InstrumentRow, InstrumentRow.symbol == TradeRow.instrument)
                 .where(TradeRow.aggressor.is_not(None), TradeRow.occurred_at >= start, TradeRow.occurred_at < end)
                 .order_by(TradeRow.occurred_at, TradeRow.id))
        fills = []
        for buyer, seller, aggressor, instrument, price, quantity, multiplier in self.session.execute(query).all():
            fills.append((seller if aggressor == "buy" else buyer, instrument, price, quantity, multiplier))
        return fills

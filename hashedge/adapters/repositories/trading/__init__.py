"""Repositories for trading: domain values in and out (``ContractSpec``, ``Order``, ``Fill``,
``Position``), never ORM rows. Decimals are stored as fixed-point text and read back exactly.

One module per kind of row: ``instruments`` (with marks and settlement runs), ``orders`` (with the
statements it builds once, ``order_statements``), ``trades``, ``positions``; ``records`` holds the
values they hand out and the row conversions they share."""

from hashedge.adapters.repositories.trading.instruments import (
    InstrumentRepository, MarkRepository, SettlementRunRepository,
)
from hashedge.adapters.repositories.trading.orders import OrderRepository
from hashedge.adapters.repositories.trading.positions import PositionRepository
from hashedge.adapters.repositories.trading.records import (
    RESTING_STATUSES, InstrumentRecord, MarkRecord, SettlementRunRecord, StoredAmendment, StoredOrder, TradeRecord,
)
from hashedge.adapters.repositories.trading.trades import TradeRepository

__all__ = [
    "RESTING_STATUSES", "InstrumentRecord", "InstrumentRepository", "MarkRecord", "MarkRepository", "OrderRepository",
    "PositionRepository", "SettlementRunRecord", "SettlementRunRepository", "StoredAmendment", "StoredOrder",
    "TradeRecord", "TradeRepository",
]

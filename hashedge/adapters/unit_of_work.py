"""Unit of work: one database transaction per service call, rolled back unless committed.

``commit`` first lets the ledger finish what it defers to the end of a transaction (platform
balance increments in key order, then the hash-chain links: ``LedgerRepository.complete``), so
the last locks a transaction takes are always taken in the same order.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.repositories.desk import (
    AuditRepository,
    DeskRequestRepository,
    DeskUserRepository,
    LoginAttemptRepository,
    ReversalRepository,
)
from hashedge.adapters.repositories.indices import BlockRepository, EpochRepository, FixingRepository
from hashedge.adapters.repositories.jobs import JobRunRepository
from hashedge.adapters.repositories.ledger import AccountRepository, ApiKeyRepository, LedgerRepository
from hashedge.adapters.repositories.liquidation import LiquidationRepository
from hashedge.adapters.repositories.risk import AccountEventRepository, AccountStatusRepository
from hashedge.adapters.repositories.trading import (
    InstrumentRepository,
    MarkRepository,
    OrderRepository,
    PositionRepository,
    SettlementRunRepository,
    TradeRepository,
)


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls everything back."""

    def __init__(self, session_factory: sessionmaker[Session]):
        self._session_factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self.blocks = BlockRepository(self.session)
        self.epochs = EpochRepository(self.session)
        self.fixings = FixingRepository(self.session)
        self.job_runs = JobRunRepository(self.session)
        self.accounts = AccountRepository(self.session)
        self.api_keys = ApiKeyRepository(self.session)
        self.ledger = LedgerRepository(self.session)
        self.instruments = InstrumentRepository(self.session)
        self.orders = OrderRepository(self.session)
        self.trades = TradeRepository(self.session)
        self.positions = PositionRepository(self.session)
        self.marks = MarkRepository(self.session)
        self.settlement_runs = SettlementRunRepository(self.session)
        self.desk_users = DeskUserRepository(self.session)
        self.login_attempts = LoginAttemptRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.desk_requests = DeskRequestRepository(self.session)
        self.reversals = ReversalRepository(self.session)
        self.account_events = AccountEventRepository(self.session)
        self.account_status = AccountStatusRepository(self.session)
        self.liquidations = LiquidationRepository(self.session)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.ledger.discard()
            self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def commit(self) -> None:
        self.ledger.complete()
        self.session.commit()

    def rollback(self) -> None:
        self.ledger.discard()
        self.session.rollback()

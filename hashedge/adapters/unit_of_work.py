"""Unit of work: one database transaction per service call, rolled back unless committed.

``commit`` first lets the ledger finish what it defers to the end of a transaction (platform
balance increments in key order, then the hash-chain links: ``LedgerRepository.complete``), so
the last locks a transaction takes are always taken in the same order.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime
from typing import Callable, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.database import read_only_options
from hashedge.adapters.write_pipeline import pipeline_of, pipelined
from hashedge.adapters.repositories.backstop import BackstopOfferRepository, PoolRepository
from hashedge.adapters.repositories.desk import (
    AuditRepository,
    DeskRequestRepository,
    DeskUserRepository,
    LoginAttemptRepository,
    ReversalRepository,
)
from hashedge.adapters.repositories.exchange import OrderInboxRepository
from hashedge.adapters.repositories.fees import FeeRepository
from hashedge.adapters.repositories.governance import ParameterRepository, ProposalRepository
from hashedge.adapters.repositories.indices import BlockRepository, EpochRepository, FixingRepository
from hashedge.adapters.repositories.jobs import JobRunRepository
from hashedge.adapters.repositories.ledger import (
    AccountRepository,
    ApiKeyRecord,
    ApiKeyRepository,
    LedgerRepository,
    api_key_by_prefix,
)
from hashedge.adapters.repositories.liquidation import AdlRankRepository, LiquidationRepository
from hashedge.adapters.repositories.protection import ProtectionRepository
from hashedge.adapters.repositories.risk import AccountEventRepository, AccountStatusRepository
from hashedge.adapters.repositories.trading import (
    InstrumentRepository,
    MarkRepository,
    OrderRepository,
    PositionRepository,
    SettlementRunRepository,
    TradeRepository,
)

# PostgreSQL's witness of writes (migration 0019; ``write_marker``)
_WRITES_WITNESS = text("SELECT generation, own_writes FROM writes_witness()")
_WRITES_GENERATION = "SELECT generation FROM writes_witness()"


def writes_generation(connection: Connection) -> int | None:
    """PostgreSQL's generation of writes (migration 0019) on ``connection``: a number that moves
    with every statement that writes to a watched table, read live (not from the transaction's
    snapshot); None while another transaction that wrote is still open. Two equal numbers, each
    read with no writer open, mean nothing was committed between the two reads."""
    return connection.exec_driver_sql(_WRITES_GENERATION).scalar()

T = TypeVar("T")

_ACTIVE: ContextVar["UnitOfWork | None"] = ContextVar("active_unit_of_work", default=None)


def active_unit_of_work() -> "UnitOfWork | None":
    """The unit of work whose ``with`` block this thread is in (the innermost), if any."""
    return _ACTIVE.get()


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls everything back
    (a read-only block that ends without an error commits its empty transaction: ``_end_read``).

    ``with uow.read_only(): ...`` is a read: every read service uses it. It never takes SQLite's
    write lock (a GET does not queue behind writers in other workers), sees one consistent
    snapshot on both backends, and any write inside it is an error
    (``database.read_only_options``).
    """

    def __init__(self, session_factory: sessionmaker[Session]):
        self._session_factory = session_factory
        self.session: Session | None = None
        self._read_only = False
        self._versions: dict = {}  # at -> ParameterVersion read by parameters_in_force
        self._witnessed: int | None = None  # PostgreSQL: the write_marker this transaction read
        self._active_token = None

    def read_only(self) -> "UnitOfWork":
        """This unit of work, its next ``with`` block a read-only transaction."""
        self._read_only = True
        return self

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._witnessed = None
        if self._read_only:  # begin now, with options that only the beginning can set
            try:
                self.session.connection(execution_options=read_only_options(self.session.get_bind().dialect.name))
            except BaseException:
                self.session.close()
                self.session, self._read_only = None, False
                raise
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
        self.adl_ranks = AdlRankRepository(self.session)
        self.pool = PoolRepository(self.session)
        self.backstop_offers = BackstopOfferRepository(self.session)
        self.parameters = ParameterRepository(self.session)
        self.proposals = ProposalRepository(self.session)
        self.fees = FeeRepository(self.session)
        self.protection = ProtectionRepository(self.session)
        self.order_inbox = OrderInboxRepository(self.session)
        self._active_token = _ACTIVE.set(self)
        return self

    def __exit__(self, exc_type, *exc_info) -> None:
        try:
            self.ledger.discard()
            if self._read_only and exc_type is None:
                self._end_read()
            else:
                self.session.rollback()
        finally:
            self.session.close()
            self.session = None
            self._read_only = False
            token, self._active_token = self._active_token, None
            try:
                _ACTIVE.reset(token)
            except ValueError:  # left in another context than it was entered in
                _ACTIVE.set(None)

    @property
    def database(self):
        """The engine every session of this unit of work is bound to: what a per-database memo
        is keyed on (``services.versioned_reads``)."""
        return self._session_factory.kw["bind"]  # database.make_session_factory binds every factory

    def read_detached(self, read: Callable[[Connection], T]) -> T:
        """``read(connection)`` in a read-only transaction of its own on a pooled connection of
        the factory's engine (``read_only_options``: no write lock on SQLite; PostgreSQL keeps
        its prepared statements, as ``_end_read`` explains), with no ORM session: for about a
        third of what a ``with uow.read_only()`` block costs. Outside any ``with`` block of this
        unit of work."""
        if self.session is not None:
            raise RuntimeError("read_detached runs its own transaction: call it outside the with block")
        engine = self.database
        with engine.connect().execution_options(**read_only_options(engine.dialect.name)) as connection:
            result = read(connection)
            connection.commit()
        return result

    def on_connection(self, read: Callable[[Connection], T]) -> T:
        """``read(connection)`` on this unit of work's connection, in its transaction (inside its
        ``with`` block): for statements the repositories share as functions of a connection."""
        return read(self.session.connection())

    def read_api_key(self, prefix: str) -> ApiKeyRecord | None:
        """The API key with ``prefix``, as ``uow.api_keys.by_prefix`` reads it in a read-only
        ``with`` block, for about two thirds of the cost: every authenticated request runs it
        (``read_detached``)."""
        return self.read_detached(lambda connection: api_key_by_prefix(connection, prefix))

    @property
    def marks_before_locks(self) -> bool:
        """Whether ``write_marker`` is read first in a transaction (SQLite, whose writers hold
        the database's lock from their BEGIN) or after the transaction's row locks (PostgreSQL)."""
        return self.session.get_bind().dialect.name == "sqlite"

    def write_marker(self) -> tuple | None:
        """What changes when anything is written to the database, read inside this transaction;
        two equal markers mean nothing was written between them (ORDER_PATH.md, "What a batch
        keeps for the next"). None when no marker can vouch for that now.

        SQLite: the connection, the rows changed through it since it opened (``total_changes()``,
        rolled-back writes included) and its ``data_version`` (which changes when another
        connection commits); read first, before anything of the transaction is written.

        PostgreSQL (migration 0019): the engine and the generation of writes, None while another
        transaction that wrote is still open; read after the transaction's row locks, so what
        they guard cannot change before it ends. This transaction's writes are its own business
        (``commit_marked`` accounts for them)."""
        connection = self.session.connection()
        if connection.dialect.name == "sqlite":
            changes, version = connection.exec_driver_sql(
                "SELECT total_changes(), data_version FROM pragma_data_version()").one()
            return connection.connection.dbapi_connection, int(changes), int(version)
        if connection.dialect.name == "postgresql":
            generation, own = self._writes_witness_later()()
            self._witnessed = None if generation is None else generation - own
            return None if generation is None else (self.session.get_bind(), generation - own)
        return None

    def _writes_witness_later(self):
        """The witness read now, or, in a write pipeline, queued after the writes before it and
        answered when wanted (``adapters.write_pipeline``)."""
        if (pipeline := pipeline_of(self.session)) is not None:
            rows = pipeline.later(_WRITES_WITNESS)
            return lambda: tuple(rows()[0])
        witness = tuple(self.session.connection().exec_driver_sql(_WRITES_WITNESS.text).one())
        return lambda: witness

    def _end_read(self) -> None:
        """End a read-only transaction that went well with COMMIT, which for a transaction that
        wrote nothing is the same as ROLLBACK, except to psycopg: a ROLLBACK makes it forget
        (and deallocate) every statement it prepared on the connection, so on PostgreSQL no read
        would ever reuse a plan; after a COMMIT, a statement a connection has run five times is
        prepared once and then only executed (``prepare_threshold``). Objects the block changed
        in memory (a read service should not) are dropped first, as the rollback dropped them; a
        transaction that failed inside (a refused write the block caught) is rolled back."""
        transaction = self.session.get_transaction()
        if transaction is None or not transaction.is_active:
            self.session.rollback()
            return
        self.session.expunge_all()
        self.session.commit()

    def parameters_in_force(self, at: datetime | None = None):
        """The governed parameters' version in force at ``at`` (the latest when None), read once
        per unit of work; outside its ``with`` block, in a plain read-only unit of work of its own
        (never this one's: a subclass's hooks, such as an audited unit of work's, run once, in its
        own transaction)."""
        if at not in self._versions:
            if self.session is None:
                reader = UnitOfWork(self._session_factory)
                with reader.read_only():
                    self._versions[at] = reader.parameters.in_force(at)
            else:
                self._versions[at] = self.parameters.in_force(at)
        return self._versions[at]

    def forget_parameters(self) -> None:
        """After writing a version: the next read sees it."""
        self._versions.clear()

    def pipelined(self):
        """A block whose writes are queued and sent together on PostgreSQL, up to and with the
        commit (``adapters.write_pipeline``)."""
        return pipelined(self.session)

    def commit(self) -> None:
        self.ledger.complete()
        self.session.commit()

    def commit_marked(self) -> tuple | None:
        """``commit``, returning the ``write_marker`` of the committed state: read after every
        write of the transaction (the ledger's completion and the session's flush included). On
        PostgreSQL only if this transaction read one after its locks and nobody else has written
        since (the generation moved by this transaction's own writes alone): None otherwise."""
        self.ledger.complete()
        self.session.flush()
        if self.session.get_bind().dialect.name != "postgresql":
            marker = self.write_marker()
            self.session.commit()
            return marker
        witness = self._writes_witness_later()  # in a write pipeline, sent with the COMMIT
        self.session.commit()
        generation, own = witness()
        # as the next transaction will read it: every step, this one's own included
        return (None if generation is None or self._witnessed is None or generation - own != self._witnessed
                else (self.session.get_bind(), generation))

    def rollback(self) -> None:
        self.ledger.discard()
        self.session.rollback()

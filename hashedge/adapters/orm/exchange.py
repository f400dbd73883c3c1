"""SQLAlchemy 2 table mapping for the exchange: the durable inbox of order requests
(``versions/0014_order_inbox.py``; ``services/ORDER_PATH.md``, "The engine and its inbox")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hashedge.adapters.orm.base import Base, UTCDateTime

INBOX_STATUSES = ("pending", "done", "abandoned")


class OrderRequestRow(Base):
    """One order request as the API received it: ``pending`` until the engine executes it
    (``done``, with its outcome) or the submitter gives up first (``abandoned``, never executed).
    The id is the processing order."""

    __tablename__ = "order_requests"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    # No foreign key: the engine refuses an unknown account (NotFound) as place_order does.
    account_id: Mapped[int] = mapped_column(Integer)
    instrument: Mapped[str] = mapped_column(String(64))
    request: Mapped[str] = mapped_column(Text)  # JSON: the order's terms as the client sent them
    status: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON (services.order_inbox)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Drawn by a submitter that hands the request to the engine's socket (migration 0016): the
    # engine's claim and the submitter's abandon insert it, and the first one wins.
    token: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (Index("ix_order_requests_status", "status", "id"),
                      Index("ux_order_requests_token", "token", unique=True))

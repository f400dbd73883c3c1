"""Leader lease: at most one scheduler process runs jobs at a time.

A row in ``scheduler_lease`` names the holder and when its claim expires. A process takes the
lease when it is free or stale, and renews it while alive; a crashed leader's lease runs out and a
standby takes over. Works the same on SQLite and PostgreSQL (a conditional UPDATE is atomic).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.orm.jobs import SchedulerLeaseRow

LEASE_NAME = "scheduler"


class SchedulerLease:
    def __init__(self, session_factory: sessionmaker[Session], holder: str, ttl: timedelta):
        self._session_factory = session_factory
        self.holder = holder
        self.ttl = ttl

    def try_acquire(self, now: datetime) -> bool:
        """Take or renew the lease; True while this process is the leader."""
        expires_at = now + self.ttl
        with self._session_factory() as session, session.begin():
            result = session.execute(
                update(SchedulerLeaseRow)
                .where(SchedulerLeaseRow.name == LEASE_NAME)
                .where(or_(SchedulerLeaseRow.holder == self.holder, SchedulerLeaseRow.expires_at < now))
                .values(holder=self.holder, expires_at=expires_at)
            )
            if result.rowcount == 1:
                return True
        try:
            with self._session_factory() as session, session.begin():
                session.execute(
                    insert(SchedulerLeaseRow).values(
                        name=LEASE_NAME, holder=self.holder, expires_at=expires_at
                    )
                )
            return True
        except IntegrityError:  # somebody else holds a fresh lease
            return False

    def release(self) -> None:
        with self._session_factory() as session, session.begin():
            session.execute(
                update(SchedulerLeaseRow)
                .where(SchedulerLeaseRow.name == LEASE_NAME, SchedulerLeaseRow.holder == self.holder)
                .values(expires_at=datetime(1970, 1, 1).astimezone())
            )

    def current_holder(self) -> tuple[str, datetime] | None:
        with self._session_factory() as session:
            row = session.get(SchedulerLeaseRow, LEASE_NAME)
            return (row.holder, row.expires_at) if row else None

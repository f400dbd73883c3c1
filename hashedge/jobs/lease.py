"""Leader lease: at most one scheduler process runs jobs at a time.

A row in ``scheduler_lease`` names the holder and when its claim expires. A process takes the
lease when it is free or stale, and renews it while alive; a crashed leader's lease runs out and a
standby takes over. Works the same on SQLite and PostgreSQL (a conditional UPDATE is atomic).
Every process, leader or not, keeps calling ``try_acquire`` (``scheduler.SchedulerProcess``): a
leader that lost the lease (paused past its expiry) stands by and may lead again later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, or_, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hashedge.adapters.orm.jobs import SCHEDULER_LEASE as LEASE_NAME
from hashedge.adapters.orm.jobs import SchedulerLeaseRow

RELEASED = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the expiry of a released lease

log = logging.getLogger(__name__)


class SchedulerLease:
    def __init__(self, session_factory: sessionmaker[Session], holder: str, ttl: timedelta, *,
                 name: str = LEASE_NAME):
        self._session_factory = session_factory
        self.holder = holder
        self.ttl = ttl
        self.name = name  # the lease row: the scheduler's, or a matching engine's per group (jobs.engine)

    def try_acquire(self, now: datetime) -> bool:
        """Take or renew the lease; True while this process is the leader.

        Never waits long on another process: on PostgreSQL the lease row's lock is waited for at
        most a third of the TTL (then: not acquired, try again later), and a transaction of ours
        left open by a frozen process is ended by the server after the TTL, so a frozen holder's
        row lock cannot keep the standbys out for longer than its lease.
        """
        expires_at = now + self.ttl
        try:
            with self._session_factory() as session, session.begin():
                self._bound_waits(session)
                result = session.execute(
                    update(SchedulerLeaseRow)
                    .where(SchedulerLeaseRow.name == self.name)
                    .where(or_(SchedulerLeaseRow.holder == self.holder, SchedulerLeaseRow.expires_at < now))
                    .values(holder=self.holder, expires_at=expires_at)
                )
                if result.rowcount == 1:
                    return True
            with self._session_factory() as session, session.begin():
                self._bound_waits(session)
                session.execute(
                    insert(SchedulerLeaseRow).values(
                        name=self.name, holder=self.holder, expires_at=expires_at
                    )
                )
            return True
        except IntegrityError:  # somebody else holds a fresh lease
            return False
        except OperationalError as exc:  # the row is locked by another process (or the database is away)
            log.warning("%s lease not renewed: %s", self.name, str(exc.orig).strip().splitlines()[0] if exc.orig else exc)
            return False

    def renew(self, session: Session, now: datetime) -> bool:
        """Extend the lease this process holds, inside the caller's transaction (no insert, no
        wait bound): True if it was still this process's. The caller commits."""
        result = session.execute(
            update(SchedulerLeaseRow)
            .where(SchedulerLeaseRow.name == self.name, SchedulerLeaseRow.holder == self.holder)
            .values(expires_at=now + self.ttl)
        )
        return result.rowcount == 1

    def _bound_waits(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            ttl_ms = max(int(self.ttl.total_seconds() * 1000), 3)
            session.execute(text(f"SET LOCAL lock_timeout = {ttl_ms // 3}"))
            session.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = {ttl_ms}"))

    def held(self, now: datetime) -> bool:
        """Whether this process holds a lease that has not expired (read, not renewed)."""
        current = self.current_holder()
        return current is not None and current[0] == self.holder and current[1] >= now

    def release(self) -> None:
        """Give the lease up now (if this process holds it), so a successor need not wait for it
        to expire."""
        with self._session_factory() as session, session.begin():
            session.execute(
                update(SchedulerLeaseRow)
                .where(SchedulerLeaseRow.name == self.name, SchedulerLeaseRow.holder == self.holder)
                .values(expires_at=RELEASED)
            )

    def current_holder(self) -> tuple[str, datetime] | None:
        with self._session_factory() as session:
            row = session.get(SchedulerLeaseRow, self.name)
            return (row.holder, row.expires_at) if row else None

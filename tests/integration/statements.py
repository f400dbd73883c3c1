"""Counting the SQL statements an action sends (tests that a read's cost does not grow)."""

from __future__ import annotations

from sqlalchemy import event


class Statements:
    """Every SQL statement the engine sends while recording, with its parameters."""

    def __init__(self, engine):
        self.seen: list[tuple[str, object]] = []
        self.recording = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _connection, _cursor, statement, parameters, _context, _many):
        if self.recording:
            self.seen.append((statement, parameters))

    def during(self, action) -> list[tuple[str, object]]:
        self.seen, self.recording = [], True
        try:
            action()
        finally:
            self.recording = False
        return [(sql, params) for sql, params in self.seen if sql.lstrip().upper().startswith("SELECT")]

from datetime import datetime, timezone

import pytest

from hashedge.domain.account_events import AccountEvent, EventKind, Standing, status_changes
from hashedge.domain.errors import InvalidValue
from hashedge.domain.margin import MarginStatus

AT = datetime(2026, 12, 1, tzinfo=timezone.utc)


def standing(equity, initial=1_000, maintenance=700):
    return Standing(equity_sats=equity, initial_margin_sats=initial, maintenance_margin_sats=maintenance)


@pytest.mark.parametrize("equity, status", [(1_000, MarginStatus.HEALTHY), (999, MarginStatus.MARGIN_CALL),
                                            (700, MarginStatus.MARGIN_CALL), (699, MarginStatus.LIQUIDATABLE),
                                            (-5, MarginStatus.LIQUIDATABLE)])
def test_a_standing_has_the_margin_engines_status(equity, status):
    assert standing(equity).status is status


def test_an_event_is_written_on_a_change_of_status_only():
    stored = {"2": MarginStatus.MARGIN_CALL, "3": MarginStatus.MARGIN_CALL, "4": MarginStatus.LIQUIDATABLE}
    current = {"1": standing(900), "2": standing(900), "3": standing(2_000), "4": standing(800), "5": standing(5_000),
               "10": standing(100)}
    events = status_changes(stored, current, AT)
    assert [(e.account_id, e.kind) for e in events] == [
        ("1", EventKind.MARGIN_CALL), ("3", EventKind.HEALTHY), ("4", EventKind.MARGIN_CALL),
        ("10", EventKind.LIQUIDATABLE)]
    assert events[0].standing == standing(900) and events[0].occurred_at == AT
    assert status_changes({a: e.standing.status for a, e in zip("1", events)}, {"1": standing(900)}, AT) == []


def test_an_event_needs_an_aware_time():
    with pytest.raises(InvalidValue):
        AccountEvent(account_id="1", kind="adl", occurred_at=datetime(2026, 12, 1), standing=standing(1))

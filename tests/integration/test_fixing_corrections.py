"""Published fixings never change; when stored data is corrected, verify flags the fixings it
affects and a correction publishes a new version with a reason."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hashedge.errors import Conflict, NotFound
from hashedge.services.fixings import correct_fixing, publish_fixings, verify_fixings


def test_a_correction_is_a_new_version_and_verify_then_passes(populated_runtime):
    runtime = populated_runtime
    assert verify_fixings(runtime.uow()).ok
    with runtime.uow() as uow:
        original = uow.fixings.latest("HASHPRICE", kind="daily", newest_first=True, limit=5)[-1]
    # The stored fees of one block in that fixing's range turn out to be wrong and are repaired.
    with runtime.engine.begin() as connection:
        connection.execute(text("UPDATE blocks SET total_fees_sats = total_fees_sats + 50000000 WHERE height = :h"),
                           {"h": original.end_height - 3})

    report = verify_fixings(runtime.uow())
    flagged = {(m.index, m.kind, m.as_of) for m in report.mismatches}
    assert ("HASHPRICE", "daily", original.as_of) in flagged

    corrected = correct_fixing(runtime.uow(), runtime.clock, index="HASHPRICE", kind="daily",
                               as_of=original.as_of, reason="fees of one block were mis-recorded",
                               confirmations=6)
    assert corrected.version == 2 and corrected.reason == "fees of one block were mis-recorded"
    assert corrected.value > original.value
    with runtime.uow() as uow:
        versions = uow.fixings.versions("HASHPRICE", "daily", original.as_of)
    assert [v.version for v in versions] == [1, 2] and versions[0].value == original.value

    remaining = {(m.index, m.kind, m.as_of) for m in verify_fixings(runtime.uow()).mismatches}
    assert ("HASHPRICE", "daily", original.as_of) not in remaining
    assert remaining == flagged - {("HASHPRICE", "daily", original.as_of)}


def test_correcting_a_fixing_that_matches_the_data_is_refused(populated_runtime):
    runtime = populated_runtime
    with runtime.uow() as uow:
        fixing = uow.fixings.latest("DIFF", kind="daily", newest_first=True, limit=1)[0]
    with pytest.raises(Conflict, match="already matches"):
        correct_fixing(runtime.uow(), runtime.clock, index="DIFF", kind="daily", as_of=fixing.as_of,
                       reason="no reason", confirmations=6)


def test_a_correction_needs_a_reason_and_an_existing_fixing(populated_runtime):
    runtime = populated_runtime
    with runtime.uow() as uow:
        fixing = uow.fixings.latest("DIFF", kind="daily", limit=1)[0]
    with pytest.raises(Conflict, match="reason"):
        correct_fixing(runtime.uow(), runtime.clock, index="DIFF", kind="daily", as_of=fixing.as_of,
                       reason="  ", confirmations=6)
    with pytest.raises(NotFound):
        correct_fixing(runtime.uow(), runtime.clock, index="DIFF", kind="retarget", as_of=fixing.as_of,
                       reason="typo", confirmations=6)


def test_publishing_again_after_a_correction_publishes_nothing(populated_runtime):
    result = publish_fixings(populated_runtime.uow(), populated_runtime.clock, confirmations=6, full_recompute=True)
    assert result.published == 0 and result.already_published > 0

"""Discord-native data in SQLite: mirrors, the sync switch, event-sourced registrations,
feedback (one answer per member per session, changeable) and the per-session figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import Store, native
from bot.store.interest import add_interest, remove_interest

GUILD = 42


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "native.db") as s:
        yield s


async def test_mirrors_round_trip(store: Store) -> None:
    await native.save_mirror(store, GUILD, "s1", 900, "fp1")
    await native.save_mirror(store, GUILD, "s1", 901, "fp2")  # replaced, not duplicated
    assert (await native.mirrors(store, GUILD))["s1"] == native.Mirror("s1", 901, "fp2", "live")
    assert await native.session_of_event(store, GUILD, 901) == "s1"
    assert await native.session_of_event(store, GUILD, 999) is None
    assert await native.event_of_session(store, GUILD, "s1") == 901
    await native.set_mirror_status(store, GUILD, "s1", "cancelled")
    assert await native.event_of_session(store, GUILD, "s1") is None


async def test_pause_and_alert_flags_change_once(store: Store) -> None:
    assert await native.sync_state(store, GUILD) == native.SyncState(None, None, False)
    assert await native.set_paused(store, GUILD, "no permission")
    assert not await native.set_paused(store, GUILD, "no permission")
    await native.set_enabled(store, GUILD, True)  # on lifts the pause
    assert await native.sync_state(store, GUILD) == native.SyncState(True, None, False)
    assert await native.set_cap_alerted(store, GUILD, True)
    assert not await native.set_cap_alerted(store, GUILD, True)


async def test_un_marking_removes_only_an_event_registration(store: Store) -> None:
    assert await add_interest(store, GUILD, "s1", 1)  # by command
    assert not await native.add_event_interest(store, GUILD, "s1", 1)
    assert not await native.remove_event_interest(store, GUILD, "s1", 1)
    assert await native.add_event_interest(store, GUILD, "s1", 2)
    assert await native.event_registrations(store, GUILD, "s1") == {2}
    assert await native.interest_by_source(store, GUILD) == {"s1": {"command": 1, "event": 1}}
    assert await native.remove_event_interest(store, GUILD, "s1", 2)
    assert await remove_interest(store, GUILD, "s1", 1)  # /not-interested removes either
    # Marked on Discord, then /interested: the member's own now, un-marking keeps it.
    assert await native.add_event_interest(store, GUILD, "s2", 3)
    assert not await add_interest(store, GUILD, "s2", 3)
    assert not await native.remove_event_interest(store, GUILD, "s2", 3)


async def test_feedback_is_one_changeable_answer_per_member(store: Store) -> None:
    await native.record_feedback(store, GUILD, "s1", 1, rating=3)
    got = await native.record_feedback(store, GUILD, "s1", 1, rating=4)
    assert got == native.Feedback(4, False)
    got = await native.record_feedback(store, GUILD, "s1", 1, attended=True)
    assert got == native.Feedback(4, True)  # attending keeps the rating
    await native.record_feedback(store, GUILD, "s1", 2, attended=True)
    await native.record_feedback(store, GUILD, "s1", 3, rating=5)
    with pytest.raises(ValueError, match="1 to 5"):
        await native.record_feedback(store, GUILD, "s1", 4, rating=6)
    await add_interest(store, GUILD, "s1", 9)
    figures = (await native.session_figures(store, GUILD))["s1"]
    assert figures == native.SessionFigures(1, 0, 2, 2, 4.5)
    assert figures.registered == 1 and not figures.is_empty

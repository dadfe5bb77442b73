"""Registrations and reminder preferences in SQLite, and the pure reminder core: settings,
which reminders exist, when they start, change keys, and the channel messages' limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.programme import Session
from bot.store import Store, prefs
from bot.store import interest as interest_store
from bot.store.interest import Registration

GUILD = 42
T0 = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "interest.db") as s:
        yield s


def session(session_id: str = "cafe", start: datetime = T0, minutes: int = 45) -> Session:
    return Session(
        id=session_id,
        title=f"Session {session_id}",
        start=start,
        end=start + timedelta(minutes=minutes),
        join_url=f"https://example.org/{session_id}",
    )


# --------------------------------------------------------------------------- store


async def test_registrations_are_idempotent_and_listed(store: Store) -> None:
    assert await interest_store.add_interest(store, GUILD, "cafe", 1)
    assert not await interest_store.add_interest(store, GUILD, "cafe", 1)
    assert await interest_store.add_interests(store, GUILD, ["pdsa", "cafe", "pdsa"], 1) == ["pdsa"]
    await interest_store.add_interest(store, GUILD, "cafe", 2)
    await interest_store.add_interest(store, GUILD + 1, "cafe", 3)  # another server
    assert await interest_store.count_interested(store, GUILD, "cafe") == 2
    assert await interest_store.interest_counts(store, GUILD) == {"cafe": 2, "pdsa": 1}
    assert sorted(await interest_store.sessions_of(store, GUILD, 1)) == ["cafe", "pdsa"]
    assert await interest_store.interested_users(store, GUILD, "cafe") == [1, 2]
    assert await interest_store.remove_interest(store, GUILD, "cafe", 1)
    assert not await interest_store.remove_interest(store, GUILD, "cafe", 1)
    assert not await interest_store.is_interested(store, GUILD, "cafe", 1)


async def test_registrations_carry_the_reminder_setting(store: Store) -> None:
    for user in (1, 2, 3):
        await interest_store.add_interest(store, GUILD, "cafe", user)
    await prefs.set_reminder_setting(store, GUILD, 2, "off")
    await prefs.set_reminder_setting(store, GUILD, 3, "30")
    regs = await interest_store.registrations(store, GUILD, "cafe")
    assert regs == [
        Registration("cafe", 1, "default"),
        Registration("cafe", 2, "off"),
        Registration("cafe", 3, "30"),
    ]
    assert len(await interest_store.registrations(store, GUILD)) == 3


async def test_prefs_upserts_touch_only_their_own_columns(store: Store) -> None:
    assert await prefs.get_prefs(store, GUILD, 1) == prefs.ReminderPrefs(1)
    # The digest feature's columns, set by another feature's upsert, must survive ours.
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, digest_opt_out, share_notice_sent,"
        " updated_at) VALUES (?, 1, 1, 1, '2026-09-01T00:00:00+00:00')",
        (GUILD,),
    )
    await store.db.commit()
    await prefs.set_reminder_setting(store, GUILD, 1, "45")
    await prefs.set_dm_closed(store, GUILD, 1)
    await prefs.set_dm_closed(store, GUILD, 2)
    assert await prefs.get_prefs(store, GUILD, 1) == prefs.ReminderPrefs(1, "45", True)
    rows = await store.db.execute_fetchall(
        "SELECT digest_opt_out, share_notice_sent FROM member_prefs WHERE user_id = 1"
    )
    assert tuple(rows[0]) == (1, 1)
    assert await prefs.dm_closed_users(store, GUILD) == {1, 2}
    assert await prefs.clear_dm_closed(store, GUILD, [2, 3, 2]) == 1
    assert await prefs.clear_dm_closed(store, GUILD, []) == 0
    assert await prefs.dm_closed_users(store, GUILD) == {1}
    # A transaction can start afterwards: nothing was left open.
    async with store.transaction() as db:
        await db.execute("SELECT 1")


# --------------------------------------------------------------------------- settings


# --------------------------------------------------------------------------- planning


# --------------------------------------------------------------------------- render


async def test_dm_recipients_leave_out_members_with_reminders_off(store: Store) -> None:
    other = GUILD + 1
    for user in (11, 12, 13, 14):
        await interest_store.add_interest(store, GUILD, "keynote", user)
    await interest_store.add_interest(store, other, "keynote", 15)
    await prefs.set_reminder_setting(store, GUILD, 12, "off")
    await prefs.set_reminder_setting(store, GUILD, 13, "30")
    await prefs.set_reminder_setting(store, other, 14, "off")  # another server's choice
    assert await interest_store.dm_recipients(store, GUILD, "keynote") == [11, 13, 14]
    assert await interest_store.dm_recipients(store, GUILD, "other-session") == []

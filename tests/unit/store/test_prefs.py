"""Members' reminder preferences: the in-memory copy read on every sign-up answer is dropped by
every write, including a read that raced a write and writes in several statements."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.store import Store, prefs
from bot.store import interest as interest_store

GUILD = 42


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "prefs.db") as s:
        yield s


async def test_each_write_is_seen_by_the_next_read(store: Store) -> None:
    assert await prefs.get_prefs(store, GUILD, 1) == prefs.ReminderPrefs(1)  # now in memory
    await prefs.set_reminder_setting(store, GUILD, 1, "30")
    assert (await prefs.get_prefs(store, GUILD, 1)).reminder_setting == "30"
    await prefs.set_dm_closed(store, GUILD, 1, True)
    assert (await prefs.get_prefs(store, GUILD, 1)).dm_closed
    await prefs.clear_dm_closed(store, GUILD, [1])
    assert not (await prefs.get_prefs(store, GUILD, 1)).dm_closed
    # Another guild's row is its own.
    assert (await prefs.get_prefs(store, GUILD + 1, 1)).reminder_setting == "default"


async def test_a_read_racing_a_write_is_not_kept(store: Store) -> None:
    await prefs.set_reminder_setting(store, GUILD, 1, "30")
    read = asyncio.create_task(prefs.get_prefs(store, GUILD, 1))
    await asyncio.sleep(0)  # the read is queued on SQLite's thread
    await prefs.set_reminder_setting(store, GUILD, 1, "off")
    await read  # whatever it saw, it must not be what later reads get
    assert (await prefs.get_prefs(store, GUILD, 1)).reminder_setting == "off"


async def test_clearing_thousands_in_chunks_leaves_no_stale_copy(store: Store) -> None:
    members = list(range(1, 1201))  # three statements of 500
    for user_id in members:
        await prefs.set_dm_closed(store, GUILD, user_id, True)
    last = members[-1]
    assert (await prefs.get_prefs(store, GUILD, last)).dm_closed

    async def read_meanwhile() -> None:
        for _ in range(20):
            await prefs.get_prefs(store, GUILD, last)
            await asyncio.sleep(0)

    reader = asyncio.create_task(read_meanwhile())
    assert await prefs.clear_dm_closed(store, GUILD, members) == len(members)
    await reader
    assert not (await prefs.get_prefs(store, GUILD, last)).dm_closed
    assert await prefs.dm_closed_users(store, GUILD) == set()


async def test_the_button_toggle_writes_once_and_undoes(store: Store) -> None:
    assert await interest_store.toggle_interest(store, GUILD, "cafe", 7) is True
    assert await interest_store.is_interested(store, GUILD, "cafe", 7)
    assert await interest_store.toggle_interest(store, GUILD, "cafe", 7) is False
    assert not await interest_store.is_interested(store, GUILD, "cafe", 7)
    assert await interest_store.toggle_interest(store, GUILD, "cafe", 7) is True
    assert await interest_store.count_interested(store, GUILD, "cafe") == 1

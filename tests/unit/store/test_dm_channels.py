"""Stored DM channel ids and who was DMed before; share cursors (issue 10)."""

from __future__ import annotations

from pathlib import Path

from bot.store import Store, share_cursors
from bot.store import dm_channels as dm_store


async def test_dm_channels_survive_a_reopen_and_remember_who_was_messaged(tmp_path: Path) -> None:
    path = tmp_path / "dm.db"
    async with Store(path) as store:
        await dm_store.save_channel(store, 1, 101)
        await dm_store.save_channel(store, 2, 102)
        assert await dm_store.mark_messaged(store, [1, 1, 3]) == 1
        assert await dm_store.mark_messaged(store, [1]) == 0  # only the first time
    async with Store(path) as store:
        rows = await dm_store.get_channels(store, [1, 2, 3])
        assert set(rows) == {1, 2}
        assert (rows[1].channel_id, rows[1].messaged) == (101, True)
        assert (rows[2].channel_id, rows[2].messaged) == (102, False)
        await dm_store.forget_channel(store, 1)
        row = await dm_store.get_channel(store, 1)
        assert row is not None and row.channel_id is None and row.messaged
        await dm_store.save_channel(store, 1, 201)  # reopened: still DMed before
        row = await dm_store.get_channel(store, 1)
        assert row is not None and (row.channel_id, row.messaged) == (201, True)
        many = await dm_store.get_channels(store, range(1200))
        assert set(many) == {1, 2}


async def test_share_cursors_only_move_forward(tmp_path: Path) -> None:
    async with Store(tmp_path / "c.db") as store:
        assert await share_cursors.get_cursor(store, 5) is None
        await share_cursors.advance(store, 1, 5, 100)
        await share_cursors.advance(store, 1, 5, 90)
        assert await share_cursors.get_cursor(store, 5) == 100
        await share_cursors.advance(store, 1, 5, 150)
        assert await share_cursors.get_cursor(store, 5) == 150

"""Where the start-up backfill resumes: the newest message seen in each share channel."""

from __future__ import annotations

from bot.clock import to_db
from bot.store import Store


async def get_cursor(store: Store, channel_id: int) -> int | None:
    row = await store.fetch_one(
        "SELECT last_message_id FROM share_cursors WHERE channel_id = ?", (channel_id,)
    )
    return None if row is None else int(row[0])


async def advance(store: Store, guild_id: int, channel_id: int, message_id: int) -> None:
    """Record `message_id` as seen; the cursor only ever moves forward."""
    await store.db.execute(
        "INSERT INTO share_cursors (channel_id, guild_id, last_message_id, updated_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET"
        " last_message_id = MAX(last_message_id, excluded.last_message_id),"
        " updated_at = excluded.updated_at",
        (channel_id, guild_id, message_id, to_db(store.clock())),
    )


__all__ = ["advance", "get_cursor"]

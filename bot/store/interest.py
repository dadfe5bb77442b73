"""Registrations of interest: which members want which sessions (and their reminder setting)."""

from __future__ import annotations

from bot.clock import to_db
from bot.store import Store


async def add_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """Register; False when the member was already registered (idempotent)."""
    cur = await store.db.execute(
        "INSERT OR IGNORE INTO interests (guild_id, session_id, user_id, created_at)"
        " VALUES (?, ?, ?, ?)",
        (guild_id, session_id, user_id, to_db(store.clock())),
    )
    await store.db.commit()
    return cur.rowcount == 1


async def remove_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """Unregister; False when the member was not registered."""
    cur = await store.db.execute(
        "DELETE FROM interests WHERE guild_id = ? AND session_id = ? AND user_id = ?",
        (guild_id, session_id, user_id),
    )
    await store.db.commit()
    return cur.rowcount == 1


async def is_interested(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    async with store.db.execute(
        "SELECT 1 FROM interests WHERE guild_id = ? AND session_id = ? AND user_id = ?",
        (guild_id, session_id, user_id),
    ) as cur:
        return await cur.fetchone() is not None


async def count_interested(store: Store, guild_id: int, session_id: str) -> int:
    async with store.db.execute(
        "SELECT COUNT(*) FROM interests WHERE guild_id = ? AND session_id = ?",
        (guild_id, session_id),
    ) as cur:
        row = await cur.fetchone()
    return int(row[0])


async def interested_users(store: Store, guild_id: int, session_id: str) -> list[int]:
    """Member ids registered for a session, in registration order."""
    async with store.db.execute(
        "SELECT user_id FROM interests WHERE guild_id = ? AND session_id = ?"
        " ORDER BY created_at, user_id",
        (guild_id, session_id),
    ) as cur:
        return [row[0] async for row in cur]


async def sessions_of(store: Store, guild_id: int, user_id: int) -> list[str]:
    """Session ids a member registered for."""
    async with store.db.execute(
        "SELECT session_id FROM interests WHERE guild_id = ? AND user_id = ?",
        (guild_id, user_id),
    ) as cur:
        return [row[0] async for row in cur]

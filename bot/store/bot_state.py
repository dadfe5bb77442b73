"""Small named facts about the bot itself (not about a guild), e.g. the hash of the command
tree it last synced."""

from __future__ import annotations

from bot.clock import to_db
from bot.store import Store


async def get_state(store: Store, name: str) -> str | None:
    row = await store.fetch_one("SELECT value FROM bot_state WHERE name = ?", (name,))
    return None if row is None else str(row[0])


async def set_state(store: Store, name: str, value: str) -> None:
    await store.db.execute(
        "INSERT INTO bot_state (name, value, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (name, value, to_db(store.clock())),
    )


async def clear_state(store: Store, name: str) -> None:
    await store.db.execute("DELETE FROM bot_state WHERE name = ?", (name,))


__all__ = ["clear_state", "get_state", "set_state"]

"""A member's reminder preferences in `member_prefs`: `reminder_setting` and `dm_closed`.

The table is shared with the digest feature (digest_opt_out, share_notice_sent), so every write
here is an upsert that touches only these two columns: a row created by one feature never
resets the other's.

`reminder_setting` is text: ``default`` (the server's leads), ``off`` (no DMs), or a whole number
of minutes ("30"). Parsing and meaning live in `bot.services.interest`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.clock import to_db
from bot.store import Store

DEFAULT_SETTING = "default"
#: SQLite's default limit on host parameters is far above this; chunks keep statements small.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ReminderPrefs:
    """What the reminder feature knows about one member."""

    user_id: int
    reminder_setting: str = DEFAULT_SETTING
    dm_closed: bool = False


async def get_prefs(store: Store, guild_id: int, user_id: int) -> ReminderPrefs:
    """The member's preferences; defaults when they never set anything."""
    async with store.db.execute(
        "SELECT reminder_setting, dm_closed FROM member_prefs WHERE guild_id = ? AND user_id = ?",
        (guild_id, user_id),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return ReminderPrefs(user_id)
    return ReminderPrefs(user_id, row[0], bool(row[1]))


async def set_reminder_setting(store: Store, guild_id: int, user_id: int, setting: str) -> None:
    """Store an already validated setting (``default``, ``off`` or minutes as text)."""
    now = to_db(store.clock())
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, reminder_setting, updated_at)"
        " VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE SET"
        " reminder_setting = excluded.reminder_setting, updated_at = excluded.updated_at",
        (guild_id, user_id, setting, now),
    )


async def set_dm_closed(store: Store, guild_id: int, user_id: int, closed: bool = True) -> None:
    """Record that a DM failed with 50007 (or, with closed=False, that one went through)."""
    now = to_db(store.clock())
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, dm_closed, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE SET"
        " dm_closed = excluded.dm_closed, updated_at = excluded.updated_at",
        (guild_id, user_id, int(closed), now),
    )


async def clear_dm_closed(store: Store, guild_id: int, user_ids: Iterable[int]) -> int:
    """A DM reached these members: forget an earlier 50007. Returns how many rows changed.

    Only rows marked closed are touched, so a fan-out of thousands writes almost nothing.
    """
    ids = list(dict.fromkeys(user_ids))
    changed = 0
    now = to_db(store.clock())
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        cur = await store.db.execute(
            f"UPDATE member_prefs SET dm_closed = 0, updated_at = ?"
            f" WHERE guild_id = ? AND dm_closed = 1 AND user_id IN ({marks})",
            (now, guild_id, *chunk),
        )
        changed += cur.rowcount
    # Always commit: even an UPDATE that matched nothing opened an implicit transaction.
    return changed


async def dm_closed_users(store: Store, guild_id: int) -> set[int]:
    """Members whose last DM failed with 50007."""
    async with store.db.execute(
        "SELECT user_id FROM member_prefs WHERE guild_id = ? AND dm_closed = 1", (guild_id,)
    ) as cur:
        return {row[0] async for row in cur}


__all__ = [
    "DEFAULT_SETTING",
    "ReminderPrefs",
    "clear_dm_closed",
    "dm_closed_users",
    "get_prefs",
    "set_dm_closed",
    "set_reminder_setting",
]

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
from typing import Any

from bot.clock import to_db
from bot.store import Store, in_chunks

DEFAULT_SETTING = "default"


@dataclass(frozen=True, slots=True)
class ReminderPrefs:
    """What the reminder feature knows about one member."""

    user_id: int
    reminder_setting: str = DEFAULT_SETTING
    dm_closed: bool = False


#: `Store.cache` key of the in-memory copy (`_Copy`).
_CACHE = "reminder_prefs"
#: Members kept in memory (10,000 members take about 2 MB); past it the copy starts again.
MAX_CACHED = 50_000


class _Copy:
    """The in-memory copy of `member_prefs`' two reminder columns.

    ``known`` holds rows read (defaults too); a guild in ``complete`` had every non-default
    row loaded (`load_guild_prefs`), so a member absent from ``known`` has the defaults,
    unless written since (``stale``: read from SQLite again). ``writes`` counts writes, so a
    read that raced one is not kept.
    """

    __slots__ = ("complete", "known", "stale", "writes")

    def __init__(self) -> None:
        self.writes = 0
        self.known: dict[tuple[int, int], ReminderPrefs] = {}
        self.complete: set[int] = set()
        self.stale: set[tuple[int, int]] = set()

    def keep(self, guild_id: int, prefs: ReminderPrefs) -> None:
        if len(self.known) >= MAX_CACHED:
            self.known.clear()
            self.complete.clear()
            self.stale.clear()
        key = (guild_id, prefs.user_id)
        self.known[key] = prefs
        self.stale.discard(key)


def _copy(store: Store) -> _Copy:
    """This store's copy (`Store.cache` is emptied when the store closes)."""
    slot = store.cache.setdefault(_CACHE, {})
    if "copy" not in slot:
        slot["copy"] = _Copy()
    return slot["copy"]  # type: ignore[no-any-return]


def _forget(store: Store, guild_id: int, user_ids: Iterable[int]) -> None:
    """Every write of these columns goes through this module and calls this before and after
    it (before, ``user_ids`` may be empty: counting the write is enough): before, so a read
    racing the write is not kept; after, to drop what a read made between two statements of
    the write kept."""
    copy = _copy(store)
    copy.writes += 1
    complete = guild_id in copy.complete
    for user_id in user_ids:
        key = (guild_id, user_id)
        copy.known.pop(key, None)
        if complete:
            copy.stale.add(key)


def _prefs(user_id: int, row: Any) -> ReminderPrefs:
    return ReminderPrefs(user_id) if row is None else ReminderPrefs(user_id, row[0], bool(row[1]))


async def load_guild_prefs(store: Store, guild_id: int) -> int:
    """Load a guild's settings that differ from the defaults into memory (at start), so no
    sign-up answer waits on SQLite for them. Returns how many members have such settings."""
    copy = _copy(store)
    writes = copy.writes
    rows = await store.fetch_all(
        "SELECT user_id, reminder_setting, dm_closed FROM member_prefs WHERE guild_id = ?"
        " AND (reminder_setting != ? OR dm_closed = 1)",
        (guild_id, DEFAULT_SETTING),
    )
    if _copy(store) is not copy:
        return len(rows)  # the store was closed (and its cache emptied) meanwhile
    if copy.writes == writes and len(copy.known) + len(rows) < MAX_CACHED:
        for row in rows:
            copy.keep(guild_id, _prefs(row[0], row[1:]))
        copy.complete.add(guild_id)
    return len(rows)


async def get_prefs(store: Store, guild_id: int, user_id: int) -> ReminderPrefs:
    """The member's preferences; defaults when they never set anything.

    Read on every sign-up answer, so answered from memory (see `_Copy`): only this module
    writes these two columns, and each write drops the member's copy, so the next read sees
    every change.
    """
    copy = _copy(store)
    key = (guild_id, user_id)
    found = copy.known.get(key)
    if found is not None:
        return found
    if guild_id in copy.complete and key not in copy.stale:
        return ReminderPrefs(user_id)
    writes = copy.writes
    row = await store.fetch_one(
        "SELECT reminder_setting, dm_closed FROM member_prefs WHERE guild_id = ? AND user_id = ?",
        (guild_id, user_id),
    )
    prefs = _prefs(user_id, row)
    if _copy(store) is copy and copy.writes == writes:  # same store life, no write meanwhile
        copy.keep(guild_id, prefs)
    return prefs


async def set_reminder_setting(store: Store, guild_id: int, user_id: int, setting: str) -> None:
    """Store an already validated setting (``default``, ``off`` or minutes as text)."""
    _forget(store, guild_id, [user_id])
    now = to_db(store.clock())
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, reminder_setting, updated_at)"
        " VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE SET"
        " reminder_setting = excluded.reminder_setting, updated_at = excluded.updated_at",
        (guild_id, user_id, setting, now),
    )
    _forget(store, guild_id, [user_id])


async def set_dm_closed(store: Store, guild_id: int, user_id: int, closed: bool = True) -> None:
    """Record that a DM failed with 50007 (or, with closed=False, that one went through)."""
    _forget(store, guild_id, [user_id])
    now = to_db(store.clock())
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, dm_closed, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (guild_id, user_id) DO UPDATE SET"
        " dm_closed = excluded.dm_closed, updated_at = excluded.updated_at",
        (guild_id, user_id, int(closed), now),
    )
    _forget(store, guild_id, [user_id])


async def clear_dm_closed(store: Store, guild_id: int, user_ids: Iterable[int]) -> int:
    """A DM reached these members: forget an earlier 50007. Returns how many rows changed.

    Only rows marked closed are touched, so a fan-out of thousands writes almost nothing.
    """
    _forget(store, guild_id, [])
    changed: list[int] = []
    now = to_db(store.clock())
    for chunk, marks in in_chunks(user_ids):
        rows = await store.db.execute_fetchall(
            f"UPDATE member_prefs SET dm_closed = 0, updated_at = ?"
            f" WHERE guild_id = ? AND dm_closed = 1 AND user_id IN ({marks}) RETURNING user_id",
            (now, guild_id, *chunk),
        )
        changed.extend(row[0] for row in rows)
    # Only the rows that changed: a reminder fan-out clears thousands, nearly all already clear,
    # whose copies stay good (a read between two chunks kept at most a changed row's old value).
    _forget(store, guild_id, changed)
    return len(changed)


async def dm_closed_users(store: Store, guild_id: int) -> set[int]:
    """Members whose last DM failed with 50007."""
    rows = await store.fetch_all(
        "SELECT user_id FROM member_prefs WHERE guild_id = ? AND dm_closed = 1", (guild_id,)
    )
    return {row[0] for row in rows}


__all__ = [
    "DEFAULT_SETTING",
    "ReminderPrefs",
    "clear_dm_closed",
    "dm_closed_users",
    "get_prefs",
    "load_guild_prefs",
    "set_dm_closed",
    "set_reminder_setting",
]

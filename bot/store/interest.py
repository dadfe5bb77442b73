"""Registrations of interest: which members want which sessions.

Registrations are never deleted when a session is cancelled or removed from the programme: they
are kept for the record (and the figures), and reminders simply stop because the planner only
looks at active sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.clock import to_db
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Registration:
    """One member's interest in one session, with their reminder setting (from member_prefs)."""

    session_id: str
    user_id: int
    reminder_setting: str = "default"


async def _insert(
    store: Store, guild_id: int, session_id: str, user_id: int, now: str | None = None
) -> bool:
    """One registration row; False when it was already there (nothing is changed then)."""
    inserted = await store.write_row(
        "INSERT OR IGNORE INTO interests (guild_id, session_id, user_id, created_at)"
        " VALUES (?, ?, ?, ?)",
        (guild_id, session_id, user_id, now or to_db(store.clock())),
    )
    return inserted == 1


async def _make_own(store: Store, guild_id: int, session_id: str, user_id: int) -> None:
    """A registration marked on the Discord event before becomes the member's own (issue 12)."""
    await store.db.execute(
        "UPDATE interests SET source = 'command' WHERE guild_id = ? AND session_id = ?"
        " AND user_id = ? AND source = 'event'",
        (guild_id, session_id, user_id),
    )


async def add_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """Register; False when the member was already registered (idempotent).

    A registration made by "Interested" on the Discord event becomes the member's own (source
    'command'), so un-marking the event later keeps it (issue 12)."""
    if await _insert(store, guild_id, session_id, user_id):
        return True
    await _make_own(store, guild_id, session_id, user_id)
    return False


async def add_interests(
    store: Store, guild_id: int, session_ids: Iterable[str], user_id: int
) -> list[str]:
    """Register for several sessions at once (the daily post's select); returns the new ones."""
    added: list[str] = []
    now = to_db(store.clock())
    for session_id in dict.fromkeys(session_ids):
        if await _insert(store, guild_id, session_id, user_id, now):
            added.append(session_id)
        else:
            await _make_own(store, guild_id, session_id, user_id)
    return added


async def toggle_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """The "I'm interested" button: register, or undo a registration that exists. True when the
    member is registered now. One statement in the common case (a new registration), two
    otherwise, and no read first: the INSERT itself says whether the row was there."""
    if await _insert(store, guild_id, session_id, user_id):
        return True
    await remove_interest(store, guild_id, session_id, user_id)
    return False


async def remove_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """Unregister; False when the member was not registered."""
    removed = await store.write_row(
        "DELETE FROM interests WHERE guild_id = ? AND session_id = ? AND user_id = ?",
        (guild_id, session_id, user_id),
    )
    return removed == 1


async def is_interested(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    row = await store.fetch_one(
        "SELECT 1 FROM interests WHERE guild_id = ? AND session_id = ? AND user_id = ?",
        (guild_id, session_id, user_id),
    )
    return row is not None


async def count_interested(store: Store, guild_id: int, session_id: str) -> int:
    row = await store.fetch_one(
        "SELECT COUNT(*) FROM interests WHERE guild_id = ? AND session_id = ?",
        (guild_id, session_id),
    )
    return int(row[0]) if row is not None else 0


async def interest_counts(store: Store, guild_id: int) -> dict[str, int]:
    """Registrations per session id (sessions nobody registered for are absent)."""
    rows = await store.fetch_all(
        "SELECT session_id, COUNT(*) FROM interests WHERE guild_id = ? GROUP BY session_id",
        (guild_id,),
    )
    return {row[0]: int(row[1]) for row in rows}


async def interested_users(store: Store, guild_id: int, session_id: str) -> list[int]:
    """Member ids registered for a session, in registration order."""
    rows = await store.fetch_all(
        "SELECT user_id FROM interests WHERE guild_id = ? AND session_id = ?"
        " ORDER BY created_at, user_id",
        (guild_id, session_id),
    )
    return [row[0] for row in rows]


async def sessions_of(store: Store, guild_id: int, user_id: int) -> list[str]:
    """Session ids a member registered for."""
    rows = await store.fetch_all(
        "SELECT session_id FROM interests WHERE guild_id = ? AND user_id = ?"
        " ORDER BY created_at, session_id",
        (guild_id, user_id),
    )
    return [row[0] for row in rows]


async def registrations(
    store: Store, guild_id: int, session_id: str | None = None
) -> list[Registration]:
    """Every registration of a guild (or one session) with the member's reminder setting.

    One query for the planner, instead of one per session and member.
    """
    sql = (
        "SELECT i.session_id, i.user_id, COALESCE(p.reminder_setting, 'default') AS setting"
        " FROM interests i LEFT JOIN member_prefs p"
        " ON p.guild_id = i.guild_id AND p.user_id = i.user_id"
        " WHERE i.guild_id = ?"
    )
    params: list[object] = [guild_id]
    if session_id is not None:
        sql += " AND i.session_id = ?"
        params.append(session_id)
    sql += " ORDER BY i.created_at, i.user_id"
    rows = await store.fetch_all(sql, params)
    return [Registration(row[0], row[1], row[2]) for row in rows]


async def dm_recipients(store: Store, guild_id: int, session_id: str) -> list[int]:
    """Members registered for a session who accept DMs, in registration order.

    A member who chose `/reminders off` (or `mention`) was promised no DMs, so they are left
    out (as the programme-change notices do); the channel post still reaches them.
    """
    rows = await store.fetch_all(
        "SELECT i.user_id FROM interests i LEFT JOIN member_prefs p"
        " ON p.guild_id = i.guild_id AND p.user_id = i.user_id"
        " WHERE i.guild_id = ? AND i.session_id = ?"
        " AND COALESCE(p.reminder_setting, 'default') NOT IN ('off', 'mention')"
        " ORDER BY i.created_at, i.user_id",
        (guild_id, session_id),
    )
    return [row[0] for row in rows]


__all__ = [
    "Registration",
    "add_interest",
    "add_interests",
    "count_interested",
    "dm_recipients",
    "interest_counts",
    "interested_users",
    "is_interested",
    "registrations",
    "remove_interest",
    "sessions_of",
    "toggle_interest",
]

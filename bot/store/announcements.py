"""Announcements: every one an organiser sends (now or scheduled) is a row, so it survives restarts.

The row is the source of truth for the schedule (`pending` rows are planned) and the record for
`/organiser announcements` and the stats. Status only moves forward from `pending`, to `sent`,
`late`, `missed`, `cancelled` or `failed`; every such move is conditional on the row still being
pending, so a cancel racing a send cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.clock import from_db, to_db
from bot.store import Store

STATUSES = ("pending", "sent", "late", "missed", "cancelled", "failed")
FINAL_STATUSES = frozenset(STATUSES) - {"pending"}

_COLUMNS = (
    "id, guild_id, author_id, channel_id, title, body, ping_role_id, session_id, send_at,"
    " created_at, status, message_id, sent_at"
)


@dataclass(frozen=True, slots=True)
class Announcement:
    id: int
    guild_id: int
    author_id: int
    channel_id: int
    title: str
    body: str
    ping_role_id: int | None
    session_id: str | None
    send_at: datetime
    created_at: datetime
    status: str
    message_id: int | None
    sent_at: datetime | None

    @property
    def label(self) -> str:
        """The title, else the start of the body: how organisers recognise it in lists."""
        return self.title.strip() or " ".join(self.body.split())


def _row(row: aiosqlite.Row) -> Announcement:
    return Announcement(
        id=row["id"],
        guild_id=row["guild_id"],
        author_id=row["author_id"],
        channel_id=row["channel_id"],
        title=row["title"],
        body=row["body"],
        ping_role_id=row["ping_role_id"],
        session_id=row["session_id"],
        send_at=from_db(row["send_at"]),
        created_at=from_db(row["created_at"]),
        status=row["status"],
        message_id=row["message_id"],
        sent_at=from_db(row["sent_at"]) if row["sent_at"] else None,
    )


async def create(
    store: Store,
    *,
    guild_id: int,
    author_id: int,
    channel_id: int,
    body: str,
    send_at: datetime,
    title: str = "",
    ping_role_id: int | None = None,
    session_id: str | None = None,
) -> Announcement:
    """Store a pending announcement; it is sent by whoever delivers it (now, or the schedule)."""
    cur = await store.db.execute(
        "INSERT INTO announcements (guild_id, author_id, channel_id, title, body, ping_role_id,"
        " session_id, send_at, created_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
        (
            guild_id,
            author_id,
            channel_id,
            title,
            body,
            ping_role_id,
            session_id,
            to_db(send_at),
            to_db(store.clock()),
        ),
    )
    assert cur.lastrowid is not None
    created = await get(store, cur.lastrowid)
    assert created is not None
    return created


async def get(
    store: Store, announcement_id: int, *, guild_id: int | None = None
) -> Announcement | None:
    """One announcement; with `guild_id`, only if it belongs to that guild."""
    sql = f"SELECT {_COLUMNS} FROM announcements WHERE id = ?"
    params: list[object] = [announcement_id]
    if guild_id is not None:
        sql += " AND guild_id = ?"
        params.append(guild_id)
    row = await store.fetch_one(sql, params)
    return _row(row) if row is not None else None


async def pending(store: Store, guild_id: int) -> list[Announcement]:
    """Announcements still to go out, soonest first."""
    rows = await store.fetch_all(
        f"SELECT {_COLUMNS} FROM announcements WHERE guild_id = ? AND status = 'pending'"
        " ORDER BY send_at, id",
        (guild_id,),
    )
    return [_row(row) for row in rows]


async def recent(store: Store, guild_id: int, limit: int = 15) -> list[Announcement]:
    """The latest announcements no longer pending, newest first."""
    rows = await store.fetch_all(
        f"SELECT {_COLUMNS} FROM announcements WHERE guild_id = ? AND status != 'pending'"
        " ORDER BY COALESCE(sent_at, send_at) DESC, id DESC LIMIT ?",
        (guild_id, limit),
    )
    return [_row(row) for row in rows]


async def set_message(store: Store, announcement_id: int, message_id: int | None) -> None:
    """Remember the channel message as soon as it is posted (before the DMs go out)."""
    await store.db.execute(
        "UPDATE announcements SET message_id = ? WHERE id = ?", (message_id, announcement_id)
    )


async def finish(
    store: Store,
    announcement_id: int,
    status: str,
    *,
    message_id: int | None = None,
    sent_at: datetime | None = None,
) -> bool:
    """Move a pending announcement to a final status; False when it was no longer pending."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"{status!r} is not a final status")
    cur = await store.db.execute(
        "UPDATE announcements SET status = ?, message_id = COALESCE(?, message_id), sent_at = ?"
        " WHERE id = ? AND status = 'pending'",
        (status, message_id, to_db(sent_at) if sent_at else None, announcement_id),
    )
    return cur.rowcount == 1


async def cancel(store: Store, guild_id: int, announcement_id: int) -> bool:
    """Cancel a pending announcement of this guild; False when there is none to cancel."""
    cur = await store.db.execute(
        "UPDATE announcements SET status = 'cancelled' WHERE id = ? AND guild_id = ?"
        " AND status = 'pending'",
        (announcement_id, guild_id),
    )
    return cur.rowcount == 1


async def count_by_status(store: Store, guild_id: int) -> dict[str, int]:
    rows = await store.fetch_all(
        "SELECT status, COUNT(*) FROM announcements WHERE guild_id = ? GROUP BY status",
        (guild_id,),
    )
    return {status: count for status, count in rows}


__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "Announcement",
    "cancel",
    "count_by_status",
    "create",
    "finish",
    "get",
    "pending",
    "recent",
    "set_message",
]

"""The impact report's queries: read-only, over the other features' tables.

Returns the raw rows `bot.report.model.build_report` turns into figures. Shares of members who
opted out of the digest are excluded here too (opting out erases them; this guards a share that
races the erase), so an opted-out member's words can never reach a report.
"""

from __future__ import annotations

from bot.clock import from_db
from bot.report.model import Registration, SessionInfo, ShareInfo
from bot.store import Store

#: Ledger kinds that are reminders: the channel reminder and the reminder DM.
REMINDER_KINDS = ("reminder", "dm")
#: Announcement statuses that mean it was posted (on time or late).
POSTED = ("sent", "late")


async def sessions(store: Store, guild_id: int) -> list[SessionInfo]:
    """Every stored session of the guild, cancelled ones flagged (they keep their registrations)."""
    rows = await store.fetch_all(
        "SELECT session_id, title, host, start_utc, join_url, cancelled FROM sessions"
        " WHERE guild_id = ? ORDER BY start_utc, title",
        (guild_id,),
    )
    return [
        SessionInfo(
            id=row["session_id"],
            title=row["title"],
            host=row["host"],
            start=from_db(row["start_utc"]),
            join_url=row["join_url"],
            cancelled=bool(row["cancelled"]),
        )
        for row in rows
    ]


async def registrations(store: Store, guild_id: int) -> list[Registration]:
    """Every registration of interest, oldest first (the registrations run chart)."""
    # Paged along the primary key (each page an index range, no sort), then put in time order.
    rows = await store.fetch_paged(
        "SELECT session_id, user_id, created_at FROM interests WHERE guild_id = ?",
        (guild_id,),
        ("session_id", "user_id"),
    )
    rows.sort(key=lambda row: (row["created_at"], row["session_id"], row["user_id"]))
    return [
        Registration(row["session_id"], row["user_id"], from_db(row["created_at"])) for row in rows
    ]


async def shares(store: Store, guild_id: int) -> list[ShareInfo]:
    """Stored shares, oldest first, never an opted-out member's."""
    rows = await store.fetch_paged(
        "SELECT s.message_id, s.channel_id, s.author_id, s.author_name, s.content, s.jump_url,"
        " s.reaction_count, s.created_at FROM shares AS s WHERE s.guild_id = ?"
        " AND NOT EXISTS (SELECT 1 FROM member_prefs AS p WHERE p.guild_id = s.guild_id"
        " AND p.user_id = s.author_id AND p.digest_opt_out = 1)",
        (guild_id,),
        ("s.created_at", "s.message_id"),
    )
    return [
        ShareInfo(
            author_id=row["author_id"],
            author_name=row["author_name"],
            content=row["content"],
            jump_url=row["jump_url"],
            reactions=row["reaction_count"],
            created_at=from_db(row["created_at"]),
            message_id=row["message_id"],
            channel_id=row["channel_id"],
        )
        for row in rows
    ]


async def reminders_delivered(store: Store, guild_id: int) -> int:
    """Channel reminders and reminder DMs the ledger records as sent."""
    marks = ", ".join("?" for _ in REMINDER_KINDS)
    row = await store.fetch_one(
        f"SELECT COUNT(*) FROM deliveries WHERE guild_id = ? AND status = 'sent'"
        f" AND kind IN ({marks})",
        (guild_id, *REMINDER_KINDS),
    )
    return int(row[0])


async def announcements_sent(store: Store, guild_id: int) -> int:
    """Announcements posted, on time or late."""
    marks = ", ".join("?" for _ in POSTED)
    row = await store.fetch_one(
        f"SELECT COUNT(*) FROM announcements WHERE guild_id = ? AND status IN ({marks})",
        (guild_id, *POSTED),
    )
    return int(row[0])


__all__ = [
    "REMINDER_KINDS",
    "announcements_sent",
    "registrations",
    "reminders_delivered",
    "sessions",
    "shares",
]

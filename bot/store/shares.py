"""Collected #QIWeek shares and the digest's member preferences (opt-out, one-off notice).

Every write is a single statement, keyed by the message id, so repeated or out-of-order gateway
events converge on one row instead of duplicating a share. The opt-out is checked inside the
insert itself, so a share racing an opt-out can never be stored after the erase.

`member_prefs` is shared with the reminders feature: we only ever set `digest_opt_out` and
`share_notice_sent` (INSERT ... ON CONFLICT DO UPDATE SET <our column>).

Each share keeps its message's edit time (`edited_at`): an update carrying an older edit time is
ignored inside the upsert itself, so out-of-order edit events never bring back older text.
`share_removals` records a "Remove from digest" (ids and a time only): no later edit, reaction
or repeated event collects that message again; only :func:`restore_share` (an explicit "Add to
QI Week digest" by its author or an organiser) brings it back, clearing the removal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum

import aiosqlite

from bot.clock import from_db, to_db
from bot.digest import Share
from bot.store import Store

_COLUMNS = (
    "message_id, guild_id, channel_id, author_id, author_name, content, jump_url,"
    " attachment_count, image_url, created_at, reaction_count"
)
_OPTED_OUT = "SELECT 1 FROM member_prefs WHERE guild_id = ? AND user_id = ? AND digest_opt_out = 1"
_REMOVED = "SELECT 1 FROM share_removals WHERE message_id = ?"
# An update applies only when its edit time is not older than the stored one.
_NOT_OLDER = "(shares.edited_at IS NULL OR {new} >= shares.edited_at)"


def edit_time_to_db(moment: datetime) -> str:
    """An edit time as fixed-width microsecond UTC text, so stored values compare in order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored: attach a timezone first")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _row_to_share(row: aiosqlite.Row) -> Share:
    return Share(
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        message_id=row["message_id"],
        author_id=row["author_id"],
        author_name=row["author_name"],
        content=row["content"],
        jump_url=row["jump_url"],
        attachment_count=row["attachment_count"],
        image_url=row["image_url"],
        created_at=from_db(row["created_at"]),
        reaction_count=row["reaction_count"],
    )


def _on_conflict(refresh_reactions: bool) -> str:
    """What an upsert does to a stored share (the lone and the batched one alike): the new text,
    the first-seen time kept, the manual flag never cleared, an older edit ignored."""
    reactions = ", reaction_count = excluded.reaction_count" if refresh_reactions else ""
    return (
        " ON CONFLICT(message_id) DO UPDATE SET"
        " author_name = excluded.author_name, content = excluded.content,"
        " jump_url = excluded.jump_url, attachment_count = excluded.attachment_count,"
        " image_url = excluded.image_url, manual = MAX(shares.manual, excluded.manual),"
        f" edited_at = excluded.edited_at{reactions}"
        f" WHERE {_NOT_OLDER.format(new='excluded.edited_at')}"
    )


def _upsert_sql(refresh_reactions: bool) -> str:
    return (
        f"INSERT INTO shares ({_COLUMNS}, manual, edited_at)"
        " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
        f" WHERE NOT EXISTS ({_OPTED_OUT}) AND (? OR NOT EXISTS ({_REMOVED}))"
        f"{_on_conflict(refresh_reactions)}"
    )


def _upsert_params(
    share: Share, *, manual: bool, edited_at: datetime | None, restore: bool
) -> tuple[object, ...]:
    return (
        share.message_id,
        share.guild_id,
        share.channel_id,
        share.author_id,
        share.author_name,
        share.content,
        share.jump_url,
        share.attachment_count,
        share.image_url,
        to_db(share.created_at),
        max(0, share.reaction_count),
        int(manual),
        edit_time_to_db(edited_at or share.created_at),
        share.guild_id,
        share.author_id,
        int(restore),
        share.message_id,
    )


#: Rows per statement of `upsert_shares`: 13 parameters each, under SQLite's oldest limit of
#: 999 host parameters (3.32+ allows 32,766).
_BATCH_ROWS = 75
_NEW_COLUMNS = f"{_COLUMNS}, manual, edited_at"


def _batch_sql(rows: int) -> str:
    values = ", ".join(["(" + ", ".join("?" * 13) + ")"] * rows)
    return (
        f"WITH v({_NEW_COLUMNS}) AS (VALUES {values})"
        f" INSERT INTO shares ({_NEW_COLUMNS}) SELECT {_NEW_COLUMNS} FROM v"
        " WHERE NOT EXISTS (SELECT 1 FROM member_prefs p WHERE p.guild_id = v.guild_id"
        " AND p.user_id = v.author_id AND p.digest_opt_out = 1)"
        " AND NOT EXISTS (SELECT 1 FROM share_removals r WHERE r.message_id = v.message_id)"
        f"{_on_conflict(refresh_reactions=False)}"
    )


async def upsert_shares(store: Store, items: Sequence[tuple[Share, datetime | None]]) -> set[int]:
    """`upsert_share` (not manual, reactions kept) for many new shares: the same rules (opt-out
    and removals checked inside the statement, older edits ignored), one statement (so one
    atomic commit) per `_BATCH_ROWS`, on the shared connection like every lone write.
    Returns the message ids stored; each is committed before this returns."""
    if not items:
        return set()
    rows = [_upsert_params(s, manual=False, edited_at=e, restore=False)[:13] for s, e in items]
    for start in range(0, len(rows), _BATCH_ROWS):
        chunk = rows[start : start + _BATCH_ROWS]
        await store.db.execute(_batch_sql(len(chunk)), [v for row in chunk for v in row])
    ids = list(dict.fromkeys(share.message_id for share, _ in items))
    marks = ", ".join("?" * len(ids))
    rows = await store.fetch_all(
        f"SELECT message_id FROM shares WHERE message_id IN ({marks})", ids
    )
    return {row[0] for row in rows}


async def _upsert(
    db: aiosqlite.Connection,
    share: Share,
    *,
    manual: bool,
    refresh_reactions: bool,
    edited_at: datetime | None,
    restore: bool,
) -> bool:
    cur = await db.execute(
        _upsert_sql(refresh_reactions),
        _upsert_params(share, manual=manual, edited_at=edited_at, restore=restore),
    )
    if cur.rowcount == 1:
        return True
    if not manual:
        return False
    # The stored share carries a newer edit than this one: keep its text, but a manual add
    # still marks it as added by hand.
    cur = await db.execute(
        "UPDATE shares SET manual = 1 WHERE message_id = ?"
        f" AND NOT EXISTS ({_OPTED_OUT}) AND (? OR NOT EXISTS ({_REMOVED}))",
        (share.message_id, share.guild_id, share.author_id, int(restore), share.message_id),
    )
    return cur.rowcount == 1


async def upsert_share(
    store: Store,
    share: Share,
    *,
    manual: bool = False,
    refresh_reactions: bool = False,
    edited_at: datetime | None = None,
) -> bool:
    """Store or update a share; False (nothing written) when its author has opted out, the
    message was removed from the digest, or this update's edit time is older than the stored
    one's (``edited_at``: the message's edit time, None for its creation time).

    An update keeps the first-seen time and, unless ``refresh_reactions``, the reaction count
    (reactions are kept current by their own events). A manual flag, once set, stays set.
    """
    return await _upsert(
        store.db,
        share,
        manual=manual,
        refresh_reactions=refresh_reactions,
        edited_at=edited_at,
        restore=False,
    )


async def restore_share(store: Store, share: Share, *, edited_at: datetime | None = None) -> bool:
    """An explicit "Add to QI Week digest" by the author or an organiser: store the share by hand
    even if it was removed, clearing the removal; False only when its author has opted out."""
    async with store.transaction() as db:
        stored = await _upsert(
            db, share, manual=True, refresh_reactions=True, edited_at=edited_at, restore=True
        )
        if stored:
            await db.execute("DELETE FROM share_removals WHERE message_id = ?", (share.message_id,))
    return stored


async def remove_share(store: Store, guild_id: int, author_id: int, message_id: int) -> bool:
    """ "Remove from digest": delete the share and record the removal, atomically, so nothing
    collects the message again; returns whether a share was stored. Nothing is recorded for a
    member who has opted out (nothing of theirs is collected anyway)."""
    async with store.transaction() as db:
        cur = await db.execute("DELETE FROM shares WHERE message_id = ?", (message_id,))
        removed = cur.rowcount == 1
        await db.execute(
            "INSERT INTO share_removals (message_id, guild_id, author_id, removed_at)"
            f" SELECT ?, ?, ?, ? WHERE NOT EXISTS ({_OPTED_OUT})"
            " ON CONFLICT(message_id) DO UPDATE SET removed_at = excluded.removed_at",
            (message_id, guild_id, author_id, to_db(store.clock()), guild_id, author_id),
        )
    return removed


async def is_removed(store: Store, message_id: int) -> bool:
    """Whether the message was removed from the digest (and not added back since)."""
    return await store.fetch_one(_REMOVED, (message_id,)) is not None


class Untagged(Enum):
    """What an edit that dropped the hashtag did to the stored share."""

    REMOVED = "removed"
    KEPT = "kept"  # added by hand ("Add to QI Week digest"): the tag was never its reason
    ABSENT = "absent"


async def untag_share(
    store: Store,
    message_id: int,
    *,
    author_name: str,
    content: str,
    attachment_count: int,
    image_url: str | None,
    edited_at: datetime | None = None,
) -> Untagged:
    """An edit removed the tag: delete the share, unless it was added by hand (then update it).

    An edit older than the stored one (``edited_at``; None always applies) changes nothing
    (reported as ABSENT).
    """
    db = store.db
    edited = edit_time_to_db(edited_at) if edited_at is not None else None
    not_older = f"(? IS NULL OR {_NOT_OLDER.format(new='?')})"
    cur = await db.execute(
        f"DELETE FROM shares WHERE message_id = ? AND manual = 0 AND {not_older}",
        (message_id, edited, edited),
    )
    if cur.rowcount == 1:
        return Untagged.REMOVED
    cur = await db.execute(
        "UPDATE shares SET author_name = ?, content = ?, attachment_count = ?, image_url = ?,"
        f" edited_at = COALESCE(?, edited_at) WHERE message_id = ? AND manual = 1 AND {not_older}",
        (author_name, content, attachment_count, image_url, edited, message_id, edited, edited),
    )
    return Untagged.KEPT if cur.rowcount == 1 else Untagged.ABSENT


async def get_share(store: Store, message_id: int) -> Share | None:
    row = await store.fetch_one(
        f"SELECT {_COLUMNS} FROM shares WHERE message_id = ?", (message_id,)
    )
    return _row_to_share(row) if row is not None else None


async def is_manual(store: Store, message_id: int) -> bool:
    """Whether a share was added by hand (False also when there is no such share)."""
    row = await store.fetch_one("SELECT manual FROM shares WHERE message_id = ?", (message_id,))
    return bool(row and row[0])


async def share_exists(store: Store, message_id: int) -> bool:
    return (
        await store.fetch_one("SELECT 1 FROM shares WHERE message_id = ?", (message_id,))
        is not None
    )


async def delete_share(store: Store, message_id: int) -> bool:
    """Remove one share; False when it was not stored."""
    cur = await store.db.execute("DELETE FROM shares WHERE message_id = ?", (message_id,))
    return cur.rowcount == 1


async def delete_shares(store: Store, message_ids: Iterable[int]) -> int:
    """Deleted messages: remove their shares (returns how many were stored) and any removal
    records (nothing left to keep out)."""
    ids = list(dict.fromkeys(message_ids))
    removed = 0
    for start in range(0, len(ids), 500):  # well under SQLite's bound-parameter limit
        batch = ids[start : start + 500]
        marks = ", ".join("?" * len(batch))
        cur = await store.db.execute(f"DELETE FROM shares WHERE message_id IN ({marks})", batch)
        removed += max(0, cur.rowcount)
        await store.db.execute(f"DELETE FROM share_removals WHERE message_id IN ({marks})", batch)
    return removed


async def set_reaction_count(store: Store, message_id: int, count: int) -> bool:
    """Set the total reactions of a share (an absolute value, so replays are harmless)."""
    cur = await store.db.execute(
        "UPDATE shares SET reaction_count = ? WHERE message_id = ?", (max(0, count), message_id)
    )
    return cur.rowcount == 1


async def shares_between(
    store: Store, guild_id: int, start: datetime, end: datetime
) -> list[Share]:
    """Shares of a guild posted in UTC ``[start, end)``, in posting order."""
    rows = await store.fetch_all(
        f"SELECT {_COLUMNS} FROM shares WHERE guild_id = ? AND created_at >= ? AND created_at < ?"
        " ORDER BY created_at, message_id",
        (guild_id, to_db(start), to_db(end)),
    )
    return [_row_to_share(row) for row in rows]


async def all_shares(store: Store, guild_id: int) -> list[Share]:
    """Every stored share of a guild, in posting order (exports)."""
    rows = await store.fetch_paged(
        f"SELECT {_COLUMNS} FROM shares WHERE guild_id = ?",
        (guild_id,),
        ("created_at", "message_id"),
    )
    return [_row_to_share(row) for row in rows]


async def share_ids_of(store: Store, guild_id: int, author_id: int) -> list[int]:
    """The message ids of a member's stored shares (marked in posted digests before erasure)."""
    rows = await store.fetch_all(
        "SELECT message_id FROM shares WHERE guild_id = ? AND author_id = ?", (guild_id, author_id)
    )
    return [row[0] for row in rows]


async def guilds_of(store: Store, message_ids: Iterable[int]) -> dict[int, list[int]]:
    """Which of ``message_ids`` are stored shares, by guild."""
    ids = list(dict.fromkeys(message_ids))
    found: dict[int, list[int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for guild_id, message_id in await store.fetch_all(
            f"SELECT guild_id, message_id FROM shares WHERE message_id IN ({marks})", chunk
        ):
            found.setdefault(guild_id, []).append(message_id)
    return found


async def latest_share(store: Store, guild_id: int, author_id: int) -> Share | None:
    """A member's most recent stored share in a guild (None when none is stored)."""
    row = await store.fetch_one(
        f"SELECT {_COLUMNS} FROM shares WHERE guild_id = ? AND author_id = ?"
        " ORDER BY created_at DESC, message_id DESC LIMIT 1",
        (guild_id, author_id),
    )
    return _row_to_share(row) if row is not None else None


async def count_shares(store: Store, guild_id: int) -> int:
    row = await store.fetch_one("SELECT COUNT(*) FROM shares WHERE guild_id = ?", (guild_id,))
    return int(row[0])


async def delete_older_than(store: Store, guild_id: int, cutoff: datetime) -> int:
    """Retention: delete a guild's shares posted before ``cutoff`` (returns how many) and its
    removal records made before it."""
    cur = await store.db.execute(
        "DELETE FROM shares WHERE guild_id = ? AND created_at < ?", (guild_id, to_db(cutoff))
    )
    await store.db.execute(
        "DELETE FROM share_removals WHERE guild_id = ? AND removed_at < ?",
        (guild_id, to_db(cutoff)),
    )
    return max(0, cur.rowcount)


# ------------------------------------------------------------------------------ member prefs


async def _set_pref(store: Store, guild_id: int, user_id: int, column: str, value: int) -> None:
    # `column` is one of our two literals, never user text.
    await store.db.execute(
        f"INSERT INTO member_prefs (guild_id, user_id, {column}, updated_at) VALUES (?, ?, ?, ?)"
        f" ON CONFLICT(guild_id, user_id) DO UPDATE SET {column} = excluded.{column}",
        (guild_id, user_id, value, to_db(store.clock())),
    )


async def _get_pref(store: Store, guild_id: int, user_id: int, column: str) -> bool:
    row = await store.fetch_one(
        f"SELECT {column} FROM member_prefs WHERE guild_id = ? AND user_id = ?",
        (guild_id, user_id),
    )
    return bool(row and row[0])


async def is_opted_out(store: Store, guild_id: int, user_id: int) -> bool:
    return await _get_pref(store, guild_id, user_id, "digest_opt_out")


async def opt_out(store: Store, guild_id: int, user_id: int) -> int:
    """Stop collecting a member's shares and erase those stored, and their removal records;
    returns how many shares were erased.

    The flag is written first: from then on no insert can succeed (it checks the flag), so the
    erase that follows leaves nothing behind even with messages arriving meanwhile.
    """
    await _set_pref(store, guild_id, user_id, "digest_opt_out", 1)
    cur = await store.db.execute(
        "DELETE FROM shares WHERE guild_id = ? AND author_id = ?", (guild_id, user_id)
    )
    await store.db.execute(
        "DELETE FROM share_removals WHERE guild_id = ? AND author_id = ?", (guild_id, user_id)
    )
    return max(0, cur.rowcount)


async def opt_in(store: Store, guild_id: int, user_id: int) -> bool:
    """Resume collecting; True when the member had opted out."""
    was_out = await is_opted_out(store, guild_id, user_id)
    await _set_pref(store, guild_id, user_id, "digest_opt_out", 0)
    return was_out


async def notice_sent(store: Store, guild_id: int, user_id: int) -> bool:
    """Whether the one-off share notice was dealt with (sent, or skipped for closed DMs)."""
    return await _get_pref(store, guild_id, user_id, "share_notice_sent")


async def mark_notice_sent(store: Store, guild_id: int, user_id: int) -> None:
    await _set_pref(store, guild_id, user_id, "share_notice_sent", 1)


__all__ = [
    "Untagged",
    "all_shares",
    "count_shares",
    "delete_older_than",
    "delete_share",
    "delete_shares",
    "edit_time_to_db",
    "get_share",
    "is_manual",
    "is_opted_out",
    "is_removed",
    "latest_share",
    "mark_notice_sent",
    "notice_sent",
    "opt_in",
    "opt_out",
    "remove_share",
    "restore_share",
    "set_reaction_count",
    "share_exists",
    "shares_between",
    "untag_share",
    "upsert_share",
    "upsert_shares",
]

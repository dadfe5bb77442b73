"""Schedule-change notices still to be told, in `change_notices`.

A programme change (a session moved or cancelled) is told to every registered member by DM and
to the programme channel once. The notice is stored here *before* its fan-out starts and marked
done only once the channel notice and every DM are settled in the delivery ledger (sent,
skipped or failed), so a bot stopped mid-way resumes it at the next start: the interest
feature's `changes` planner plans a catch-up job for every notice not done.

A notice is named by (guild, session, change hash): storing the same change twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import aiosqlite

from bot.clock import from_db, to_db
from bot.store import Store
from bot.store.ledger import Status

ChangeKind = Literal["moved", "cancelled"]


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """What members are told about one session: its old times and title, and the new ones
    (None when it was cancelled or removed)."""

    guild_id: int
    session_id: str
    change_hash: str
    kind: ChangeKind
    old_title: str
    old_start: datetime
    old_end: datetime
    new_title: str | None = None
    new_start: datetime | None = None
    new_end: datetime | None = None
    new_join_url: str = ""
    created_at: datetime | None = None
    done_at: datetime | None = None


def _opt(moment: datetime | None) -> str | None:
    return to_db(moment) if moment is not None else None


async def add_notices(store: Store, notices: Iterable[ChangeNotice]) -> int:
    """Store notices to tell (one transaction); returns how many were new.

    A notice already stored (pending or done) is left as it is: a change is told once.
    """
    now = to_db(store.clock())
    added = 0
    async with store.transaction() as db:
        for n in notices:
            cur = await db.execute(
                "INSERT OR IGNORE INTO change_notices (guild_id, session_id, change_hash, kind,"
                " old_title, old_start, old_end, new_title, new_start, new_end, new_join_url,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    n.guild_id,
                    n.session_id,
                    n.change_hash,
                    n.kind,
                    n.old_title,
                    to_db(n.old_start),
                    to_db(n.old_end),
                    n.new_title,
                    _opt(n.new_start),
                    _opt(n.new_end),
                    n.new_join_url,
                    now,
                ),
            )
            added += cur.rowcount == 1
    return added


def _notice(r: aiosqlite.Row) -> ChangeNotice:
    return ChangeNotice(
        guild_id=r["guild_id"],
        session_id=r["session_id"],
        change_hash=r["change_hash"],
        kind=r["kind"],
        old_title=r["old_title"],
        old_start=from_db(r["old_start"]),
        old_end=from_db(r["old_end"]),
        new_title=r["new_title"],
        new_start=from_db(r["new_start"]) if r["new_start"] else None,
        new_end=from_db(r["new_end"]) if r["new_end"] else None,
        new_join_url=r["new_join_url"] or "",
        created_at=from_db(r["created_at"]),
        done_at=from_db(r["done_at"]) if r["done_at"] else None,
    )


_COLUMNS = (
    "guild_id, session_id, change_hash, kind, old_title, old_start, old_end, new_title,"
    " new_start, new_end, new_join_url, created_at, done_at"
)


async def pending_notices(store: Store, guild_id: int) -> list[ChangeNotice]:
    """Notices of a guild not yet done, oldest first."""
    rows = await store.fetch_all(
        f"SELECT {_COLUMNS} FROM change_notices WHERE guild_id = ? AND done_at IS NULL"
        " ORDER BY created_at, session_id, change_hash",
        (guild_id,),
    )
    return [_notice(row) for row in rows]


async def get_notice(
    store: Store, guild_id: int, session_id: str, change_hash: str
) -> ChangeNotice | None:
    row = await store.fetch_one(
        f"SELECT {_COLUMNS} FROM change_notices"
        " WHERE guild_id = ? AND session_id = ? AND change_hash = ?",
        (guild_id, session_id, change_hash),
    )
    return _notice(row) if row is not None else None


async def mark_done(store: Store, guild_id: int, session_id: str, change_hash: str) -> bool:
    """Every send of the notice is settled; False when it was done already (or unknown)."""
    cur = await store.db.execute(
        "UPDATE change_notices SET done_at = ?"
        " WHERE guild_id = ? AND session_id = ? AND change_hash = ? AND done_at IS NULL",
        (to_db(store.clock()), guild_id, session_id, change_hash),
    )
    return cur.rowcount == 1


async def unsettled_keys(store: Store, prefix: str) -> list[str]:
    """Ledger keys starting with `prefix` that are claimed but not confirmed (an interrupted
    send): the notice is not done while any is left."""
    rows = await store.fetch_all(
        "SELECT key FROM deliveries WHERE substr(key, 1, ?) = ? AND status = ? ORDER BY key",
        (len(prefix), prefix, Status.CLAIMED.value),
    )
    return [row[0] for row in rows]


__all__ = [
    "ChangeKind",
    "ChangeNotice",
    "add_notices",
    "get_notice",
    "mark_done",
    "pending_notices",
    "unsettled_keys",
]

"""Organiser alerts: every problem the bot told (or would have told) the organisers.

All alerts are kept (stats shows the latest); `posted` says which went to the organiser channel,
so the service can hold each kind to one post an hour per server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_db, to_db
from bot.store import Store


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    guild_id: int
    kind: str
    text: str
    created_at: datetime
    posted: bool


def _alert(row: object) -> Alert:
    r = row  # aiosqlite.Row
    return Alert(r[0], r[1], r[2], r[3], from_db(r[4]), bool(r[5]))  # type: ignore[index]


async def add_alert(store: Store, guild_id: int, kind: str, text: str) -> Alert:
    now = store.clock()
    cur = await store.db.execute(
        "INSERT INTO alerts (guild_id, kind, text, created_at) VALUES (?, ?, ?, ?)",
        (guild_id, kind, text[:1800], to_db(now)),
    )
    return Alert(int(cur.lastrowid or 0), guild_id, kind, text[:1800], now, False)


async def mark_posted(store: Store, alert_id: int) -> None:
    await store.db.execute("UPDATE alerts SET posted = 1 WHERE id = ?", (alert_id,))


async def last_posted_at(store: Store, guild_id: int, kind: str) -> datetime | None:
    """When an alert of this kind last went to the organiser channel (None: never)."""
    row = await store.fetch_one(
        "SELECT MAX(created_at) FROM alerts WHERE guild_id = ? AND kind = ? AND posted = 1",
        (guild_id, kind),
    )
    return from_db(row[0]) if row is not None and row[0] else None


async def latest(store: Store, guild_id: int, limit: int = 5) -> list[Alert]:
    """The newest alerts first."""
    rows = await store.fetch_all(
        "SELECT id, guild_id, kind, text, created_at, posted FROM alerts WHERE guild_id = ?"
        " ORDER BY id DESC LIMIT ?",
        (guild_id, limit),
    )
    return [_alert(row) for row in rows]


__all__ = ["Alert", "add_alert", "last_posted_at", "latest", "mark_posted"]

"""The organisers' audit trail: who did what, when (announce, cancel, import, setup, export...)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_db, to_db
from bot.store import Store


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    guild_id: int
    user_id: int
    action: str
    detail: str
    created_at: datetime


async def record(store: Store, guild_id: int, user_id: int, action: str, detail: str = "") -> None:
    await store.db.execute(
        "INSERT INTO audit_log (guild_id, user_id, action, detail, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (guild_id, user_id, action, detail[:1000], to_db(store.clock())),
    )


async def recent(store: Store, guild_id: int, limit: int = 10) -> list[AuditEntry]:
    rows = await store.fetch_all(
        "SELECT id, guild_id, user_id, action, detail, created_at FROM audit_log"
        " WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
        (guild_id, limit),
    )
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], from_db(r[5])) for r in rows]

"""Retention beyond shares: ledger rows and registrations past the retention period are deleted,
and what they counted is kept as totals (``retired_counts``) so organisers' figures stay whole.

Runs for every server the database knows, not only those the bot is serving in this run.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import to_db
from bot.store import Store

_GUILDS = (
    "SELECT guild_id FROM shares UNION SELECT guild_id FROM share_removals"
    " UNION SELECT guild_id FROM deliveries WHERE guild_id IS NOT NULL"
    " UNION SELECT guild_id FROM interests UNION SELECT guild_id FROM posted_digests"
    " UNION SELECT guild_id FROM guild_settings UNION SELECT guild_id FROM programmes"
)
# Registrations whose session ended before the cutoff, or whose session is gone from the
# programme and which were made before it.
_OLD_INTERESTS = (
    "FROM interests AS i WHERE i.guild_id = ? AND ("
    " EXISTS (SELECT 1 FROM sessions AS s WHERE s.guild_id = i.guild_id"
    "   AND s.session_id = i.session_id AND s.end_utc < ?)"
    " OR (NOT EXISTS (SELECT 1 FROM sessions AS s WHERE s.guild_id = i.guild_id"
    "   AND s.session_id = i.session_id) AND i.created_at < ?))"
)
_ADD = (
    "INSERT INTO retired_counts (guild_id, source, kind, status, count) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (guild_id, source, kind, status) DO UPDATE SET count = count + excluded.count"
)


async def _any(store: Store, sql: str, *params: object) -> bool:
    """Whether ``sql`` finds a row (read on the shared connection, no transaction)."""
    return await store.fetch_one(sql, params) is not None


async def every_guild(store: Store) -> list[int]:
    """Every server with anything stored (retention must reach them all)."""
    found = [row[0] for row in await store.fetch_all(_GUILDS)]
    return sorted(g for g in found if g is not None)


async def retire_deliveries(store: Store, guild_id: int, cutoff: datetime) -> int:
    """Delete ledger rows last touched before ``cutoff``, keeping their counts; returns how many."""
    when = to_db(cutoff)
    if not await _any(
        store,
        "SELECT 1 FROM deliveries WHERE guild_id = ? AND updated_at < ? LIMIT 1",
        guild_id,
        when,
    ):
        return 0  # the usual case at each start: no transaction at all
    async with store.transaction() as db:
        groups = await db.execute_fetchall(
            "SELECT kind, status, COUNT(*) FROM deliveries WHERE guild_id = ? AND updated_at < ?"
            " GROUP BY kind, status",
            (guild_id, when),
        )
        for kind, status, count in groups:
            await db.execute(_ADD, (guild_id, "deliveries", kind, status, count))
        cur = await db.execute(
            "DELETE FROM deliveries WHERE guild_id = ? AND updated_at < ?", (guild_id, when)
        )
        return max(0, cur.rowcount)


async def retire_interests(store: Store, guild_id: int, cutoff: datetime) -> int:
    """Delete registrations for sessions over before ``cutoff``, keeping per-session counts."""
    when = to_db(cutoff)
    if not await _any(store, f"SELECT 1 {_OLD_INTERESTS} LIMIT 1", guild_id, when, when):
        return 0
    async with store.transaction() as db:
        groups = await db.execute_fetchall(
            f"SELECT i.session_id, COUNT(*) {_OLD_INTERESTS} GROUP BY i.session_id",
            (guild_id, when, when),
        )
        for session_id, count in groups:
            await db.execute(_ADD, (guild_id, "interests", session_id, "registrations", count))
        cur = await db.execute(
            f"DELETE FROM interests WHERE rowid IN (SELECT i.rowid {_OLD_INTERESTS})",
            (guild_id, when, when),
        )
        return max(0, cur.rowcount)


async def retired(store: Store, guild_id: int, source: str) -> dict[str, dict[str, int]]:
    """Counts kept from retired rows: ``{kind: {status: count}}`` (interests: by session id)."""
    result: dict[str, dict[str, int]] = {}
    for kind, status, count in await store.fetch_all(
        "SELECT kind, status, count FROM retired_counts WHERE guild_id = ? AND source = ?",
        (guild_id, source),
    ):
        result.setdefault(kind, {})[status] = count
    return result


__all__ = ["every_guild", "retire_deliveries", "retire_interests", "retired"]

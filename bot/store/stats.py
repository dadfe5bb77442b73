"""The figures organisers report after the week: `/organiser stats` and the interest export.

Read-only queries over the other features' tables, gathered here so the cog holds no SQL and the
figures are unit-tested against a real database.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo

from bot.clock import from_db
from bot.store import Store
from bot.store import alerts as alerts_store
from bot.store import announcements as announcements_store
from bot.store.alerts import Alert
from bot.store.audit import AuditEntry, recent
from bot.store.retention import retired


@dataclass(frozen=True, slots=True)
class SessionRegistrations:
    """Registrations of interest for one session (also sessions no longer in the programme)."""

    session_id: str
    title: str
    start: datetime | None
    cancelled: bool
    registrations: int
    in_programme: bool = True


@dataclass(frozen=True, slots=True)
class Stats:
    """Everything `/organiser stats` shows for one guild."""

    top_sessions: list[SessionRegistrations]
    sessions_with_registrations: int
    total_registrations: int
    members_registered: int
    deliveries: dict[str, dict[str, int]]
    dm_closed_members: int
    shares_per_day: list[tuple[date, int]]
    total_shares: int
    share_contributors: int
    announcements: dict[str, int]
    recent_actions: list[AuditEntry] = field(default_factory=list)
    recent_alerts: list[Alert] = field(default_factory=list)

    def delivered(self, *kinds: str) -> dict[str, int]:
        """Ledger rows per status summed over `kinds` (e.g. every kind of DM)."""
        total: Counter[str] = Counter()
        for kind in kinds:
            total.update(self.deliveries.get(kind, {}))
        return dict(total)


async def registrations_per_session(
    store: Store, guild_id: int, *, include_empty: bool = False
) -> list[SessionRegistrations]:
    """Most registrations first (then by start); sessions removed from the programme included.

    With `include_empty`, every session of the programme is listed, registered or not (the export).
    """
    counts = {
        session_id: count
        for session_id, count in await store.fetch_all(
            "SELECT session_id, COUNT(*) FROM interests WHERE guild_id = ? GROUP BY session_id",
            (guild_id,),
        )
    }
    # Registrations deleted by retention still count (bot/store/retention.py).
    for session_id, statuses in (await retired(store, guild_id, "interests")).items():
        counts[session_id] = counts.get(session_id, 0) + statuses.get("registrations", 0)
    rows: list[SessionRegistrations] = []
    seen: set[str] = set()
    for row in await store.fetch_all(
        "SELECT session_id, title, start_utc, cancelled FROM sessions WHERE guild_id = ?",
        (guild_id,),
    ):
        seen.add(row["session_id"])
        count = counts.get(row["session_id"], 0)
        if count or include_empty:
            rows.append(
                SessionRegistrations(
                    session_id=row["session_id"],
                    title=row["title"],
                    start=from_db(row["start_utc"]),
                    cancelled=bool(row["cancelled"]),
                    registrations=count,
                )
            )
    for session_id, count in counts.items():
        if session_id not in seen:
            rows.append(
                SessionRegistrations(
                    session_id=session_id,
                    title="",
                    start=None,
                    cancelled=False,
                    registrations=count,
                    in_programme=False,
                )
            )
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda r: (-r.registrations, r.start or far, r.session_id))
    return rows


async def members_registered(store: Store, guild_id: int) -> int:
    """Distinct members with at least one registration."""
    row = await store.fetch_one(
        "SELECT COUNT(DISTINCT user_id) FROM interests WHERE guild_id = ?", (guild_id,)
    )
    return int(row[0])


async def delivery_counts(store: Store, guild_id: int) -> dict[str, dict[str, int]]:
    """Ledger rows per kind and status: sent, failed and skipped reminders, DMs, posts (rows
    deleted by retention included, as their kept counts)."""
    result: dict[str, dict[str, int]] = {}
    for kind, status, count in await store.fetch_all(
        "SELECT kind, status, COUNT(*) FROM deliveries WHERE guild_id = ? GROUP BY kind, status",
        (guild_id,),
    ):
        result.setdefault(kind, {})[status] = count
    for kind, statuses in (await retired(store, guild_id, "deliveries")).items():
        for status, count in statuses.items():
            mine = result.setdefault(kind, {})
            mine[status] = mine.get(status, 0) + count
    return result


async def dm_closed_members(store: Store, guild_id: int) -> int:
    row = await store.fetch_one(
        "SELECT COUNT(*) FROM member_prefs WHERE guild_id = ? AND dm_closed = 1", (guild_id,)
    )
    return int(row[0])


async def share_authors(store: Store, guild_id: int) -> list[tuple[datetime, int]]:
    """(posted at, author id) of every stored share, oldest first."""
    rows = await store.fetch_paged(
        "SELECT created_at, message_id, author_id FROM shares WHERE guild_id = ?",
        (guild_id,),
        ("created_at", "message_id"),
    )
    return [(from_db(row["created_at"]), row["author_id"]) for row in rows]


def per_local_day(moments: list[datetime], tz: tzinfo) -> list[tuple[date, int]]:
    """How many of `moments` fall on each local day, in date order (days with none left out)."""
    counts = Counter(moment.astimezone(tz).date() for moment in moments)
    return sorted(counts.items())


async def gather(store: Store, guild_id: int, tz: tzinfo, *, top: int = 10) -> Stats:
    """Every figure of `/organiser stats` for one guild, times grouped in its timezone."""
    registrations = await registrations_per_session(store, guild_id)
    shares = await share_authors(store, guild_id)
    return Stats(
        top_sessions=registrations[:top],
        sessions_with_registrations=len(registrations),
        total_registrations=sum(r.registrations for r in registrations),
        members_registered=await members_registered(store, guild_id),
        deliveries=await delivery_counts(store, guild_id),
        dm_closed_members=await dm_closed_members(store, guild_id),
        shares_per_day=per_local_day([moment for moment, _ in shares], tz),
        total_shares=len(shares),
        share_contributors=len({author for _, author in shares}),
        announcements=await announcements_store.count_by_status(store, guild_id),
        recent_actions=await recent(store, guild_id, 10),
        recent_alerts=await alerts_store.latest(store, guild_id, 5),
    )


__all__ = [
    "SessionRegistrations",
    "Stats",
    "delivery_counts",
    "dm_closed_members",
    "gather",
    "members_registered",
    "per_local_day",
    "registrations_per_session",
    "share_authors",
]

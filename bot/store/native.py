"""Discord-native data (issue 12): mirrored events, the sync switch and pause, event-sourced
registrations, and session feedback. Small repository functions; no Discord here."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import to_db
from bot.store import Store

COMMAND = "command"
EVENT = "event"


# ----------------------------------------------------------------------- mirrored events


@dataclass(frozen=True, slots=True)
class Mirror:
    """One session's scheduled event, created by the bot."""

    session_id: str
    event_id: int
    fingerprint: str
    status: str  # live | cancelled | gone


async def mirrors(store: Store, guild_id: int) -> dict[str, Mirror]:
    """The guild's mirrored events by session id."""
    rows = await store.fetch_all(
        "SELECT session_id, event_id, fingerprint, status FROM session_events WHERE guild_id = ?",
        (guild_id,),
    )
    return {row[0]: Mirror(row[0], row[1], row[2], row[3]) for row in rows}


async def save_mirror(
    store: Store, guild_id: int, session_id: str, event_id: int, fingerprint: str
) -> None:
    """Record (or replace) the live event of a session."""
    now = to_db(store.clock())
    await store.db.execute(
        "INSERT INTO session_events (guild_id, session_id, event_id, fingerprint, status,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, 'live', ?, ?)"
        " ON CONFLICT (guild_id, session_id) DO UPDATE SET event_id = excluded.event_id,"
        " fingerprint = excluded.fingerprint, status = 'live', updated_at = excluded.updated_at",
        (guild_id, session_id, event_id, fingerprint, now, now),
    )


async def set_mirror_status(
    store: Store, guild_id: int, session_id: str, status: str, fingerprint: str | None = None
) -> None:
    await store.db.execute(
        "UPDATE session_events SET status = ?, fingerprint = COALESCE(?, fingerprint),"
        " updated_at = ? WHERE guild_id = ? AND session_id = ?",
        (status, fingerprint, to_db(store.clock()), guild_id, session_id),
    )


async def session_of_event(store: Store, guild_id: int, event_id: int) -> str | None:
    """The session a bot event mirrors (None for anyone else's event)."""
    row = await store.fetch_one(
        "SELECT session_id FROM session_events WHERE guild_id = ? AND event_id = ?",
        (guild_id, event_id),
    )
    return row[0] if row else None


async def event_of_session(store: Store, guild_id: int, session_id: str) -> int | None:
    """The live event of a session, for the `/session` link."""
    row = await store.fetch_one(
        "SELECT event_id FROM session_events WHERE guild_id = ? AND session_id = ?"
        " AND status = 'live'",
        (guild_id, session_id),
    )
    return row[0] if row else None


# ------------------------------------------------------------------------- sync switch


@dataclass(frozen=True, slots=True)
class SyncState:
    enabled: bool | None  # None: the environment's QIWEEK_SCHEDULED_EVENTS
    paused_reason: str | None
    cap_alerted: bool


async def sync_state(store: Store, guild_id: int) -> SyncState:
    row = await store.fetch_one(
        "SELECT enabled, paused_reason, cap_alerted FROM event_sync WHERE guild_id = ?",
        (guild_id,),
    )
    if row is None:
        return SyncState(None, None, False)
    enabled = None if row[0] is None else bool(row[0])
    return SyncState(enabled, row[1], bool(row[2]))


async def _upsert(store: Store, guild_id: int, column: str, value: object) -> int:
    # `column` is one of this module's literals, never user text.
    now = to_db(store.clock())
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO event_sync (guild_id, updated_at) VALUES (?, ?)", (guild_id, now)
        )
        cur = await db.execute(
            f"UPDATE event_sync SET {column} = ?, updated_at = ? WHERE guild_id = ?"
            f" AND {column} IS NOT ?",
            (value, now, guild_id, value),
        )
        return cur.rowcount


async def set_enabled(store: Store, guild_id: int, enabled: bool | None) -> None:
    """`/organiser setup scheduled_events`; turning it on also lifts a pause."""
    await _upsert(store, guild_id, "enabled", None if enabled is None else int(enabled))
    if enabled:
        await set_paused(store, guild_id, None)


async def set_paused(store: Store, guild_id: int, reason: str | None) -> bool:
    """Pause (with the reason) or resume; True when the state changed (alert once)."""
    changed = await _upsert(store, guild_id, "paused_reason", reason)
    if changed:
        await store.db.execute(
            "UPDATE event_sync SET paused_at = ? WHERE guild_id = ?",
            (to_db(store.clock()) if reason else None, guild_id),
        )
    return changed == 1


async def set_cap_alerted(store: Store, guild_id: int, alerted: bool) -> bool:
    """True when the flag changed (so the organisers are told once per shrink)."""
    return await _upsert(store, guild_id, "cap_alerted", int(alerted)) == 1


# ------------------------------------------------------------ event-sourced registrations


async def add_event_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """Register from "Interested" on the event; False when already registered (either way)."""
    cur = await store.db.execute(
        "INSERT OR IGNORE INTO interests (guild_id, session_id, user_id, created_at, source)"
        " VALUES (?, ?, ?, ?, 'event')",
        (guild_id, session_id, user_id, to_db(store.clock())),
    )
    return cur.rowcount == 1


async def remove_event_interest(store: Store, guild_id: int, session_id: str, user_id: int) -> bool:
    """Un-marking the event removes only a registration that the event made."""
    cur = await store.db.execute(
        "DELETE FROM interests WHERE guild_id = ? AND session_id = ? AND user_id = ?"
        " AND source = 'event'",
        (guild_id, session_id, user_id),
    )
    return cur.rowcount == 1


async def event_registrations(store: Store, guild_id: int, session_id: str) -> set[int]:
    """Members registered for a session by its event (the ones un-marking may remove)."""
    rows = await store.fetch_all(
        "SELECT user_id FROM interests WHERE guild_id = ? AND session_id = ? AND source = 'event'",
        (guild_id, session_id),
    )
    return {row[0] for row in rows}


async def interest_sources(store: Store, guild_id: int, session_id: str) -> dict[str, int]:
    """{'command': n, 'event': m} for one session (`/session`)."""
    out = {COMMAND: 0, EVENT: 0}
    for source, count in await store.fetch_all(
        "SELECT source, COUNT(*) FROM interests WHERE guild_id = ? AND session_id = ?"
        " GROUP BY source",
        (guild_id, session_id),
    ):
        out[source] = int(count)
    return out


async def interest_by_source(store: Store, guild_id: int) -> dict[str, dict[str, int]]:
    """{session_id: {'command': n, 'event': m}} for the figures."""
    out: dict[str, dict[str, int]] = {}
    for session_id, source, count in await store.fetch_all(
        "SELECT session_id, source, COUNT(*) FROM interests WHERE guild_id = ?"
        " GROUP BY session_id, source",
        (guild_id,),
    ):
        out.setdefault(session_id, {COMMAND: 0, EVENT: 0})[source] = int(count)
    return out


# ----------------------------------------------------------------------------- feedback


@dataclass(frozen=True, slots=True)
class Feedback:
    rating: int | None
    attended: bool


async def record_feedback(
    store: Store,
    guild_id: int,
    session_id: str,
    user_id: int,
    *,
    rating: int | None = None,
    attended: bool | None = None,
) -> Feedback:
    """Set a member's rating and/or attendance (one row per member per session, changeable)."""
    if rating is not None and not 1 <= rating <= 5:
        raise ValueError("a rating is a whole number from 1 to 5")
    now = to_db(store.clock())
    async with store.transaction() as db:
        await db.execute(
            "INSERT OR IGNORE INTO session_feedback (guild_id, session_id, user_id, updated_at)"
            " VALUES (?, ?, ?, ?)",
            (guild_id, session_id, user_id, now),
        )
        await db.execute(
            "UPDATE session_feedback SET rating = COALESCE(?, rating),"
            " attended = COALESCE(?, attended), updated_at = ?"
            " WHERE guild_id = ? AND session_id = ? AND user_id = ?",
            (
                rating,
                None if attended is None else int(attended),
                now,
                guild_id,
                session_id,
                user_id,
            ),
        )
        rows = await db.execute_fetchall(
            "SELECT rating, attended FROM session_feedback"
            " WHERE guild_id = ? AND session_id = ? AND user_id = ?",
            (guild_id, session_id, user_id),
        )
    row = next(iter(rows))
    return Feedback(row[0], bool(row[1]))


@dataclass(frozen=True, slots=True)
class FeedbackFigures:
    attended: int
    ratings: int
    mean: float | None


async def feedback_figures(store: Store, guild_id: int) -> dict[str, FeedbackFigures]:
    """Per session: members who said they attended, ratings given and their mean."""
    rows = await store.fetch_all(
        "SELECT session_id, SUM(attended), COUNT(rating), AVG(rating) FROM session_feedback"
        " WHERE guild_id = ? GROUP BY session_id",
        (guild_id,),
    )
    return {
        row[0]: FeedbackFigures(
            int(row[1] or 0), int(row[2]), None if row[3] is None else float(row[3])
        )
        for row in rows
    }


# ---------------------------------------------------------------------------- crossposts


async def crossposts_since(store: Store, guild_id: int, prefix: str, since: str) -> list[str]:
    """Update times (oldest first) of one channel's crossposts (keys starting with `prefix`)
    made since `since` (db text): Discord allows about 10 an hour per channel."""
    rows = await store.fetch_all(
        "SELECT updated_at FROM deliveries WHERE guild_id = ? AND kind = 'crosspost'"
        " AND status = 'sent' AND substr(key, 1, ?) = ? AND updated_at >= ? ORDER BY updated_at",
        (guild_id, len(prefix), prefix, since),
    )
    return [row[0] for row in rows]


async def unfinished_crossposts(store: Store, guild_id: int, since: str) -> list[str]:
    """Keys of crossposts deferred or interrupted (failed or claimed) since `since`."""
    rows = await store.fetch_all(
        "SELECT key FROM deliveries WHERE guild_id = ? AND kind = 'crosspost'"
        " AND status IN ('failed', 'claimed') AND claimed_at >= ? ORDER BY claimed_at",
        (guild_id, since),
    )
    return [row[0] for row in rows]


# ------------------------------------------------------------------------------ figures


@dataclass(frozen=True, slots=True)
class SessionFigures:
    """Per session, for `/organiser stats` and the interest export."""

    by_command: int = 0
    by_event: int = 0
    attended: int = 0
    feedback: int = 0
    mean: float | None = None

    @property
    def registered(self) -> int:
        return self.by_command + self.by_event

    @property
    def is_empty(self) -> bool:
        return not (self.registered or self.attended or self.feedback)


async def session_figures(store: Store, guild_id: int) -> dict[str, SessionFigures]:
    """Registered (by command or button, by Discord event), attended, feedback count and mean."""
    sources = await interest_by_source(store, guild_id)
    feedback = await feedback_figures(store, guild_id)
    out = {}
    for session_id in sources.keys() | feedback.keys():
        src = sources.get(session_id, {})
        fb = feedback.get(session_id)
        out[session_id] = SessionFigures(
            by_command=src.get(COMMAND, 0),
            by_event=src.get(EVENT, 0),
            attended=fb.attended if fb else 0,
            feedback=fb.ratings if fb else 0,
            mean=fb.mean if fb else None,
        )
    return out


async def attendance(store: Store, guild_id: int) -> dict[str, int]:
    """Members who pressed "I attended", per session."""
    rows = await store.fetch_all(
        "SELECT session_id, COUNT(*) FROM session_feedback WHERE guild_id = ? AND attended = 1"
        " GROUP BY session_id",
        (guild_id,),
    )
    return {row[0]: int(row[1]) for row in rows}


async def ratings(store: Store, guild_id: int) -> dict[str, list[int]]:
    """Every rating (1-5) given, per session (counts only leave the bot; no member ids)."""
    out: dict[str, list[int]] = {}
    for session_id, rating in await store.fetch_all(
        "SELECT session_id, rating FROM session_feedback WHERE guild_id = ?"
        " AND rating IS NOT NULL ORDER BY session_id",
        (guild_id,),
    ):
        out.setdefault(session_id, []).append(int(rating))
    return out

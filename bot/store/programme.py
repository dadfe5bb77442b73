"""A guild's programme in SQLite: the event (``programmes``) and its sessions (``sessions``).

Each server has its own programme, seeded from ``QIWEEK_PROGRAMME`` until an organiser imports one.
Replacing a programme is one transaction that computes what changed: added and changed sessions
are upserted, removed ones are marked ``cancelled`` rather than deleted, so the registrations of
interest in them stay for the record (and come back to life if the session returns).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any, Literal

import aiosqlite

from bot.clock import from_db, to_db
from bot.programme import Event, Programme, ProgrammeDiff, Session, diff_programmes
from bot.store import Store

Source = Literal["seed", "import"]
SOURCES: tuple[str, ...] = ("seed", "import")

_COLUMNS = (
    "session_id, title, start_utc, end_utc, host, speakers, format, join_url, description,"
    " components, tags"
)


def content_hash(programme: Programme) -> str:
    """A digest of everything the programme says: loading the same content twice is a no-op."""
    payload = {
        "event": asdict(programme.event),
        "sessions": [s.to_dict() for s in sorted(programme.sessions, key=lambda s: s.id)],
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def _row_to_session(row: aiosqlite.Row) -> Session:
    return Session(
        id=row["session_id"],
        title=row["title"],
        start=from_db(row["start_utc"]),
        end=from_db(row["end_utc"]),
        host=row["host"],
        speakers=tuple(json.loads(row["speakers"])),
        format=row["format"],
        join_url=row["join_url"],
        description=row["description"],
        components=tuple(json.loads(row["components"])),
        tags=tuple(json.loads(row["tags"])),
    )


def _session_params(guild_id: int, session: Session) -> tuple[Any, ...]:
    return (
        guild_id,
        session.id,
        session.title,
        to_db(session.start),
        to_db(session.end),
        session.host,
        json.dumps(list(session.speakers), ensure_ascii=False),
        session.format,
        session.join_url,
        session.description,
        json.dumps(list(session.components)),
        json.dumps(list(session.tags), ensure_ascii=False),
    )


def _event_from_json(text: str) -> Event:
    data = json.loads(text)
    known = {k: v for k, v in data.items() if k in Event.__dataclass_fields__}
    return Event(**known)


async def _active_sessions(db: aiosqlite.Connection, guild_id: int) -> list[Session]:
    rows = await db.execute_fetchall(
        f"SELECT {_COLUMNS} FROM sessions WHERE guild_id = ? AND cancelled = 0"
        " ORDER BY start_utc, title, session_id",
        (guild_id,),
    )
    return [_row_to_session(row) for row in rows]


async def active_sessions(store: Store, guild_id: int) -> list[Session]:
    """The sessions in force (not cancelled), in time order."""
    return await _active_sessions(store.db, guild_id)


async def diff_against_stored(store: Store, guild_id: int, programme: Programme) -> ProgrammeDiff:
    """What `replace_programme` would change, without changing anything (an import preview)."""
    return diff_programmes(await _active_sessions(store.db, guild_id), programme.sessions)


async def replace_programme(
    store: Store, guild_id: int, programme: Programme, source: Source
) -> ProgrammeDiff:
    """Make ``programme`` the guild's programme, atomically; returns what changed.

    Sessions missing from ``programme`` are marked cancelled (their registrations stay); a
    cancelled session that comes back is revived. Loading the same content again writes nothing
    and returns an empty diff (only a change of ``source`` is recorded).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    digest = content_hash(programme)
    now = to_db(store.clock())
    async with store.transaction() as db:
        rows = await db.execute_fetchall(
            "SELECT source, content_hash FROM programmes WHERE guild_id = ?", (guild_id,)
        )
        current = next(iter(rows), None)
        if current is not None and current["content_hash"] == digest:
            if current["source"] != source:
                await db.execute(
                    "UPDATE programmes SET source = ?, loaded_at = ? WHERE guild_id = ?",
                    (source, now, guild_id),
                )
            return ProgrammeDiff()
        diff = diff_programmes(await _active_sessions(db, guild_id), programme.sessions)
        upserts = [*diff.added, *(new for _, new in diff.changed)]
        await db.executemany(
            f"INSERT INTO sessions (guild_id, {_COLUMNS}, cancelled)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"
            " ON CONFLICT (guild_id, session_id) DO UPDATE SET title = excluded.title,"
            " start_utc = excluded.start_utc, end_utc = excluded.end_utc,"
            " host = excluded.host, speakers = excluded.speakers, format = excluded.format,"
            " join_url = excluded.join_url, description = excluded.description,"
            " components = excluded.components, tags = excluded.tags, cancelled = 0",
            [_session_params(guild_id, s) for s in upserts],
        )
        await db.executemany(
            "UPDATE sessions SET cancelled = 1 WHERE guild_id = ? AND session_id = ?",
            [(guild_id, s.id) for s in diff.removed],
        )
        await db.execute(
            "INSERT INTO programmes (guild_id, source, event_json, content_hash, loaded_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET"
            " source = excluded.source, event_json = excluded.event_json,"
            " content_hash = excluded.content_hash, loaded_at = excluded.loaded_at",
            (
                guild_id,
                source,
                json.dumps(asdict(programme.event), ensure_ascii=False),
                digest,
                now,
            ),
        )
        if not diff.is_empty:
            # The outbox: committed with the programme, so a stop before the change listeners
            # have run leaves it pending for the next start (see `pending_changes`).
            await db.execute(
                "INSERT INTO programme_changes (guild_id, diff_json, created_at) VALUES (?, ?, ?)",
                (guild_id, diff_to_json(diff), now),
            )
    return diff


def diff_to_json(diff: ProgrammeDiff) -> str:
    """A diff as JSON text (sessions via `Session.to_dict`; changes as [old, new] pairs)."""
    payload = {
        "added": [s.to_dict() for s in diff.added],
        "changed": [[old.to_dict(), new.to_dict()] for old, new in diff.changed],
        "removed": [s.to_dict() for s in diff.removed],
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def diff_from_json(text: str) -> ProgrammeDiff:
    """Inverse of :func:`diff_to_json`."""
    data = json.loads(text)
    return ProgrammeDiff(
        added=tuple(Session.from_dict(s) for s in data.get("added", ())),
        changed=tuple(
            (Session.from_dict(old), Session.from_dict(new)) for old, new in data.get("changed", ())
        ),
        removed=tuple(Session.from_dict(s) for s in data.get("removed", ())),
    )


async def pending_changes(store: Store, guild_id: int) -> list[tuple[int, ProgrammeDiff]]:
    """The guild's stored programme changes whose listeners have not all run yet, oldest first."""
    rows = await store.fetch_all(
        "SELECT id, diff_json FROM programme_changes"
        " WHERE guild_id = ? AND handled_at IS NULL ORDER BY id",
        (guild_id,),
    )
    return [(int(row["id"]), diff_from_json(row["diff_json"])) for row in rows]


async def mark_change_handled(store: Store, change_id: int) -> None:
    """Record that every change listener has run for this change (it is not replayed again)."""
    await store.db.execute(
        "UPDATE programme_changes SET handled_at = ? WHERE id = ? AND handled_at IS NULL",
        (to_db(store.clock()), change_id),
    )


async def read_stored_programme(store: Store, guild_id: int) -> Programme | None:
    """The guild's programme (active sessions only), or None when it never had one."""
    row = await store.fetch_one("SELECT event_json FROM programmes WHERE guild_id = ?", (guild_id,))
    if row is None:
        return None
    sessions = await _active_sessions(store.db, guild_id)
    return Programme(event=_event_from_json(row["event_json"]), sessions=tuple(sessions))


async def get_session(
    store: Store, guild_id: int, session_id: str, include_cancelled: bool = False
) -> Session | None:
    """One session by id; a cancelled one only when asked (e.g. to name it in a notice)."""
    sql = f"SELECT {_COLUMNS} FROM sessions WHERE guild_id = ? AND session_id = ?"
    if not include_cancelled:
        sql += " AND cancelled = 0"
    row = await store.fetch_one(sql, (guild_id, session_id))
    return None if row is None else _row_to_session(row)


async def is_cancelled(store: Store, guild_id: int, session_id: str) -> bool:
    """True for a session that was in the programme and has been removed since."""
    row = await store.fetch_one(
        "SELECT cancelled FROM sessions WHERE guild_id = ? AND session_id = ?",
        (guild_id, session_id),
    )
    return row is not None and bool(row["cancelled"])


async def has_programme(store: Store, guild_id: int) -> bool:
    return (
        await store.fetch_one("SELECT 1 FROM programmes WHERE guild_id = ?", (guild_id,))
        is not None
    )


async def programme_source(store: Store, guild_id: int) -> Source | None:
    """'seed' (the shipped or configured file), 'import' (an organiser's own), or None."""
    row = await store.fetch_one("SELECT source FROM programmes WHERE guild_id = ?", (guild_id,))
    return None if row is None else row["source"]


async def loaded_at(store: Store, guild_id: int) -> str | None:
    """When the programme last changed (ISO UTC text), for `/organiser stats`."""
    row = await store.fetch_one("SELECT loaded_at FROM programmes WHERE guild_id = ?", (guild_id,))
    return None if row is None else row["loaded_at"]


__all__ = [
    "SOURCES",
    "Source",
    "active_sessions",
    "content_hash",
    "diff_against_stored",
    "diff_from_json",
    "diff_to_json",
    "get_session",
    "has_programme",
    "is_cancelled",
    "loaded_at",
    "mark_change_handled",
    "pending_changes",
    "programme_source",
    "read_stored_programme",
    "replace_programme",
]

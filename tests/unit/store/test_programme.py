"""A guild's stored programme: replace computes the diff, is idempotent, cancels instead of
deleting (registrations stay), and keeps guilds apart."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.programme import Event, Programme, Session
from bot.programme import load_programme as load_file
from bot.store import Store
from bot.store.interest import add_interest, count_interested, interested_users
from bot.store.programme import (
    content_hash,
    diff_against_stored,
    get_session,
    has_programme,
    is_cancelled,
    loaded_at,
    mark_change_handled,
    pending_changes,
    programme_source,
    read_stored_programme,
    replace_programme,
)

ROOT = Path(__file__).resolve().parents[3]
GUILD = 111
OTHER = 222
MONDAY = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


def _session(n: int, **changes: object) -> Session:
    start = MONDAY + timedelta(hours=n)
    base = Session(
        id=f"s{n}",
        title=f"Session {n}",
        start=start,
        end=start + timedelta(minutes=45),
        host="Example NHS Trust",
        speakers=("Alex Example", "Zoë Sample"),
        format="QI café",
        join_url=f"https://example.org/{n}",
        description="Line one\nline two — with unicode ✓",
        components=(1, 4),
        tags=("cafe",),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _programme(*sessions: Session, theme: str = "QI is for Everyone") -> Programme:
    return Programme(event=Event(name="QI Week", theme=theme), sessions=sessions)


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "qiweek.db") as s:
        yield s


async def test_first_load_adds_everything_and_round_trips_every_field(store: Store) -> None:
    sample = load_file(ROOT / "data" / "programme.yaml", "Europe/London")
    assert not await has_programme(store, GUILD)
    assert await read_stored_programme(store, GUILD) is None
    assert await programme_source(store, GUILD) is None

    diff = await replace_programme(store, GUILD, sample, "seed")

    assert len(diff.added) == len(sample.sessions) and not diff.changed and not diff.removed
    loaded = await read_stored_programme(store, GUILD)
    assert loaded == sample  # event and every session field, times in UTC
    assert await has_programme(store, GUILD)
    assert await programme_source(store, GUILD) == "seed"
    one = sample.sessions[0]
    assert await get_session(store, GUILD, one.id) == one
    assert await get_session(store, GUILD, "no-such-session") is None


async def test_loading_the_same_content_again_changes_nothing(store: Store) -> None:
    programme = _programme(_session(1), _session(2))
    await replace_programme(store, GUILD, programme, "seed")
    stamp = await loaded_at(store, GUILD)
    # Same content built afresh (sessions in another order): the same hash, an empty diff.
    again = _programme(_session(2), _session(1))
    assert content_hash(again) == content_hash(programme)
    diff = await replace_programme(store, GUILD, again, "seed")
    assert diff.is_empty
    assert await loaded_at(store, GUILD) == stamp
    assert await diff_against_stored(store, GUILD, again) == diff


async def test_a_changed_programme_yields_added_changed_and_removed(store: Store) -> None:
    await replace_programme(store, GUILD, _programme(_session(1), _session(2), _session(3)), "seed")
    moved = _session(2, start=MONDAY + timedelta(hours=5), end=MONDAY + timedelta(hours=6))
    renamed = _session(3, title="Session three, renamed")
    new = _programme(_session(4), moved, renamed, theme="A new theme")

    preview = await diff_against_stored(store, GUILD, new)
    diff = await replace_programme(store, GUILD, new, "import")

    assert diff == preview
    assert [s.id for s in diff.added] == ["s4"]
    assert [(old.id, new.title) for old, new in diff.changed] == [
        ("s3", "Session three, renamed"),
        ("s2", "Session 2"),
    ]
    assert [old.start for old, _ in diff.moved] == [MONDAY + timedelta(hours=2)]
    assert [s.id for s in diff.removed] == ["s1"]
    loaded = await read_stored_programme(store, GUILD)
    assert loaded is not None
    assert [s.id for s in loaded.sessions] == ["s3", "s4", "s2"]
    assert loaded.get("s2") == moved
    assert loaded.event.theme == "A new theme"
    assert await programme_source(store, GUILD) == "import"


async def test_a_removed_session_is_cancelled_and_keeps_its_registrations(store: Store) -> None:
    await replace_programme(store, GUILD, _programme(_session(1), _session(2)), "seed")
    await add_interest(store, GUILD, "s1", 1001)
    await add_interest(store, GUILD, "s1", 1002)

    diff = await replace_programme(store, GUILD, _programme(_session(2)), "seed")

    assert [s.id for s in diff.removed] == ["s1"]
    assert await get_session(store, GUILD, "s1") is None
    assert await get_session(store, GUILD, "s1", include_cancelled=True) == _session(1)
    assert await is_cancelled(store, GUILD, "s1")
    assert await count_interested(store, GUILD, "s1") == 2  # kept for the record
    loaded = await read_stored_programme(store, GUILD)
    assert loaded is not None and [s.id for s in loaded.sessions] == ["s2"]
    with sqlite3.connect(store.path) as raw:
        rows = raw.execute("SELECT session_id, cancelled FROM sessions ORDER BY 1").fetchall()
    assert rows == [("s1", 1), ("s2", 0)]

    # Removing it again is not a second change.
    assert (await replace_programme(store, GUILD, _programme(_session(2)), "seed")).is_empty

    # It comes back (changed): it is added again, revived, and its registrations are intact.
    back = _session(1, title="Session 1 is back")
    diff = await replace_programme(store, GUILD, _programme(back, _session(2)), "seed")
    assert [s.id for s in diff.added] == ["s1"] and not diff.changed
    assert not await is_cancelled(store, GUILD, "s1")
    assert await get_session(store, GUILD, "s1") == back
    assert await interested_users(store, GUILD, "s1") == [1001, 1002]


async def test_a_change_of_source_alone_is_recorded_without_a_diff(store: Store) -> None:
    programme = _programme(_session(1))
    await replace_programme(store, GUILD, programme, "seed")
    assert (await replace_programme(store, GUILD, programme, "import")).is_empty
    assert await programme_source(store, GUILD) == "import"
    with pytest.raises(ValueError):
        await replace_programme(store, GUILD, programme, "upload")  # type: ignore[arg-type]


async def test_guilds_have_their_own_programmes(store: Store) -> None:
    await replace_programme(store, GUILD, _programme(_session(1), _session(2)), "seed")
    diff = await replace_programme(store, OTHER, _programme(_session(2, title="Other")), "import")
    assert [s.id for s in diff.added] == ["s2"]
    mine = await read_stored_programme(store, GUILD)
    theirs = await read_stored_programme(store, OTHER)
    assert mine is not None and theirs is not None
    assert [s.title for s in mine.sessions] == ["Session 1", "Session 2"]
    assert [s.title for s in theirs.sessions] == ["Other"]
    assert await programme_source(store, GUILD) == "seed"
    assert await programme_source(store, OTHER) == "import"


async def test_a_failed_replace_leaves_the_stored_programme_as_it_was(store: Store) -> None:
    await replace_programme(store, GUILD, _programme(_session(1), _session(2)), "seed")
    # A trigger makes the cancel step fail part-way through the one transaction.
    await store.db.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE OF cancelled ON sessions"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    await store.db.commit()
    with pytest.raises(sqlite3.IntegrityError):
        await replace_programme(store, GUILD, _programme(_session(3), _session(2)), "import")
    loaded = await read_stored_programme(store, GUILD)
    assert loaded is not None and [s.id for s in loaded.sessions] == ["s1", "s2"]
    assert await get_session(store, GUILD, "s3", include_cancelled=True) is None
    assert await programme_source(store, GUILD) == "seed"


async def test_a_non_empty_replace_stores_one_pending_change_that_round_trips(
    store: Store,
) -> None:
    await replace_programme(store, GUILD, _programme(_session(1), _session(2)), "seed")
    (first,) = await pending_changes(store, GUILD)
    await mark_change_handled(store, first[0])
    assert await pending_changes(store, GUILD) == []

    changed = _programme(_session(1, title="Renamed"), _session(3))
    diff = await replace_programme(store, GUILD, changed, "import")
    assert not diff.is_empty
    pending = await pending_changes(store, GUILD)
    assert len(pending) == 1
    change_id, stored = pending[0]
    assert stored == diff
    assert stored.changed[0][0].title == "Session 1" and stored.changed[0][1].title == "Renamed"
    assert [s.id for s in stored.added] == ["s3"] and [s.id for s in stored.removed] == ["s2"]
    assert await pending_changes(store, OTHER) == []

    # The same content again: an empty diff, and nothing more in the outbox.
    assert (await replace_programme(store, GUILD, changed, "import")).is_empty
    assert [cid for cid, _ in await pending_changes(store, GUILD)] == [change_id]

    await mark_change_handled(store, change_id)
    assert await pending_changes(store, GUILD) == []
    await mark_change_handled(store, change_id)  # again: a no-op
    assert await pending_changes(store, GUILD) == []

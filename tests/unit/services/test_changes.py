"""Schedule-change notices: which changes are told, their digest, and the stored notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.delivery.keys import change_dm_key, change_key, dm_key, reminder_key
from bot.programme import ProgrammeDiff, Session
from bot.services.changes import Change, change_of, changes_to_notify, notice_of
from bot.store import Ledger, Store
from bot.store import changes as changes_store
from bot.store.migrations import MIGRATIONS

GUILD = 42


T0 = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


def session(
    session_id: str = "cafe", start: datetime = T0, minutes: int = 45, **extra: object
) -> Session:
    values: dict[str, object] = {
        "title": f"Session {session_id}",
        "end": start + timedelta(minutes=minutes),
        "join_url": f"https://example.org/{session_id}",
    }
    values.update(extra)
    return Session(id=session_id, start=start, **values)  # type: ignore[arg-type]


def test_keys_follow_the_conventions() -> None:
    assert reminder_key(GUILD, "cafe", 15, T0) == "reminder:42:cafe:15:2026-09-14T08:30:00+00:00"
    assert dm_key(GUILD, "cafe", 15, T0, 7) == "dm:42:cafe:15:2026-09-14T08:30:00+00:00:7"
    moved = Change(session("cafe"), session("cafe", T0 + timedelta(hours=1)))
    assert change_dm_key(GUILD, "cafe", moved.digest, 7).startswith("change-dm:42:cafe:")
    same = Change(session("cafe"), session("cafe", T0 + timedelta(hours=1)))
    other = Change(session("cafe"), session("cafe", T0 + timedelta(hours=2)))
    assert moved.digest == same.digest != other.digest
    assert Change(session("cafe"), None).digest != moved.digest


def test_only_changes_that_still_matter_are_notified() -> None:
    now = T0 + timedelta(hours=2)
    past = session("past")
    future = session("future", T0 + timedelta(hours=3))
    later = session("renamed", T0 + timedelta(hours=3))
    renamed = Session(id=later.id, title="New name", start=later.start, end=later.end)
    diff = ProgrammeDiff(
        changed=(
            (past, session("past", T0 + timedelta(minutes=5))),  # both over: nobody cares
            (future, session("future", T0 + timedelta(hours=4))),
            (later, renamed),  # same time, new title: not a schedule change
        ),
        removed=(past, session("gone", T0 + timedelta(hours=5))),
    )
    changes = changes_to_notify(diff, now)
    assert [(c.session_id, c.new is None) for c in changes] == [("future", False), ("gone", True)]


async def test_change_notices_are_stored_once_and_done_when_settled(tmp_path: Path) -> None:
    moved = Change(session("cafe"), session("cafe", T0 + timedelta(hours=1), title="New name"))
    gone = Change(session("pdsa"), None)
    async with Store(tmp_path / "changes.db") as store:
        assert await store.schema_version() == len(MIGRATIONS)
        notices = [notice_of(GUILD, moved), notice_of(GUILD, gone)]
        assert await changes_store.add_notices(store, notices) == 2
        assert await changes_store.add_notices(store, notices) == 0  # the same change: once
        pending = await changes_store.pending_notices(store, GUILD)
        assert [(n.session_id, n.kind) for n in pending] == [
            ("cafe", "moved"),
            ("pdsa", "cancelled"),
        ]
        assert await changes_store.pending_notices(store, GUILD + 1) == []
        # Back to the same change: same digest, so the same ledger keys.
        back = change_of(pending[0])
        assert back.digest == moved.digest and back.new is not None
        assert back.new.title == "New name" and back.new.start == T0 + timedelta(hours=1)
        assert change_of(pending[1]).new is None and change_of(pending[1]).digest == gone.digest

        ledger = Ledger(store)
        await ledger.claim(
            change_dm_key(GUILD, "cafe", moved.digest, 7), kind="change-dm", guild_id=GUILD
        )
        await ledger.claim(change_key(GUILD, "cafe", moved.digest), kind="change", guild_id=GUILD)
        await ledger.mark_sent(change_key(GUILD, "cafe", moved.digest), 99)
        prefix = f"change-dm:{GUILD}:cafe:{moved.digest}:"
        assert await changes_store.unsettled_keys(store, prefix) == [f"{prefix}7"]
        assert await changes_store.unsettled_keys(store, f"change:{GUILD}:cafe:") == []

        assert await changes_store.mark_done(store, GUILD, "cafe", moved.digest)
        assert not await changes_store.mark_done(store, GUILD, "cafe", moved.digest)
        assert [n.session_id for n in await changes_store.pending_notices(store, GUILD)] == ["pdsa"]
        done = await changes_store.get_notice(store, GUILD, "cafe", moved.digest)
        assert done is not None and done.done_at is not None

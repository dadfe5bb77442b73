"""Ledger keys: one builder per kind, every one read back by the one parser."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from bot.delivery import keys
from bot.delivery.keys import Kind, kind_of, parse_key

DAY = date(2026, 9, 14)
START = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)
DIGEST = "0123456789ab"

#: kind -> (built key, the fields the parser must give back, how to rebuild it from them)
CASES: dict[Kind, tuple[str, dict[str, str | None], Callable[[keys.ParsedKey], str]]] = {
    Kind.DAILY: (
        keys.daily_key(42, DAY, 2),
        {"guild": "42", "day": "2026-09-14", "part": "2"},
        lambda p: keys.daily_key(
            p.int("guild"), date.fromisoformat(p.fields["day"]), p.int("part")
        ),
    ),
    Kind.DIGEST: (
        keys.digest_key(42, DAY, 1),
        {"guild": "42", "day": "2026-09-14", "part": "1"},
        lambda p: keys.digest_key(
            p.int("guild"), date.fromisoformat(p.fields["day"]), p.int("part")
        ),
    ),
    Kind.WEEKLY: (
        keys.weekly_key(42, DAY, 3),
        {"guild": "42", "day": "2026-09-14", "part": "3"},
        lambda p: keys.weekly_key(
            p.int("guild"), date.fromisoformat(p.fields["day"]), p.int("part")
        ),
    ),
    Kind.REMINDER: (
        keys.reminder_key(42, "qi:cafe", 15, START),
        {"guild": "42", "session": "qi:cafe", "lead": "15", "start": "2026-09-14T08:30:00+00:00"},
        lambda p: keys.reminder_key(
            p.int("guild"),
            p.fields["session"],
            p.int("lead"),
            datetime.fromisoformat(p.fields["start"]),
        ),
    ),
    Kind.REMINDER_MENTIONS: (
        keys.reminder_mentions_key(42, "cafe", 60, START, 2),
        {"guild": "42", "session": "cafe", "lead": "60", "part": "2"},
        lambda p: keys.reminder_mentions_key(
            p.int("guild"),
            p.fields["session"],
            p.int("lead"),
            datetime.fromisoformat(p.fields["start"]),
            p.int("part"),
        ),
    ),
    Kind.DM: (
        keys.dm_key(42, "cafe", 15, START, 7),
        {"guild": "42", "session": "cafe", "lead": "15", "user": "7"},
        lambda p: keys.dm_key(
            p.int("guild"),
            p.fields["session"],
            p.int("lead"),
            datetime.fromisoformat(p.fields["start"]),
            p.int("user"),
        ),
    ),
    Kind.CHANGE: (
        keys.change_key(42, "cafe", DIGEST, 1),
        {"guild": "42", "session": "cafe", "digest": DIGEST, "part": "1"},
        lambda p: keys.change_key(
            p.int("guild"), p.fields["session"], p.fields["digest"], p.int("part")
        ),
    ),
    Kind.CHANGE_DM: (
        keys.change_dm_key(42, "cafe", DIGEST, 7),
        {"guild": "42", "session": "cafe", "digest": DIGEST, "user": "7"},
        lambda p: keys.change_dm_key(
            p.int("guild"), p.fields["session"], p.fields["digest"], p.int("user")
        ),
    ),
    Kind.SHARE_NOTICE: (
        keys.share_notice_key(42, 7, 1789),
        {"guild": "42", "user": "7", "attempt": "1789"},
        lambda p: keys.share_notice_key(p.int("guild"), p.int("user"), p.int("attempt")),
    ),
    Kind.FIRST_DM: (
        keys.first_dm_key(42, 7),
        {"guild": "42", "user": "7", "attempt": None},
        lambda p: keys.first_dm_key(p.int("guild"), p.int("user"), p.int("attempt")),
    ),
    Kind.ALERT: (
        keys.alert_key(42, 3),
        {"guild": "42", "alert": "3"},
        lambda p: keys.alert_key(p.int("guild"), p.int("alert")),
    ),
    Kind.ANNOUNCEMENT: (
        keys.announcement_key(12),
        {"announcement": "12"},
        lambda p: keys.announcement_key(p.int("announcement")),
    ),
    Kind.ANNOUNCEMENT_DM: (
        keys.announcement_dm_key(12, 7),
        {"announcement": "12", "user": "7"},
        lambda p: keys.announcement_dm_key(p.int("announcement"), p.int("user")),
    ),
    Kind.ANNOUNCEMENT_MISSED: (
        keys.announcement_missed_key(12),
        {"announcement": "12"},
        lambda p: keys.announcement_missed_key(p.int("announcement")),
    ),
    Kind.ANNOUNCEMENT_FAILED: (
        keys.announcement_failed_key(12),
        {"announcement": "12"},
        lambda p: keys.announcement_failed_key(p.int("announcement")),
    ),
    **{
        kind: (
            build(42, "qi:cafe", START),
            {"guild": "42", "session": "qi:cafe", "start": "2026-09-14T08:30:00+00:00"},
            lambda p, build=build: build(
                p.int("guild"), p.fields["session"], datetime.fromisoformat(p.fields["start"])
            ),
        )
        for kind, build in (
            (Kind.LIVE, keys.live_key),
            (Kind.LIVE_THREAD, keys.live_thread_key),
            (Kind.FEEDBACK, keys.feedback_key),
        )
    },
    Kind.CROSSPOST: (
        keys.crosspost_key(42, 5, 6),
        {"guild": "42", "channel": "5", "message": "6"},
        lambda p: keys.crosspost_key(p.int("guild"), p.int("channel"), p.int("message")),
    ),
}


def test_every_kind_has_a_case() -> None:
    assert set(CASES) == set(Kind)


@pytest.mark.parametrize("kind", list(Kind), ids=str)
def test_every_kind_round_trips(kind: Kind) -> None:
    key, fields, rebuild = CASES[kind]
    parsed = parse_key(key)
    assert parsed.kind is kind and kind_of(key) is kind
    assert key.startswith(f"{kind.value}:")
    for name, value in fields.items():
        assert parsed.fields[name] == value, name
    assert rebuild(parsed) == key


def test_keys_keep_their_stored_spelling() -> None:
    """Rows written by earlier versions must still match: the spelling never changes."""
    assert keys.daily_key(42, DAY) == "daily:42:2026-09-14"
    assert keys.daily_key(42, DAY, 1) == "daily:42:2026-09-14:1"
    assert keys.digest_key(42, DAY, 1) == "digest:42:2026-09-14:1"
    assert (
        keys.reminder_key(42, "cafe", 15, START) == "reminder:42:cafe:15:2026-09-14T08:30:00+00:00"
    )
    assert keys.dm_key(42, "cafe", 15, START, 7) == "dm:42:cafe:15:2026-09-14T08:30:00+00:00:7"
    assert keys.change_key(42, "cafe", DIGEST) == f"change:42:cafe:{DIGEST}"
    assert keys.change_dm_prefix(42, "cafe", DIGEST) == f"change-dm:42:cafe:{DIGEST}:"
    assert keys.announcement_dm_key(12, 7) == "announcement-dm:12:7"
    assert keys.share_notice_key(42, 7) == "share-notice:42:7"


@pytest.mark.parametrize("bad", ["", "nonsense:1", "daily:x:2026-09-14", "dm:42:cafe:15:7"])
def test_a_key_no_builder_makes_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_key(bad)

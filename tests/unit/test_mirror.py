"""The pure core of the scheduled-event mirror: event fields within Discord's limits, the rolling
window, the room the server's cap leaves, and the sync plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import mirror
from bot.programme import Session

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)


def session(i: int, *, start: datetime | None = None, **extra: object) -> Session:
    begin = start or T0 + timedelta(hours=i)
    return Session(
        id=f"s{i}",
        title=str(extra.pop("title", f"Session {i}")),
        start=begin,
        end=begin + timedelta(minutes=45),
        host=str(extra.pop("host", "Example NHS Trust")),
        join_url=str(extra.pop("join_url", f"https://example.org/join/{i}")),
        **extra,  # type: ignore[arg-type]
    )


def test_shorten_never_cuts_mid_word_when_a_space_is_near() -> None:
    text = "Building improvement capability and capacity across the integrated care system " * 3
    short = mirror.shorten(text, 100)
    assert len(short) <= 100 and short.endswith("...")
    assert text.startswith(short[:-3]) and text[len(short) - 3] == " "
    assert mirror.shorten("Short", 100) == "Short"


def test_event_spec_respects_discords_limits() -> None:
    s = session(
        1,
        title="T" * 150,
        description="word " * 400,
        speakers=("Dr A", "Dr B"),
        format="QI café",
        components=(1, 4),
    )
    spec = mirror.event_spec(s)
    assert len(spec.name) <= 100
    assert 1 <= len(spec.location) <= 100 and spec.location == "https://example.org/join/1"
    assert len(spec.description) <= 1000
    for fact in ("Host: Example NHS Trust", "Speakers: Dr A, Dr B", "Join: https://", "IMPACT"):
        assert fact in spec.description


def test_a_long_link_goes_in_the_description_and_the_host_is_the_location() -> None:
    link = "https://teams.example.org/l/meetup-join/" + "x" * 120
    spec = mirror.event_spec(session(1, join_url=link))
    assert spec.location == "Example NHS Trust" and link in spec.description
    assert mirror.event_spec(session(2, join_url="", host="")).location == "Online"


def test_the_fingerprint_changes_with_what_members_see() -> None:
    a = mirror.event_spec(session(1))
    assert a.fingerprint == mirror.event_spec(session(1)).fingerprint
    assert a.fingerprint != mirror.event_spec(session(1, title="Renamed")).fingerprint
    moved = session(1, start=T0 + timedelta(hours=5))
    assert a.fingerprint != mirror.event_spec(moved).fingerprint


def test_window_is_the_next_sessions_in_time_order() -> None:
    sessions = [session(i) for i in range(10)]
    now = T0 + timedelta(hours=2, minutes=10)  # s2 is running, s0 and s1 are over
    assert [s.id for s in mirror.window(reversed(sessions), now, 3)] == ["s2", "s3", "s4"]
    assert mirror.window(sessions, now, 0) == []


def test_room_leaves_the_organisers_events_their_place() -> None:
    assert mirror.room(90, 0) == 90
    assert mirror.room(90, 15) == 85
    assert mirror.room(90, 120) == 0


def live(s: Session, event_id: int, status: int = 1, fingerprint: str | None = None) -> mirror.Live:
    fp = fingerprint or mirror.event_spec(s).fingerprint
    return mirror.Live(event_id, s.id, fp, status)


def test_plan_creates_edits_cancels_and_drops() -> None:
    s = [session(i) for i in range(5)]
    now = T0 - timedelta(hours=1)
    current = {
        "s0": live(s[0], 100),  # unchanged
        "s1": live(s[1], 101, fingerprint="old"),  # edited
        "gone": mirror.Live(102, "gone", "x", 1),  # removed from the programme: cancelled
        "s4": live(s[4], 104),  # out of the window of 3: dropped
    }
    plan = mirror.plan_sync(sessions=s, live=current, now=now, size=3)
    assert plan.cancel == [102] and plan.drop == [104]
    assert [(e, spec.session_id) for e, spec in plan.edit] == [(101, "s1")]
    assert [spec.session_id for spec in plan.create] == ["s2"]


def test_plan_never_creates_a_started_session_nor_touches_finished_events() -> None:
    s = [session(0), session(1)]
    now = T0 + timedelta(minutes=10)  # s0 started, no event yet
    finished = {"s1": live(s[1], 7, status=3)}
    plan = mirror.plan_sync(sessions=s, live=finished, now=now, size=5)
    assert [spec.session_id for spec in plan.create] == ["s1"]  # recreated (completed early)
    assert plan.cancel == [] and plan.drop == []
    assert mirror.plan_sync(sessions=[], live={"s1": live(s[1], 7, 4)}, now=now, size=5).is_empty


def test_event_url() -> None:
    assert mirror.event_url(1, 2) == "https://discord.com/events/1/2"

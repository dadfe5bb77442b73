"""Pre-flight warnings: each kind of likely mistake, named with its place; the sample has none."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.programme import Programme, load_programme, parse_programme
from bot.programme.preflight import KINDS, event_week, programme_warnings
from tests.harness import SAMPLE_PROGRAMME, make_session

LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"
HEADER = "title,start,end,host,join_url\n"
FINE = "Fine,2026-09-14 10:00,2026-09-14 11:00,Team A,https://example.org/a\n"


def warnings_of(rows: str, **kwargs: int) -> list[str]:
    programme = parse_programme((HEADER + FINE + rows).encode(), "p.csv", TZ)
    return [f"{w.kind} | {w}" for w in programme_warnings(programme, **kwargs)]


def test_the_shipped_sample_has_no_warnings() -> None:
    assert programme_warnings(load_programme(SAMPLE_PROGRAMME, TZ)) == []


def test_a_clean_programme_has_none() -> None:
    assert warnings_of("") == []


def test_a_session_without_a_join_link() -> None:
    assert warnings_of("No link,2026-09-14 12:00,2026-09-14 13:00,Team B,\n") == [
        "no-link | row 3: 'No link' has no join link (join_url)"
    ]


def test_a_join_link_that_is_not_https() -> None:
    assert warnings_of("Plain,2026-09-14 12:00,2026-09-14 13:00,Team B,http://example.org/p\n") == [
        "not-https | row 3: the join link of 'Plain' is not https: http://example.org/p"
    ]


def test_two_sessions_of_the_same_host_overlapping() -> None:
    rows = (
        "Clash,2026-09-14 10:30,2026-09-14 11:30,team a,https://example.org/c\n"
        "Back to back,2026-09-14 11:30,2026-09-14 12:00,Team A,https://example.org/b\n"
        "Other host,2026-09-14 10:00,2026-09-14 11:00,Team B,https://example.org/o\n"
    )
    assert warnings_of(rows) == [
        "host-overlap | row 3: 'Clash' overlaps 'Fine' (row 2), both hosted by team a"
    ]


@pytest.mark.parametrize(
    ("at", "warned"),
    [("22:00", True), ("23:30", True), ("03:00", True), ("06:29", True), ("06:30", False)],
)
def test_a_session_starting_in_the_night(at: str, warned: bool) -> None:
    found = warnings_of(
        f"Night,2026-09-15 {at},,Team B,https://example.org/n\n".replace(
            ",,", ",2026-09-16 00:30," if at >= "22" else ",2026-09-15 07:00,"
        )
    )
    expected = [
        f"night | row 3: 'Night' starts at {at} Europe/London, in the night: "
        "is the time or the timezone wrong?"
    ]
    assert found == (expected if warned else [])


def test_sessions_outside_the_events_week() -> None:
    rows = (
        "Saturday,2026-09-19 10:00,2026-09-19 11:00,Team B,https://example.org/s\n"
        "Sunday before,2026-09-13 10:00,2026-09-13 11:00,Team B,https://example.org/b\n"
    )
    found = warnings_of(rows)
    # The first session (Sunday 13th) is a warm-up: the week is Monday 14 to Friday 18.
    assert found == [
        "outside-week | row 4: 'Sunday before' is on Sunday 13 September 2026, outside the "
        "event's week (Monday 14 September to Friday 18 September 2026, the week of the first "
        "session)",
        "outside-week | row 3: 'Saturday' is on Saturday 19 September 2026, outside the "
        "event's week (Monday 14 September to Friday 18 September 2026, the week of the first "
        "session)",
    ]
    programme = parse_programme((HEADER + FINE + rows).encode(), "p.csv", TZ)
    assert event_week(programme) == (date(2026, 9, 14), date(2026, 9, 18))
    later = parse_programme((HEADER + FINE).encode(), "p.csv", TZ)
    assert event_week(later) == (date(2026, 9, 14), date(2026, 9, 18))


def test_more_sessions_in_seven_days_than_the_events_cap_leaves_room_for() -> None:
    start = datetime(2026, 9, 14, 9, tzinfo=LONDON)
    sessions = [
        make_session(f"S{n}", start + timedelta(minutes=20 * n), 15, join_url="https://x.org")
        for n in range(12)
    ]
    programme = Programme(sessions=tuple(sessions))
    assert [w.kind for w in programme_warnings(programme, events_max=12)] == []
    (warning,) = programme_warnings(programme, events_max=11)
    assert warning.kind == "too-many"
    assert str(warning) == (
        f"session {sessions[0].id}: 12 sessions in the 7 days from 'S0'; the scheduled-events "
        "cap leaves room for 11 (QIWEEK_EVENTS_MAX): the rest get no Discord event"
    )


def test_two_sessions_with_the_same_title_on_the_same_day() -> None:
    rows = (
        "fine ,2026-09-14 15:00,2026-09-14 16:00,Team B,https://example.org/f\n"
        "Fine,2026-09-15 10:00,2026-09-15 11:00,Team A,https://example.org/a2\n"
    )
    assert warnings_of(rows) == [
        "same-title | row 3: 'fine' is on the same day as a session with the same title "
        "(row 2): a duplicate?"
    ]


def test_every_kind_is_listed_in_kind_order() -> None:
    rows = (
        "No link,2026-09-14 12:00,2026-09-14 13:00,Team B,\n"
        "Plain,2026-09-14 14:00,2026-09-14 15:00,Team C,http://example.org/p\n"
        "Clash,2026-09-14 10:30,2026-09-14 11:30,Team A,https://example.org/c\n"
        "Night,2026-09-15 23:00,2026-09-15 23:30,Team D,https://example.org/n\n"
        "Saturday,2026-09-19 10:00,2026-09-19 11:00,Team E,https://example.org/s\n"
        "Fine,2026-09-14 16:00,2026-09-14 17:00,Team F,https://example.org/f\n"
    )
    found = warnings_of(rows, events_max=5)
    assert [w.split(" | ")[0] for w in found] == list(KINDS)

"""Calendar (.ics) files: Outlook exports, problems by event number."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from bot.programme import (
    load_programme,
    parse_programme,
)
from tests.harness import programme_problems as problems_of
from tests.harness import utc

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


def _calendar(*events: icalendar.Event) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//test//qiweek//EN")
    cal.add("version", "2.0")
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def _event(**props: object) -> icalendar.Event:
    event = icalendar.Event()
    for key, value in props.items():
        event.add(key.replace("_", "-"), value)
    return event


def test_ics_reads_outlook_style_events() -> None:
    long_uid = "040000008200E00074C5B7101A82E00800000000" + "A1B2C3D4" * 8
    organizer = icalendar.vCalAddress("mailto:qi.team@example.org")
    organizer.params["CN"] = "Example ICB"
    first = _event(
        summary="QI café",
        dtstart=datetime(2026, 9, 14, 12, 30, tzinfo=LONDON),
        dtend=datetime(2026, 9, 14, 13, 15, tzinfo=LONDON),
        location="https://example.org/teams/cafe",
        description="Bring lunch.",
        uid=long_uid,
    )
    first.add("organizer", organizer)
    second = _event(
        summary="Workshop",
        dtstart=datetime(2026, 9, 15, 10, 0),  # floating: the default timezone
        duration=timedelta(minutes=90),
        location="Microsoft Teams Meeting",
        url="https://example.org/workshop",
        organizer=icalendar.vCalAddress("mailto:improvement.hub@example.org"),
        uid="short-uid@example.org",
    )
    programme = parse_programme(_calendar(first, second), "export.ics", TZ)
    cafe, workshop = programme.sessions
    assert cafe.title == "QI café" and cafe.host == "Example ICB"
    assert cafe.start == utc(2026, 9, 14, 11, 30) and cafe.end == utc(2026, 9, 14, 12, 15)
    assert cafe.join_url == "https://example.org/teams/cafe"
    assert cafe.description == "Bring lunch."
    assert len(cafe.id) <= 60 and set(cafe.id) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    again = parse_programme(_calendar(first, second), "export.ics", TZ)
    assert again.sessions[0].id == cafe.id  # stable across imports
    assert workshop.start == utc(2026, 9, 15, 9) and workshop.duration_minutes == 90
    assert workshop.join_url == "https://example.org/workshop"
    assert workshop.host == "improvement.hub"
    assert workshop.id == "short-uid-example-org"


def test_ics_problems_use_event_numbers() -> None:
    good = _event(
        summary="Fine",
        dtstart=datetime(2026, 9, 14, 9, tzinfo=UTC),
        dtend=datetime(2026, 9, 14, 10, tzinfo=UTC),
        uid="a",
    )
    all_day = _event(summary="Whole day", dtstart=date(2026, 9, 15), uid="b")
    no_title = _event(
        dtstart=datetime(2026, 9, 16, 9, tzinfo=UTC),
        dtend=datetime(2026, 9, 16, 8, tzinfo=UTC),
        location="Room 4",
        uid="c",
    )
    assert problems_of(_calendar(good, all_day, no_title), "x.ics") == [
        "event 2: all-day events are not sessions: give a start time",
        "event 3: title is missing",
        "event 3: end is not after start",
    ]


def test_ics_garbage() -> None:
    problems = problems_of(b"this is not a calendar", "x.ics")
    assert problems[0].startswith("file: not a readable calendar")


def test_ics_outlook_export_with_windows_timezone() -> None:
    programme = load_programme(DATA / "outlook.ics", TZ)
    cafe, after = programme.sessions
    assert programme.event.name == "QI Week calendar"
    assert cafe.start == utc(2026, 9, 14, 11, 30)  # BST
    assert after.start == utc(2026, 10, 26, 9)  # GMT, after the clocks went back
    assert cafe.host == "Example ICB QI Team"
    assert cafe.join_url.startswith("https://teams.microsoft.com/")
    assert len(cafe.id) <= 60 and cafe.id.startswith("040000008200e00074c5b7101a82e008")
    assert cafe.description == "Join on Teams\n\nAgenda"

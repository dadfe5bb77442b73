"""Calendar (.ics) files: Outlook exports, problems by event number."""

from __future__ import annotations

import time as timer
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.programme import (
    load_programme,
    parse_programme,
)
from bot.programme.ics_format import ics_zone_name
from tests.harness import VTIMEZONE_BOMB, utc
from tests.harness import programme_problems as problems_of

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
    assert cafe.start == utc(2026, 10, 19, 11, 30)  # BST
    assert after.start == utc(2026, 10, 26, 9)  # GMT, after the clocks went back
    assert cafe.host == "Example ICB QI Team"
    assert cafe.join_url.startswith("https://teams.microsoft.com/")
    assert len(cafe.id) <= 60 and cafe.id.startswith("040000008200e00074c5b7101a82e008")
    assert cafe.description == "Join on Teams\n\nAgenda"


# ----------------------------------------------------------------------------- timezones


def _one_event(tzid: str, vtimezone: str = "") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        + vtimezone
        + "BEGIN:VEVENT\r\nUID:u\r\nSUMMARY:S\r\n"
        + f"DTSTART;TZID={tzid}:20260914T100000\r\nDTEND;TZID={tzid}:20260914T110000\r\n"
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("tzid", "expected"),
    [
        ("Europe/London", "Europe/London"),
        ('"GMT Standard Time"', "Europe/London"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("/citadel.org/20190914_1/America/New_York", "America/New_York"),
    ],
)
def test_tzids_map_to_iana_zones(tzid: str, expected: str) -> None:
    assert ics_zone_name(tzid) == expected
    session = parse_programme(_one_event(tzid), "p.ics", "UTC").sessions[0]
    assert session.start == datetime(2026, 9, 14, 10, tzinfo=ZoneInfo(expected))


@pytest.mark.parametrize("tzid", ["Europe", "right/Europe/London", "Mars Standard Time"])
def test_unknown_tzid_is_a_problem_naming_it(tzid: str) -> None:
    assert ics_zone_name(tzid) is None
    problems = problems_of(_one_event(tzid), "p.ics")
    assert problems == [
        f"line 7: unknown timezone {tzid!r} (TZID): use an IANA name such as Europe/London "
        "or a Windows name as Outlook writes it (e.g. GMT Standard Time)"
    ]


def test_a_files_own_vtimezone_is_never_expanded_nor_cached() -> None:
    started = timer.perf_counter()
    tracemalloc.start()
    try:
        problems = problems_of(VTIMEZONE_BOMB, "hostile.ics")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    elapsed = timer.perf_counter() - started
    assert problems == [
        "line 22: unknown timezone 'Hostile Minutely' (TZID): use an IANA name such as "
        "Europe/London or a Windows name as Outlook writes it (e.g. GMT Standard Time)"
    ]
    # Expanding it took 80 s and 1.4 GB; generous guards that a return of expansion would break.
    assert elapsed < 5, elapsed
    assert peak < 30 * 1024 * 1024, peak
    assert icalendar.timezone.tzp.timezone("Hostile Minutely") is None


def test_a_vtimezone_named_like_a_real_zone_does_not_change_its_rules() -> None:
    # The file claims Europe/London is UTC+5 all year: its rules are ignored, the real ones hold.
    lying = (
        "BEGIN:VTIMEZONE\r\nTZID:Europe/London\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0500\r\nTZOFFSETTO:+0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )
    session = parse_programme(_one_event("Europe/London", lying), "p.ics", "UTC").sessions[0]
    assert session.start == utc(2026, 9, 14, 9)  # BST


def test_more_than_2000_events_are_refused_before_icalendar_reads_them() -> None:
    event = "BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:A\r\nDTSTART:20260914T100000Z\r\nEND:VEVENT\r\n"
    calendar = "BEGIN:VCALENDAR\r\n" + event * 9000 + "END:VCALENDAR\r\n"
    started = timer.perf_counter()
    assert problems_of(calendar, "p.ics") == [
        "file: 9,000 sessions; at most 2,000 (is this the right file?)"
    ]
    assert timer.perf_counter() - started < 5

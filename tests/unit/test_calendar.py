"""The .ics file: parsed back with icalendar, every field where calendars look for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from bot.calendar import PRODID, ics_filename, session_uid, sessions_ics
from bot.programme import Session, load_programme, parse_programme

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 9, 1, 9, 15, 42, 123456, tzinfo=UTC)


def _session(**changes: object) -> Session:
    fields: dict[str, object] = {
        "id": "mon-qi-cafe",
        "title": "QI café: what is quality improvement, anyway?",
        "start": datetime(2026, 9, 14, 11, 30, tzinfo=UTC),
        "end": datetime(2026, 9, 14, 12, 15, tzinfo=UTC),
        "host": "Example Community NHS Trust",
        "speakers": ("Jordan Placeholder", "Avery Sample"),
        "format": "QI café",
        "join_url": "https://example.org/qiweek/mon-qi-cafe?x=1&y=2",
        "description": "Bring your lunch; ask anything.\nSecond line, with a comma.",
    }
    fields.update(changes)
    return Session(**fields)  # type: ignore[arg-type]


def _events(data: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def test_one_session_round_trips_with_every_field() -> None:
    data = sessions_ics([_session()], calendar_name="QI Week 2026", alarm_minutes=15, now=NOW)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["PRODID"]) == PRODID
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "QI Week 2026"
    (event,) = _events(data)
    assert str(event["UID"]) == "mon-qi-cafe@qiweek-bot" == session_uid("mon-qi-cafe")
    assert event.decoded("DTSTART") == datetime(2026, 9, 14, 11, 30, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 9, 14, 12, 15, tzinfo=UTC)
    assert event.decoded("DTSTAMP") == NOW.replace(microsecond=0)
    # UTC, written with Z: no VTIMEZONE needed, every calendar converts to its own zone.
    assert b"DTSTART:20260914T113000Z" in data and b"DTEND:20260914T121500Z" in data
    assert str(event["SUMMARY"]) == "QI café: what is quality improvement, anyway?"
    assert str(event["URL"]) == "https://example.org/qiweek/mon-qi-cafe?x=1&y=2"
    assert str(event["LOCATION"]) == "https://example.org/qiweek/mon-qi-cafe?x=1&y=2"
    description = str(event["DESCRIPTION"])
    assert "Host: Example Community NHS Trust" in description
    assert "Speakers: Jordan Placeholder, Avery Sample" in description
    assert "Join: https://example.org/qiweek/mon-qi-cafe?x=1&y=2" in description
    assert "Second line, with a comma." in description
    (alarm,) = list(event.walk("VALARM"))
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-15)
    assert b"TRIGGER:-PT15M" in data
    assert str(alarm["DESCRIPTION"]).startswith("QI café")
    # Lines are folded at 75 octets as RFC 5545 requires.
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))


def test_no_alarm_when_not_asked_and_no_link_fields_without_a_link() -> None:
    bare = _session(join_url="", host="", speakers=(), format="", description="")
    (event,) = _events(sessions_ics([bare], calendar_name="x", alarm_minutes=None, now=NOW))
    assert not list(event.walk("VALARM"))
    assert "URL" not in event and "LOCATION" not in event and "DESCRIPTION" not in event


def test_the_whole_sample_week_exports_one_event_per_session_with_stable_uids() -> None:
    programme = load_programme(ROOT / "data" / "programme.yaml", "Europe/London")
    first = sessions_ics(programme.sessions, calendar_name="QI", alarm_minutes=10, now=NOW)
    later = sessions_ics(
        programme.sessions, calendar_name="QI", alarm_minutes=10, now=NOW + timedelta(days=3)
    )
    events = _events(first)
    assert len(events) == len(programme.sessions)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids)
    assert uids == [str(e["UID"]) for e in _events(later)]  # re-import updates, never doubles
    by_uid = {str(e["UID"]): e for e in events}
    for session in programme.sessions:
        event = by_uid[session_uid(session.id)]
        assert event.decoded("DTSTART") == session.start
        assert event.decoded("DTEND") == session.end


def test_our_own_file_reads_back_as_a_programme_with_the_same_times() -> None:
    data = sessions_ics([_session()], calendar_name="QI", alarm_minutes=15, now=NOW)
    programme = parse_programme(data, "mine.ics", "Europe/London")
    (session,) = programme.sessions
    assert (session.title, session.start, session.end) == (
        "QI café: what is quality improvement, anyway?",
        datetime(2026, 9, 14, 11, 30, tzinfo=UTC),
        datetime(2026, 9, 14, 12, 15, tzinfo=UTC),
    )
    assert session.join_url == "https://example.org/qiweek/mon-qi-cafe?x=1&y=2"


def test_naive_now_is_refused_and_filenames_are_safe() -> None:
    with pytest.raises(ValueError):
        sessions_ics([_session()], calendar_name="x", alarm_minutes=None, now=datetime(2026, 9, 1))
    assert ics_filename("mon-qi-cafe") == "mon-qi-cafe.ics"
    assert ics_filename("my sessions/../é") == "my-sessions.ics"
    assert ics_filename("") == "qiweek.ics"

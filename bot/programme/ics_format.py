"""Programme files as a calendar export (.ics, e.g. from Outlook): one VEVENT a session.

Problems name the event's number in the file (``event 3``), counting every VEVENT.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.programme.model import (
    TEXT_LIMITS,
    Event,
    Problem,
    Programme,
    ProgrammeError,
    _hashed_slug,
    resolve_tz,
)
from bot.programme.validation import ProgrammeFormat, _build_programme, _Raw, _split


def _ics_programme(data: bytes, filename: str, default_tz: str) -> Programme:
    import icalendar

    problems: list[Problem] = []
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError, KeyError, ... on bad input
        raise ProgrammeError(
            [Problem("file", f"not a readable calendar (.ics) file: {exc}")], filename
        ) from None
    zone = resolve_tz(default_tz)
    name = str(calendar.get("X-WR-CALNAME", "")).strip()
    if len(name) > TEXT_LIMITS["event name"]:
        problems.append(
            Problem(
                "file",
                f"the calendar's name (X-WR-CALNAME) is {len(name):,} characters; at most "
                f"{TEXT_LIMITS['event name']} (keep it within what Discord shows)",
            )
        )
    event = Event(name=name or "QI Week", timezone=default_tz)
    raws: list[_Raw] = []
    number = 0
    for component in calendar.walk("VEVENT"):
        number += 1
        place = f"event {number}"
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        raw = _Raw(place=place)
        raw.values["title"] = str(component.get("SUMMARY", "")).strip()
        start = _ics_value(component, "DTSTART")
        end = _ics_value(component, "DTEND")
        if isinstance(start, date) and not isinstance(start, datetime):
            problems.append(Problem(place, "all-day events are not sessions: give a start time"))
            continue
        if component.get("RRULE") is not None:
            problems.append(
                Problem(place, "repeating events are not supported: export each session")
            )
            continue
        raw.values["start"] = start
        if end is None and isinstance(start, datetime):
            duration = _ics_value(component, "DURATION")
            if isinstance(duration, timedelta):
                # As minutes, so validation caps it before any arithmetic can overflow.
                raw.values["duration_minutes"] = duration / timedelta(minutes=1)
                raw.names["duration_minutes"] = "DURATION"
            elif duration is not None:
                raw.values["duration_minutes"] = str(component.get("DURATION"))
                raw.names["duration_minutes"] = "DURATION"
        raw.values["end"] = end
        raw.values["description"] = str(component.get("DESCRIPTION", "")).strip()
        raw.values["join_url"] = _ics_join_url(component)
        raw.values["host"] = _ics_host(component)
        uid = str(component.get("UID", "")).strip()
        recurrence = _ics_value(component, "RECURRENCE-ID")
        if uid:
            if isinstance(recurrence, datetime):
                uid = f"{uid}-{recurrence.astimezone(UTC):%Y%m%dT%H%M}"
            raw.values["id"] = _hashed_slug(uid)
        raw.values["tags"] = _ics_categories(component)
        raws.append(raw)
    return _build_programme(raws, event, zone, problems, filename)


def _ics_value(component: Any, key: str) -> Any:
    if component.get(key) is None:
        return None
    try:
        return component.decoded(key)
    except Exception:  # a malformed value: let validation say "cannot read"
        return str(component.get(key))


def _ics_join_url(component: Any) -> str:
    for key in ("URL", "X-MICROSOFT-SKYPETEAMSMEETINGURL", "LOCATION"):
        value = str(component.get(key, "") or "").strip()
        if value and (key != "LOCATION" or re.match(r"https?://", value, re.IGNORECASE)):
            return value
    return ""


def _ics_host(component: Any) -> str:
    organizer = component.get("ORGANIZER")
    if organizer is None:
        return ""
    params = getattr(organizer, "params", {}) or {}
    cn = str(params.get("CN", "")).strip().strip('"')
    if cn:
        return cn
    address = str(organizer)
    if address.lower().startswith("mailto:"):
        address = address[7:]
    return address.split("@", 1)[0]


def _ics_categories(component: Any) -> list[str]:
    value = component.get("CATEGORIES")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    tags: list[str] = []
    for item in items:
        cats = getattr(item, "cats", None)
        if cats is None:
            tags.extend(_split(str(item), ","))
        else:
            tags.extend(str(c).strip() for c in cats if str(c).strip())
    return tags


FORMAT = ProgrammeFormat(label="ICS", extensions=(".ics",), parse=_ics_programme)

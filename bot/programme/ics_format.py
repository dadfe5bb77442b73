"""Programme files as a calendar export (.ics, e.g. from Outlook): one VEVENT a session.

Problems name the event's number in the file (``event 3``), counting every VEVENT.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.programme.model import (
    SLUG_MAX,
    TEXT_LIMITS,
    Event,
    Problem,
    Programme,
    ProgrammeError,
    resolve_tz,
    slugify,
)
from bot.programme.validation import (
    MAX_SESSIONS,
    ProgrammeFormat,
    _build_programme,
    _Raw,
    _short,
    _split,
    too_many_sessions,
)
from bot.timezones import TimezoneError, check_timezone


def _hashed_slug(text: str, max_length: int = SLUG_MAX) -> str:
    """A slug that stays unique for long identifiers (Outlook UIDs): prefix plus a short hash."""
    slug = slugify(text, max_length=10_000)
    if slug and len(slug) <= max_length:
        return slug
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    prefix = slug[: max_length - 13].strip("-")
    return f"{prefix}-{digest}" if prefix else digest


#: At most this many distinct TZIDs are named in problems (the rest are counted in "N more").
_TZID_PROBLEMS = 10


def ics_zone_name(tzid: str) -> str | None:
    """The IANA zone a calendar's TZID names, or None.

    Accepted: an IANA name (``Europe/London``), a Windows name as Outlook writes it
    (``GMT Standard Time``, through icalendar's Windows-to-IANA table), or a "globally unique"
    TZID ending in an IANA name (``/citadel.org/20190914_1/Europe/London``). The file's own
    VTIMEZONE rules are never used (see :func:`_without_vtimezones`).
    """
    from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

    cleaned = tzid.strip().strip('"').strip()
    candidates = [cleaned, cleaned.strip("/")]
    if cleaned in WINDOWS_TO_OLSON:
        candidates.append(WINDOWS_TO_OLSON[cleaned])
    if cleaned.startswith("/"):
        parts = cleaned.strip("/").split("/")
        candidates.extend("/".join(parts[index:]) for index in range(1, len(parts)))
    for candidate in candidates:
        try:
            return check_timezone(candidate)
        except TimezoneError:
            continue
    return None


def _split_params(line: str) -> tuple[str, list[str], str] | None:
    """A content line as (name, parameters, value), honouring quoted parameter values."""
    quoted = False
    cuts: list[int] = []
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == ";":
            cuts.append(index)
        elif not quoted and char == ":":
            bounds = [*cuts, index]
            name = line[: bounds[0]]
            params = [line[a + 1 : b] for a, b in itertools.pairwise(bounds)]
            return name, params, line[index + 1 :]
    return None


def _without_vtimezones(data: bytes, filename: str, problems: list[Problem]) -> bytes:
    """The calendar with every VTIMEZONE removed and every TZID an IANA name.

    A file's own VTIMEZONE is never expanded: icalendar would run its RRULEs (an unbounded
    ``FREQ=MINUTELY`` rule takes minutes and gigabytes) and cache the result process-wide. A TZID
    is mapped to an IANA zone instead (:func:`ics_zone_name`); one that names no zone is a problem
    with its line, and its times are read as floating so that the rest can still be checked.
    """
    text = data.decode("utf-8", errors="replace")
    logical: list[tuple[int, str]] = []
    for number, physical in enumerate(text.splitlines(), start=1):
        if physical[:1] in (" ", "\t") and logical:
            first, sofar = logical[-1]
            logical[-1] = (first, sofar + physical[1:])
        else:
            logical.append((number, physical))
    kept: list[str] = []
    depth = 0  # inside a VTIMEZONE (its STANDARD/DAYLIGHT parts count too)
    unknown: dict[str, int] = {}
    zones: dict[str, str | None] = {}  # each TZID is looked up once per file
    events = 0
    for number, line in logical:
        upper = line.strip().upper()
        if upper == "BEGIN:VTIMEZONE" or (depth and upper.startswith("BEGIN:")):
            depth += 1
            continue
        if depth:
            if upper.startswith("END:"):
                depth -= 1
            continue
        if upper == "BEGIN:VEVENT":
            events += 1
            if events > MAX_SESSIONS:  # refused before icalendar reads thousands of events
                count = sum(1 for _, each in logical if each.strip().upper() == "BEGIN:VEVENT")
                raise ProgrammeError([too_many_sessions("file", count)], filename)
        parts = _split_params(line)
        if parts is None or not any(p.upper().startswith("TZID=") for p in parts[1]):
            kept.append(line)
            continue
        name, params, value = parts
        rewritten: list[str] = []
        for param in params:
            if not param.upper().startswith("TZID="):
                rewritten.append(param)
                continue
            tzid = param[5:]
            if tzid not in zones:
                zones[tzid] = ics_zone_name(tzid)
            found = zones[tzid]
            if found is None:
                unknown.setdefault(tzid.strip().strip('"'), number)
            else:
                rewritten.append(f"TZID={found}")
        kept.append(";".join([name, *rewritten]) + ":" + value)
    for position, (tzid, number) in enumerate(unknown.items()):
        if position == _TZID_PROBLEMS:
            problems.append(
                Problem("file", f"and {len(unknown) - position:,} more unknown timezones")
            )
            break
        shown = tzid if len(tzid) <= 60 else tzid[:59] + "…"
        problems.append(
            Problem(
                f"line {number}",
                f"unknown timezone {shown!r} (TZID): use an IANA name such as Europe/London "
                "or a Windows name as Outlook writes it (e.g. GMT Standard Time)",
            )
        )
    return "\r\n".join(kept).encode("utf-8")


def _ics_programme(data: bytes, filename: str, default_tz: str) -> Programme:
    import icalendar

    problems: list[Problem] = []
    cleaned = _without_vtimezones(data, filename, problems)
    try:
        calendar = icalendar.Calendar.from_ical(cleaned)
    except Exception as exc:  # icalendar raises ValueError, KeyError, ... on bad input
        raise ProgrammeError(
            [
                *problems,
                Problem("file", f"not a readable calendar (.ics) file: {_short(str(exc), 200)}"),
            ],
            filename,
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

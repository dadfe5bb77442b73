"""Validation: one session as read from any file (a ``_Raw``) becomes a Session or problems.

Every format reads its file into ``_Raw`` values with their places (line, row, event number) and
hands them to :func:`_build_programme`, so the rules (and their wording) are the same for all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

from bot.programme.model import (
    ACCEPTED_TIME_FORMS,
    IMPACT_COMPONENTS,
    MAX_SESSION_HOURS,
    MAX_TAGS,
    MAX_YEAR,
    MIN_YEAR,
    TEXT_LIMITS,
    Event,
    Problem,
    Programme,
    ProgrammeError,
    Session,
    derive_session_id,
    localize,
    parse_component,
    slugify,
)

#: A QI Week has tens of sessions; more than this is a wrong file (or a hostile one).
MAX_SESSIONS = 2000
#: The first session's start to the last one's end; a week, with room for a fortnight's
#: build-up, fits easily. A longer span is a wrong year or month somewhere.
MAX_SPAN_DAYS = 31


def too_many_sessions(place: str, count: int) -> Problem:
    """The problem for a file with more than MAX_SESSIONS sessions (nothing else is checked)."""
    return Problem(place, f"{count:,} sessions; at most {MAX_SESSIONS:,} (is this the right file?)")


def _components_hint() -> str:
    names = "; ".join(f"{n} {name}" for n, name in IMPACT_COMPONENTS.items())
    return f"use a number 1-5 or a component name ({names})"


@dataclass
class _Raw:
    """One session as read from a file, before validation: values and where each came from."""

    place: str
    values: dict[str, Any] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    #: What the file calls a key, when it is not the key itself (ICS: DURATION).
    names: dict[str, str] = field(default_factory=dict)
    #: Keys given with a value of the wrong shape (already a problem): not "missing" as well.
    refused: set[str] = field(default_factory=set)

    def where(self, key: str) -> str:
        return self.places.get(key, self.place)


#: What a single value in a programme may be (anything else is refused before becoming text).
_PLAIN = (str, int, float, date)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(raw: _Raw, key: str, problems: list[Problem]) -> str:
    value = raw.values.get(key)
    if _is_blank(value):
        return ""
    if isinstance(value, (list, dict, tuple)):
        problems.append(Problem(raw.where(key), f"{key} should be text, not a list"))
        return ""
    if not isinstance(value, _PLAIN):
        problems.append(Problem(raw.where(key), f"{key} should be text, not {_shown(value)}"))
        return ""
    return str(value).strip()


def _list(raw: _Raw, key: str, separators: str = ";") -> list[object]:
    value = raw.values.get(key)
    if _is_blank(value):
        return []
    if isinstance(value, (list, tuple)):
        items: list[object] = []
        for item in value:
            if isinstance(item, str):
                items.extend(_split(item, separators))
            elif isinstance(item, _PLAIN):
                items.append(item)
            elif item is not None:
                items.append(_shown(item))
        return items
    if isinstance(value, str):
        return list(_split(value, separators))
    return [value]


def _split(text: str, separators: str) -> list[str]:
    parts = re.split("[" + re.escape(separators) + "]", text)
    return [p.strip() for p in parts if p.strip()]


def _read_time(value: object, key: str) -> datetime:
    """A naive (local) or aware datetime from a string, a YAML datetime or an ICS datetime."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        raise ValueError(f"{key} {value.isoformat()} has no time of day: use {ACCEPTED_TIME_FORMS}")
    if not isinstance(value, _PLAIN):
        raise ValueError(f"{key} {_shown(value)} is not a time: use {ACCEPTED_TIME_FORMS}")
    text = str(value).strip()
    if len(text) > 100:
        raise ValueError(
            f"{key} {_shown(text)} is not a time I can read: use {ACCEPTED_TIME_FORMS}"
        )
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"{key} {text!r} has no time of day: use {ACCEPTED_TIME_FORMS}")
    if re.match(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    for form in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise ValueError(f"{key} {text!r} is not a time I can read: use {ACCEPTED_TIME_FORMS}")


def _parse_time(value: object, key: str, zone: tzinfo) -> datetime:
    """A UTC datetime from a string, a YAML datetime or an ICS datetime; ValueError says why.

    A year outside MIN_YEAR-MAX_YEAR is refused before any arithmetic (near the ends of the
    calendar converting between zones would overflow).
    """
    parsed = _read_time(value, key)
    shown = f"{parsed.date().isoformat()} {parsed:%H:%M}"
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"{key} {shown} is not in the years {MIN_YEAR}-{MAX_YEAR}: check the date")
    try:
        if parsed.tzinfo is not None and parsed.utcoffset() is not None:
            return parsed.astimezone(UTC)
        return localize(parsed, zone)
    except OverflowError:
        raise ValueError(f"{key} {shown} is out of range: check the date") from None


def link_target(url: str) -> str:
    """``url`` made safe as a markdown link target (a bracket or space would end it early).

    The renderers link with this form, so its length is what Discord's limits apply to.
    """
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and " " not in url


_BAD_VALUE = (ValueError, TypeError, OverflowError)


def _short(text: str, limit: int) -> str:
    """A value quoted in a problem, cut so one huge cell cannot flood the list."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(value: object, limit: int = 100) -> str:
    """A value as a problem quotes it: plain values as text, cut; never the text of a whole
    structure (``str()`` of a nested one can be any size)."""
    if isinstance(value, str):
        return repr(_short(value, limit))
    if isinstance(value, (int, float, date)) or value is None:
        return _short(repr(value) if isinstance(value, date) else str(value), limit)
    return f"a {type(value).__name__}"


def _check_length(
    raw: _Raw, key: str, value: str, found: list[Problem], *, label: str = ""
) -> None:
    limit = TEXT_LIMITS[label or key]
    if len(value) > limit:
        found.append(
            Problem(
                raw.where(key),
                f"{label or key} is {len(value):,} characters; at most {limit:,} "
                "(keep it within what Discord shows)",
            )
        )


def _duration(raw: _Raw, found: list[Problem]) -> int | None:
    """``duration_minutes`` as whole minutes, capped before any timedelta is built (a huge or
    infinite value is a problem, never an OverflowError)."""
    value = raw.values.get("duration_minutes")
    label = raw.names.get("duration_minutes", "duration_minutes")
    place = raw.where("duration_minutes")
    try:
        if isinstance(value, bool) or not isinstance(value, (*_PLAIN, float)):
            raise ValueError
        number = float(str(value).strip()[:100])
        if not math.isfinite(number) or number <= 0 or number != int(number):
            raise ValueError
    except _BAD_VALUE:
        found.append(Problem(place, f"{label} {_shown(value)} should be whole minutes above 0"))
        return None
    if number > MAX_SESSION_HOURS * 60:
        shown = f"{number:.0f}" if number < 1e15 else _short(str(value).strip(), 30)
        found.append(
            Problem(
                place,
                f"{label} {shown} is more than {MAX_SESSION_HOURS} hours "
                f"({MAX_SESSION_HOURS * 60} minutes): not a session (check the value)",
            )
        )
        return None
    return int(number)


def _time_field(raw: _Raw, key: str, zone: tzinfo, found: list[Problem]) -> datetime | None:
    try:
        return _parse_time(raw.values[key], key, zone)
    except ValueError as exc:
        found.append(Problem(raw.where(key), str(exc)))
    except (TypeError, OverflowError):
        shown = _shown(raw.values[key])
        found.append(
            Problem(raw.where(key), f"{key} {shown} cannot be read: use {ACCEPTED_TIME_FORMS}")
        )
    return None


def _build_session(raw: _Raw, zone: tzinfo, problems: list[Problem]) -> Session | None:
    """Validate one raw session, appending every problem; a Session only when there are none."""
    found: list[Problem] = []
    title = _text(raw, "title", found)
    if (
        not title
        and "title" not in raw.refused
        and not any(p.message.startswith("title") for p in found)
    ):
        found.append(Problem(raw.place, "title is missing"))
    _check_length(raw, "title", title, found)

    start: datetime | None = None
    if "start" in raw.refused:
        pass
    elif _is_blank(raw.values.get("start")):
        found.append(Problem(raw.place, "start is missing"))
    else:
        start = _time_field(raw, "start", zone, found)

    end: datetime | None = None
    has_end = "end" in raw.refused or not _is_blank(raw.values.get("end"))
    if has_end and "end" not in raw.refused:
        end = _time_field(raw, "end", zone, found)

    duration: int | None = None
    if "duration_minutes" in raw.refused:
        has_end = True  # its problem is said; "end is missing" would be a second one
    elif not _is_blank(raw.values.get("duration_minutes")):
        duration = _duration(raw, found)
    elif not has_end:
        found.append(Problem(raw.place, "end (or duration_minutes) is missing"))

    if start is not None and duration is not None:
        by_duration = start + timedelta(minutes=duration)
        if end is None and not has_end:
            end = by_duration
        elif end is not None and end != by_duration:
            found.append(
                Problem(
                    raw.where("duration_minutes"),
                    "end and duration_minutes disagree: give one of them",
                )
            )
    if start is not None and end is not None:
        if end <= start:
            found.append(Problem(raw.where("end"), "end is not after start"))
        elif end - start > timedelta(hours=MAX_SESSION_HOURS):
            hours = (end - start).total_seconds() / 3600
            found.append(
                Problem(
                    raw.where("end"),
                    f"session lasts {hours:,.1f} hours; more than {MAX_SESSION_HOURS} hours is "
                    "not a session (check the dates)",
                )
            )

    join_url = _text(raw, "join_url", found)
    if join_url and not _valid_url(join_url):
        shown = _short(join_url, 100)
        found.append(Problem(raw.where("join_url"), f"join_url {shown!r} is not an http(s) link"))
    elif len(link_target(join_url)) > TEXT_LIMITS["join_url"]:
        found.append(
            Problem(
                raw.where("join_url"),
                f"join_url is {len(link_target(join_url)):,} characters"
                f"{' (brackets count 3)' if '(' in join_url or ')' in join_url else ''}; at "
                f"most {TEXT_LIMITS['join_url']} (Discord's limit for a link button)",
            )
        )

    components: list[int] = []
    for item in _list(raw, "components", ";,"):
        number = parse_component(item)
        if number is None:
            found.append(
                Problem(
                    raw.where("components"),
                    f"unknown component {_shown(item, 60)}: {_components_hint()}",
                )
            )
        elif number not in components:
            components.append(number)

    host = _text(raw, "host", found)
    _check_length(raw, "host", host, found)
    fmt = _text(raw, "format", found)
    _check_length(raw, "format", fmt, found)
    description = _text(raw, "description", found)
    _check_length(raw, "description", description, found)
    speakers = tuple(str(s).strip() for s in _list(raw, "speakers") if str(s).strip())
    for speaker in speakers:
        _check_length(raw, "speakers", speaker, found, label="speaker")
    tags = tuple(str(t).strip() for t in _list(raw, "tags", ";,") if str(t).strip())
    for tag in tags:
        _check_length(raw, "tags", tag, found, label="tag")
    if len(tags) > MAX_TAGS:
        found.append(Problem(raw.where("tags"), f"{len(tags)} tags; at most {MAX_TAGS}"))

    given_id = _text(raw, "id", found)
    session_id = ""
    if given_id:
        session_id = slugify(given_id)
        if not session_id:
            shown = _short(given_id, 100)
            found.append(Problem(raw.where("id"), f"id {shown!r} has no letters or digits"))

    problems.extend(found)
    if found or start is None or end is None:
        return None
    if not session_id:
        session_id = derive_session_id(title, start, zone)
    return Session(
        id=session_id,
        title=title,
        start=start,
        end=end,
        host=host,
        speakers=speakers,
        format=fmt,
        join_url=join_url,
        description=description,
        components=tuple(sorted(components)),
        tags=tags,
    )


def _build_programme(
    raws: Iterable[_Raw], event: Event, zone: tzinfo, problems: list[Problem], filename: str
) -> Programme:
    raws = list(raws)
    if len(raws) > MAX_SESSIONS:
        raise ProgrammeError([*problems, too_many_sessions("file", len(raws))], filename)
    sessions: list[Session] = []
    first_place: dict[str, str] = {}
    for raw in raws:
        try:
            session = _build_session(raw, zone, problems)
        except _BAD_VALUE as exc:  # a value odd enough to slip past the checks: still a problem
            problems.append(Problem(raw.place, f"this session cannot be read: {exc}"))
            continue
        if session is None:
            continue
        if session.id in first_place:
            problems.append(
                Problem(
                    raw.where("id"),
                    f"duplicate id {session.id!r} (first at {first_place[session.id]})",
                )
            )
            continue
        first_place[session.id] = raw.place
        sessions.append(session)
    if not problems and not sessions:
        problems.append(Problem("file", "no sessions found: the programme needs at least one"))
    if sessions:
        first = min(sessions, key=lambda s: s.start)
        last = max(sessions, key=lambda s: s.end)
        if last.end - first.start > timedelta(days=MAX_SPAN_DAYS):
            days = (last.end - first.start) / timedelta(days=1)
            problems.append(
                Problem(
                    first_place[last.id],
                    f"the sessions span {days:,.0f} days, from {first.title!r} "
                    f"({first_place[first.id]}) to {last.title!r}; at most {MAX_SPAN_DAYS} "
                    "(check the dates: a wrong month or year?)",
                )
            )
    if problems:
        raise ProgrammeError(problems, filename)
    return Programme(event=event, sessions=tuple(sessions), places=first_place)


# --------------------------------------------------------------------------- what a format is


@dataclass(frozen=True)
class ProgrammeFormat:
    """One kind of programme file: its extensions and the function that reads its bytes.

    ``parse(data, filename, default_tz)`` returns a Programme or raises ProgrammeError; the
    registry in :mod:`bot.programme.formats` picks the format by extension.
    """

    label: str
    extensions: tuple[str, ...]
    parse: Callable[[bytes, str, str], Programme]


def decode_text(data: bytes, filename: str) -> str:
    """A text file's bytes as str (a UTF-8 byte-order mark is dropped); a clear problem else."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProgrammeError(
            [
                Problem(
                    "file",
                    f"not UTF-8 text (byte {exc.start}): save the file as UTF-8 "
                    "(in Excel: CSV UTF-8)",
                )
            ],
            filename,
        ) from None

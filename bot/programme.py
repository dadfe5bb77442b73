"""The QI Week programme: sessions, loading them from YAML, CSV or ICS, validation and day queries.

Pure code: no Discord, no database, no clock of its own (``today``/``now`` are passed in), so the
same functions serve the bot, ``python -m bot check``/``preview`` and the tests.

Times are stored in UTC and parsed in the programme's timezone with zoneinfo. A local time that
does not exist (the spring-forward gap) is a problem, because guessing would move a session by an
hour; an ambiguous one (the autumn fall-back hour) is read as its first occurrence (``fold=0``),
which is what a person writing "01:30" on that morning almost always means.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cached_property
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

__all__ = [
    "ACCEPTED_DAY_FORMS",
    "ACCEPTED_EXTENSIONS",
    "ACCEPTED_TIME_FORMS",
    "DAY_RANGE",
    "IMPACT_COMPONENTS",
    "IMPACT_SHORT_NAMES",
    "MAX_SESSION_HOURS",
    "MAX_YEAR",
    "MIN_YEAR",
    "TEXT_LIMITS",
    "DayError",
    "Event",
    "Problem",
    "Programme",
    "ProgrammeDiff",
    "ProgrammeError",
    "Session",
    "SessionIndex",
    "TzLike",
    "combine_local",
    "derive_session_id",
    "diff_programmes",
    "format_local_date",
    "link_target",
    "load_programme",
    "localize",
    "parse_component",
    "parse_day",
    "parse_programme",
    "resolve_tz",
    "search_sessions",
    "slugify",
]

DEFAULT_TIMEZONE = "Europe/London"
MAX_SESSION_HOURS = 12
#: Session times outside these years are a typo (and near the ends of Python's calendar they would
#: overflow), so they are refused with their place.
MIN_YEAR = 2000
MAX_YEAR = 2099

#: The longest text each field may hold, so that nothing stored can break a render (Discord's
#: limits, see ``bot.render.limits``, are respected by construction). A longer value is a
#: problem with its place, like any other. The choices: titles and hosts fit an embed title
#: (256) and a field; a speaker, a format, a tag and the event's name are short labels;
#: ``join_url`` is Discord's maximum for a link button's url (512), counted after the escaping
#: a markdown link needs (see :func:`link_target`); a description fits one embed description
#: (4,096) with room for "(continued)" notes; the theme and hashtag sit in every daily post.
TEXT_LIMITS: dict[str, int] = {
    "title": 200,
    "host": 200,
    "speaker": 100,
    "format": 50,
    "join_url": 512,
    "description": 4000,
    "tag": 40,
    "event name": 100,
    "event theme": 300,
    "event hashtag": 100,
    "event description": 1000,
}
#: At most this many tags per session (they share one 1,024-character embed field).
MAX_TAGS = 20
SLUG_MAX = 60
ACCEPTED_EXTENSIONS = (".yaml", ".yml", ".csv", ".ics")
ACCEPTED_TIME_FORMS = (
    "YYYY-MM-DD HH:MM (local time, e.g. 2026-09-14 12:30) "
    "or ISO 8601 with an offset (e.g. 2026-09-14T12:30+01:00)"
)
DAY_RANGE = f"give a date from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31"
ACCEPTED_DAY_FORMS = (
    "today, tomorrow, a weekday (Monday or Mon, in the event's week), "
    "or a date as YYYY-MM-DD (e.g. 2026-09-14)"
)

#: The five components of the NHS IMPACT framework, as QI Week 2024 used them.
IMPACT_COMPONENTS: dict[int, str] = {
    1: "Building a shared purpose and vision",
    2: "Investing in people and culture",
    3: "Developing leadership behaviours",
    4: "Building improvement capability and capacity",
    5: "Embedding improvement into management systems and processes",
}
#: Short labels for lists where the full names would crowd a phone screen.
IMPACT_SHORT_NAMES: dict[int, str] = {
    1: "Shared purpose and vision",
    2: "People and culture",
    3: "Leadership behaviours",
    4: "Capability and capacity",
    5: "Improvement in management systems",
}
# Words that identify one component ("building", "improvement" are shared, so decide nothing).
_COMPONENT_KEYWORDS: dict[int, frozenset[str]] = {
    1: frozenset({"shared", "purpose", "vision"}),
    2: frozenset({"investing", "people", "culture"}),
    3: frozenset({"developing", "leadership", "behaviour", "behavior"}),
    4: frozenset({"capability", "capacity"}),
    5: frozenset({"embedding", "management", "system", "process"}),
}

TzLike = tzinfo | str | None

SESSION_KEYS = (
    "id",
    "title",
    "start",
    "end",
    "duration_minutes",
    "host",
    "speakers",
    "format",
    "join_url",
    "description",
    "components",
    "tags",
)
EVENT_KEYS = ("name", "theme", "timezone", "hashtag", "description")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Session:
    """One programme session; ``start``/``end`` are timezone-aware and normalised to UTC."""

    id: str
    title: str
    start: datetime
    end: datetime
    host: str = ""
    speakers: tuple[str, ...] = ()
    format: str = ""
    join_url: str = ""
    description: str = ""
    components: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Naive datetimes here are always a bug upstream: refuse them rather than guess a zone.
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Session.{name} must be timezone-aware, got {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        object.__setattr__(self, "speakers", tuple(self.speakers))
        object.__setattr__(self, "components", tuple(self.components))
        object.__setattr__(self, "tags", tuple(self.tags))

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def duration_minutes(self) -> int:
        return int(self.duration.total_seconds() // 60)

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(IMPACT_COMPONENTS[c] for c in self.components if c in IMPACT_COMPONENTS)

    def local_start(self, tz: TzLike = None) -> datetime:
        return self.start.astimezone(resolve_tz(tz))

    def local_end(self, tz: TzLike = None) -> datetime:
        return self.end.astimezone(resolve_tz(tz))

    def local_date(self, tz: TzLike = None) -> date:
        """The day the session belongs to in ``tz`` (the day it starts)."""
        return self.local_start(tz).date()

    def has_ended(self, now: datetime) -> bool:
        return self.end <= now

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly mapping (ISO times in UTC), e.g. for storage."""
        return {
            "id": self.id,
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "host": self.host,
            "speakers": list(self.speakers),
            "format": self.format,
            "join_url": self.join_url,
            "description": self.description,
            "components": list(self.components),
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Inverse of :meth:`to_dict`; trusts its input (it came from us)."""
        return cls(
            id=data["id"],
            title=data["title"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            host=data.get("host", ""),
            speakers=tuple(data.get("speakers", ())),
            format=data.get("format", ""),
            join_url=data.get("join_url", ""),
            description=data.get("description", ""),
            components=tuple(data.get("components", ())),
            tags=tuple(data.get("tags", ())),
        )


@dataclass(frozen=True)
class Event:
    """What the week is called and where it happens in time; the file may override each field."""

    name: str = "QI Week"
    theme: str = ""
    timezone: str = DEFAULT_TIMEZONE
    hashtag: str = "#QIWeek"
    description: str = ""


@dataclass(frozen=True)
class Programme:
    """An event and its sessions, always sorted by (start, title) so every list reads in order."""

    event: Event = field(default_factory=Event)
    sessions: tuple[Session, ...] = ()

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.sessions, key=lambda s: (s.start, s.title, s.id)))
        object.__setattr__(self, "sessions", ordered)

    @cached_property
    def _by_id(self) -> dict[str, Session]:
        return {s.id: s for s in self.sessions}

    @cached_property
    def index(self) -> SessionIndex:
        """A search index built once per programme (autocomplete runs on every keystroke)."""
        return SessionIndex(self.sessions)

    def _tz(self, tz: TzLike) -> tzinfo:
        return resolve_tz(tz if tz is not None else self.event.timezone)

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def days(self, tz: TzLike = None) -> list[date]:
        """Sorted local dates that have at least one session."""
        zone = self._tz(tz)
        return sorted({s.local_date(zone) for s in self.sessions})

    def sessions_on(self, day: date, tz: TzLike = None) -> list[Session]:
        """Sessions starting on ``day`` in ``tz``, in time order."""
        zone = self._tz(tz)
        return [s for s in self.sessions if s.local_date(zone) == day]

    def next_day_with_sessions(self, after: date, tz: TzLike = None) -> date | None:
        """The first day strictly after ``after`` with sessions, or None when the event is over."""
        return next((d for d in self.days(tz) if d > after), None)

    def event_week(self, tz: TzLike = None) -> tuple[date, date] | None:
        """Monday to Friday of the week holding every session, else first to last session date.

        None when the programme is empty.
        """
        days = self.days(tz)
        if not days:
            return None
        first, last = days[0], days[-1]
        monday = first - timedelta(days=first.weekday())
        friday = monday + timedelta(days=4)
        if last <= friday:
            return monday, friday
        return first, last


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a programme file, and where (``line 12``, ``row 3``, ``event 2``)."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


class ProgrammeError(Exception):
    """A programme file was refused; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem], filename: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        self.filename = filename
        count = len(self.problems)
        head = f"{filename}: " if filename else ""
        head += f"{count} problem{'s' if count != 1 else ''} in the programme"
        super().__init__("\n".join([head, *(f"- {p}" for p in self.problems)]))


class DayError(ValueError):
    """A ``day`` option that could not be read; the message says what is accepted."""


# --------------------------------------------------------------------------- helpers


def resolve_tz(tz: TzLike, default: str = DEFAULT_TIMEZONE) -> tzinfo:
    """A tzinfo from a ZoneInfo, an IANA name, or None (the default zone)."""
    if tz is None or tz == "":
        return ZoneInfo(default)
    if isinstance(tz, tzinfo):
        return tz
    return ZoneInfo(tz)


def _valid_timezone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class _GapError(ValueError):
    pass


def localize(naive: datetime, tz: TzLike) -> datetime:
    """Attach ``tz`` to a wall-clock time, DST-correct, returning UTC.

    A time in the spring-forward gap raises ValueError (it never happens on the clock); an
    ambiguous autumn time is taken as its first occurrence (fold=0).
    """
    zone = resolve_tz(tz)
    aware = naive.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive.replace(tzinfo=None, fold=0):
        raise _GapError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks go forward then)"
        )
    return aware.astimezone(UTC)


def format_local_date(day: date, *, year: bool = False) -> str:
    """'Monday 14 September' (with the year when asked): dates read as people say them."""
    text = f"{day:%A} {day.day} {day:%B}"
    return f"{text} {day.year}" if year else text


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """Lowercase ``[a-z0-9-]`` slug, accents folded, cut at a hyphen to at most ``max_length``."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut:
            cut = cut[: cut.rfind("-")]
        slug = cut.strip("-")
    return slug


def _hashed_slug(text: str, max_length: int = SLUG_MAX) -> str:
    """A slug that stays unique for long identifiers (Outlook UIDs): prefix plus a short hash."""
    slug = slugify(text, max_length=10_000)
    if slug and len(slug) <= max_length:
        return slug
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    prefix = slug[: max_length - 13].strip("-")
    return f"{prefix}-{digest}" if prefix else digest


def derive_session_id(title: str, start: datetime, tz: TzLike) -> str:
    """Stable id for a session without one: local start, then title (2026-09-14-1230-qi-cafe)."""
    local = start.astimezone(resolve_tz(tz))
    return slugify(f"{local:%Y-%m-%d-%H%M}-{title}")


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, so 'cafe' finds 'QI café'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _component_words(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", _fold(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def parse_component(value: object) -> int | None:
    """An IMPACT component number from 1-5, '3', 'Component 3' or a (roughly worded) name."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in IMPACT_COMPONENTS else None
    text = str(value).strip()
    match = re.fullmatch(r"(?:component\s*)?([0-9]+)\.?", text, flags=re.IGNORECASE)
    if match:
        number = int(match.group(1))
        return number if number in IMPACT_COMPONENTS else None
    words = _component_words(text)
    if not words:
        return None
    hits = [n for n, keys in _COMPONENT_KEYWORDS.items() if words & keys]
    return hits[0] if len(hits) == 1 else None


def _components_hint() -> str:
    names = "; ".join(f"{n} {name}" for n, name in IMPACT_COMPONENTS.items())
    return f"use a number 1-5 or a component name ({names})"


# --------------------------------------------------------------------------- building sessions


@dataclass
class _Raw:
    """One session as read from a file, before validation: values and where each came from."""

    place: str
    values: dict[str, Any] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)
    #: What the file calls a key, when it is not the key itself (ICS: DURATION).
    names: dict[str, str] = field(default_factory=dict)

    def where(self, key: str) -> str:
        return self.places.get(key, self.place)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(raw: _Raw, key: str, problems: list[Problem]) -> str:
    value = raw.values.get(key)
    if _is_blank(value):
        return ""
    if isinstance(value, (list, dict, tuple)):
        problems.append(Problem(raw.where(key), f"{key} should be text, not a list"))
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
            elif item is not None:
                items.append(item)
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
    text = str(value).strip()
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
        if isinstance(value, bool):
            raise ValueError
        number = float(str(value).strip())
        if not math.isfinite(number) or number <= 0 or number != int(number):
            raise ValueError
    except _BAD_VALUE:
        found.append(Problem(place, f"{label} {value!r} should be whole minutes above 0"))
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
        shown = str(raw.values[key])[:100]
        found.append(
            Problem(raw.where(key), f"{key} {shown!r} cannot be read: use {ACCEPTED_TIME_FORMS}")
        )
    return None


def _build_session(raw: _Raw, zone: tzinfo, problems: list[Problem]) -> Session | None:
    """Validate one raw session, appending every problem; a Session only when there are none."""
    found: list[Problem] = []
    title = _text(raw, "title", found)
    if not title and not any(p.message.startswith("title") for p in found):
        found.append(Problem(raw.place, "title is missing"))
    _check_length(raw, "title", title, found)

    start: datetime | None = None
    if _is_blank(raw.values.get("start")):
        found.append(Problem(raw.place, "start is missing"))
    else:
        start = _time_field(raw, "start", zone, found)

    end: datetime | None = None
    has_end = not _is_blank(raw.values.get("end"))
    if has_end:
        end = _time_field(raw, "end", zone, found)

    duration: int | None = None
    if not _is_blank(raw.values.get("duration_minutes")):
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
                    raw.where("components"), f"unknown component {item!r}: {_components_hint()}"
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
    if problems:
        raise ProgrammeError(problems, filename)
    return Programme(event=event, sessions=tuple(sessions))


# --------------------------------------------------------------------------- YAML


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _yaml_programme(text: str, filename: str, default_tz: str) -> Programme:
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            place = f"line {mark.line + 1}" if mark else "file"
            raise ProgrammeError(
                [Problem(place, f"malformed YAML: {exc.problem or exc.context}")], filename
            ) from None
        except yaml.YAMLError as exc:
            raise ProgrammeError([Problem("file", f"malformed YAML: {exc}")], filename) from None

        def construct(node: yaml.Node, what: str) -> Any:
            try:
                return loader.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
                problems.append(Problem(_line(node), f"{what} cannot be read: {exc}"))
                return None

        event_node: yaml.Node | None = None
        sessions_node: yaml.Node | None = None
        if root is None:
            pass
        elif isinstance(root, yaml.SequenceNode):
            sessions_node = root
        elif isinstance(root, yaml.MappingNode):
            for key_node, value_node in root.value:
                key = str(key_node.value).strip().lower()
                if key == "event":
                    event_node = value_node
                elif key == "sessions":
                    sessions_node = value_node
                else:
                    problems.append(
                        Problem(
                            _line(key_node),
                            f"unknown top-level key {key_node.value!r}: use event and sessions",
                        )
                    )
        else:
            problems.append(Problem(_line(root), "expected a mapping with event: and sessions:"))

        event, zone = _yaml_event(event_node, default_tz, construct, problems)

        raws: list[_Raw] = []
        if isinstance(sessions_node, yaml.SequenceNode):
            for item in sessions_node.value:
                if not isinstance(item, yaml.MappingNode):
                    problems.append(Problem(_line(item), "each session should be a mapping"))
                    continue
                raw = _Raw(place=_line(item))
                for key_node, value_node in item.value:
                    key = str(key_node.value).strip().lower()
                    if key not in SESSION_KEYS:
                        problems.append(
                            Problem(
                                _line(key_node),
                                f"unknown key {key_node.value!r} (accepted: "
                                f"{', '.join(SESSION_KEYS)})",
                            )
                        )
                        continue
                    if key in raw.places:
                        problems.append(
                            Problem(
                                _line(key_node),
                                f"{key} is given twice (first at {raw.places[key]})",
                            )
                        )
                        continue
                    raw.values[key] = construct(value_node, key)
                    raw.places[key] = _line(value_node)
                raws.append(raw)
        elif sessions_node is not None and not (
            isinstance(sessions_node, yaml.ScalarNode) and sessions_node.value in ("", "~", "null")
        ):
            problems.append(Problem(_line(sessions_node), "sessions should be a list"))
    finally:
        loader.dispose()
    return _build_programme(raws, event, zone, problems, filename)


def _yaml_event(
    node: yaml.Node | None, default_tz: str, construct: Any, problems: list[Problem]
) -> tuple[Event, tzinfo]:
    zone = resolve_tz(default_tz)
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
        return Event(timezone=default_tz), zone
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(_line(node), "event should be a mapping"))
        return Event(timezone=default_tz), zone
    values: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value).strip().lower()
        if key not in EVENT_KEYS:
            problems.append(
                Problem(
                    _line(key_node),
                    f"unknown event key {key_node.value!r} (accepted: {', '.join(EVENT_KEYS)})",
                )
            )
            continue
        value = construct(value_node, f"event {key}")
        text = "" if value is None else str(value).strip()
        limit = TEXT_LIMITS.get(f"event {key}")
        if limit is not None and len(text) > limit:
            problems.append(
                Problem(
                    _line(value_node),
                    f"event {key} is {len(text):,} characters; at most {limit:,} "
                    "(keep it within what Discord shows)",
                )
            )
            continue
        if key == "timezone" and text:
            found = _valid_timezone(text)
            if found is None:
                problems.append(
                    Problem(
                        _line(value_node),
                        f"unknown timezone {text!r}: use an IANA name such as Europe/London",
                    )
                )
                continue
            zone = found
        values[key] = text
    hashtag = values.get("hashtag", "").strip()
    if hashtag and not hashtag.startswith("#"):
        hashtag = "#" + hashtag
    event = Event(
        name=values.get("name") or "QI Week",
        theme=values.get("theme", ""),
        timezone=values.get("timezone") or default_tz,
        hashtag=hashtag or "#QIWeek",
        description=values.get("description", ""),
    )
    return event, zone


# --------------------------------------------------------------------------- CSV

_CSV_ALIASES = {
    "join_link": "join_url",
    "joining_link": "join_url",
    "url": "join_url",
    "link": "join_url",
    "speaker": "speakers",
    "component": "components",
    "impact_components": "components",
    "duration": "duration_minutes",
    "duration_mins": "duration_minutes",
}


def _csv_programme(text: str, filename: str, default_tz: str) -> Programme:
    problems: list[Problem] = []
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = "\t" if "\t" in first_line else (";" if ";" in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ProgrammeError(
            [Problem(f"row {reader.line_num}", f"malformed CSV: {exc}")], filename
        ) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ProgrammeError(
            [Problem("row 1", "no header row: name the columns title, start, end, ...")],
            filename,
        )
    columns: dict[str, int] = {}
    for index, name in enumerate(rows[0]):
        key = re.sub(r"[\s\-]+", "_", name.strip().lower())
        key = _CSV_ALIASES.get(key, key)
        if key in SESSION_KEYS and key not in columns:
            columns[key] = index
    missing = [c for c in ("title", "start") if c not in columns]
    if "end" not in columns and "duration_minutes" not in columns:
        missing.append("end or duration_minutes")
    if missing:
        raise ProgrammeError(
            [
                Problem(
                    "row 1",
                    f"missing column(s): {', '.join(missing)}; the header needs title, start, "
                    "and end or duration_minutes",
                )
            ],
            filename,
        )
    raws: list[_Raw] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        raw = _Raw(place=f"row {number}")
        for key, index in columns.items():
            if index < len(row):
                raw.values[key] = row[index]
        raws.append(raw)
    zone = resolve_tz(default_tz)
    return _build_programme(raws, Event(timezone=default_tz), zone, problems, filename)


# --------------------------------------------------------------------------- ICS


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


# --------------------------------------------------------------------------- entry points


def parse_programme(data: bytes, filename: str, default_tz: str) -> Programme:
    """Read a programme file's bytes (format by extension); ProgrammeError lists every problem."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in ACCEPTED_EXTENSIONS:
        raise ProgrammeError(
            [
                Problem(
                    "file",
                    f"cannot read {suffix or 'a file without an extension'}: "
                    "use a .yaml/.yml, .csv or .ics file",
                )
            ],
            filename,
        )
    if _valid_timezone(default_tz) is None:
        raise ProgrammeError(
            [Problem("file", f"unknown default timezone {default_tz!r}")], filename
        )
    if suffix == ".ics":
        return _ics_programme(data, filename, default_tz)
    try:
        text = data.decode("utf-8-sig")
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
    if suffix == ".csv":
        return _csv_programme(text, filename, default_tz)
    return _yaml_programme(text, filename, default_tz)


def load_programme(path: str | Path, default_tz: str) -> Programme:
    """Read and parse a programme file from disk."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProgrammeError(
            [Problem("file", f"cannot read {path}: {exc.strerror or exc}")], str(path)
        ) from None
    return parse_programme(data, str(path), default_tz)


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class ProgrammeDiff:
    """What an import would change, matched by session id."""

    added: tuple[Session, ...] = ()
    changed: tuple[tuple[Session, Session], ...] = ()
    removed: tuple[Session, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def moved(self) -> tuple[tuple[Session, Session], ...]:
        """Changed sessions whose time changed (reminders must be re-planned for these)."""
        return tuple(
            (old, new) for old, new in self.changed if old.start != new.start or old.end != new.end
        )

    def summary(self, tz: TzLike = None) -> str:
        """Human lines; times as Discord timestamps, or local clock text when ``tz`` is given."""
        if self.is_empty:
            return "No changes: the programme is the same."

        def when(moment: datetime) -> str:
            if tz is None:
                return f"<t:{int(moment.timestamp())}:f>"
            local = moment.astimezone(resolve_tz(tz))
            return f"{local:%a} {local.day} {local:%b %H:%M}"

        lines = [
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"
        ]
        if self.added:
            lines.append("Added:")
            lines.extend(f"+ {s.title} ({when(s.start)})" for s in self.added)
        if self.changed:
            lines.append("Changed:")
            for old, new in self.changed:
                what = _changed_fields(old, new)
                line = f"~ {new.title}"
                if old.start != new.start or old.end != new.end:
                    line += f": moved from {when(old.start)} to {when(new.start)}"
                    what = [w for w in what if w not in ("start", "end")]
                if what:
                    line += ("; " if ":" in line else ": ") + ", ".join(what) + " changed"
                lines.append(line)
        if self.removed:
            lines.append("Removed:")
            lines.extend(f"- {s.title} ({when(s.start)})" for s in self.removed)
        return "\n".join(lines)


def _changed_fields(old: Session, new: Session) -> list[str]:
    names = [n for n in SESSION_KEYS if n not in ("id", "duration_minutes")]
    return [n for n in names if getattr(old, n) != getattr(new, n)]


def diff_programmes(old: Sequence[Session], new: Sequence[Session]) -> ProgrammeDiff:
    """Added, changed and removed sessions between two programmes, each in time order."""
    old_by_id = {s.id: s for s in old}
    new_by_id = {s.id: s for s in new}

    def ordered(items: Iterable[Session]) -> tuple[Session, ...]:
        return tuple(sorted(items, key=lambda s: (s.start, s.title, s.id)))

    added = ordered(s for i, s in new_by_id.items() if i not in old_by_id)
    removed = ordered(s for i, s in old_by_id.items() if i not in new_by_id)
    changed = tuple(
        sorted(
            (
                (old_by_id[i], s)
                for i, s in new_by_id.items()
                if i in old_by_id and old_by_id[i] != s
            ),
            key=lambda pair: (pair[1].start, pair[1].title, pair[1].id),
        )
    )
    return ProgrammeDiff(added=added, changed=changed, removed=removed)


# --------------------------------------------------------------------------- days

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ISO_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def weekday_named(value: str) -> int | None:
    """The weekday (Monday 0) that lower-case ``value`` names: in full, or by 3+ first letters."""
    if len(value) >= 3:
        for index, name in enumerate(_WEEKDAYS):
            if name.startswith(value):
                return index
    return None


def iso_day(value: str, *, text: str | None, accepted: str) -> date | None:
    """``value`` as a ``YYYY-MM-DD`` date within the supported years; None when it is not in
    that shape, DayError (naming ``accepted``) when it is but is no usable date."""
    if not _ISO_DAY.fullmatch(value):
        return None
    try:
        year, month, day = (int(p) for p in value.split("-"))
        found = date(year, month, day)
    except ValueError:
        raise DayError(f"{text!r} is not a real date. Use {accepted}.") from None
    # The ends of the calendar would overflow a day's bounds (and no event is there).
    if not MIN_YEAR <= found.year <= MAX_YEAR:
        raise DayError(f"{text!r} is too far away: {DAY_RANGE}.")
    return found


def parse_day(text: str | None, *, today: date, programme: Programme, tz: TzLike = None) -> date:
    """The date a member means by ``/programme day``; DayError lists the accepted forms."""
    value = (text or "").strip().lower()
    if value in ("", "today"):
        return today
    if value == "tomorrow":
        return today + timedelta(days=1)
    weekday = weekday_named(value)
    if weekday is not None:
        return _weekday_in_event(weekday, today, programme, tz)
    found = iso_day(value, text=text, accepted=ACCEPTED_DAY_FORMS)
    if found is not None:
        return found
    raise DayError(f"I can't read {text!r} as a day. Use {ACCEPTED_DAY_FORMS}.")


def _weekday_in_event(weekday: int, today: date, programme: Programme, tz: TzLike) -> date:
    week = programme.event_week(tz)
    if week is None:
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=weekday)
    first, last = week
    candidate = first + timedelta(days=(weekday - first.weekday()) % 7)
    if candidate <= last:
        return candidate
    monday = first - timedelta(days=first.weekday())
    return monday + timedelta(days=weekday)


# --------------------------------------------------------------------------- search


class SessionIndex:
    """Lower-cased, accent-folded search text per session, built once so each keystroke is cheap."""

    __slots__ = ("_entries",)

    def __init__(self, sessions: Sequence[Session]) -> None:
        entries = []
        for session in sorted(sessions, key=lambda s: (s.start, s.title, s.id)):
            fields = (_fold(session.title), _fold(session.host), *map(_fold, session.speakers))
            entries.append((session, fields, "\n".join(fields)))
        self._entries: list[tuple[Session, tuple[str, ...], str]] = entries

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, query: str, limit: int = 25, *, now: datetime | None = None) -> list[Session]:
        """Best matches first: title starts with it, a word starts with it, then anywhere.

        An empty query lists sessions not yet ended first (when ``now`` is given), in time order.
        """
        if limit <= 0:
            return []
        needle = _fold(query.strip())
        if not needle:
            sessions = [entry[0] for entry in self._entries]
            if now is not None:
                sessions.sort(key=lambda s: s.has_ended(now))
            return sessions[:limit]
        ranked: list[tuple[int, int, Session]] = []
        for position, (session, fields, haystack) in enumerate(self._entries):
            if needle not in haystack:
                continue
            ranked.append((_rank(needle, fields), position, session))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [session for _, _, session in ranked[:limit]]


def _rank(needle: str, fields: tuple[str, ...]) -> int:
    if fields[0].startswith(needle):
        return 0
    found = False
    for text in fields:
        at = text.find(needle)
        while at != -1:
            found = True
            if at == 0 or not text[at - 1].isalnum():
                return 1
            at = text.find(needle, at + 1)
    return 2 if found else 3


def search_sessions(
    sessions: Sequence[Session], query: str, limit: int = 25, *, now: datetime | None = None
) -> list[Session]:
    """Sessions matching ``query`` in title, host or speakers; see :class:`SessionIndex`."""
    return SessionIndex(sessions).search(query, limit, now=now)


def combine_local(day: date, at: time, tz: TzLike) -> datetime:
    """UTC instant of a local wall-clock time on ``day`` (a time in the DST gap moves forward)."""
    zone = resolve_tz(tz)
    naive = datetime.combine(day, at)
    try:
        return localize(naive, zone)
    except ValueError:
        # fold=0 reads a gap time with the pre-transition offset: 01:30 becomes 02:30 BST.
        return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
